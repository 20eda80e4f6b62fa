"""Ctrl-C during ``fit``: stop at once, keep what was trained, tell the caller.

skorch ends training when a callback raises ``KeyboardInterrupt`` (its
``EarlyStopping`` does) and so swallows a real Ctrl-C: ``fit`` returned
normally with a partly trained model. skdl's early stopping raises
:class:`StopTraining` instead, and skdl's net lets a real
``KeyboardInterrupt`` through as :class:`FitInterrupted` once the callbacks'
``on_train_end`` has run (which restores the best epoch). The estimator then
keeps the model trained so far, warns which epoch it stopped in and which it
kept, and re-raises, so that a script, ``cross_val_score`` or a search stops
as a whole.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from sklearn.base import BaseEstimator
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping

__all__ = [
    "FitInterrupted",
    "InterruptibleNetMixin",
    "StopTraining",
    "keep_interrupted",
]


#: Whether skorch's ``fit_loop`` takes the ``_routing_method`` of its caller.
_ROUTES = "_routing_method" in inspect.signature(NeuralNet.fit_loop).parameters


class StopTraining(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a callback to end training after the current epoch.

    Not a ``KeyboardInterrupt``, so that a user's Ctrl-C is never mistaken
    for it.
    """


class FitInterrupted(KeyboardInterrupt):
    """The ``KeyboardInterrupt`` of a fit, carrying the interrupted net.

    It is a ``KeyboardInterrupt``, so ``except KeyboardInterrupt`` catches it
    and nothing that handles ``Exception`` (such as scikit-learn's
    ``error_score``) does.

    Parameters
    ----------
    net : SkdlNet or None
        The net being trained, its callbacks' ``on_train_end`` already run.
    """

    def __init__(self, net: NeuralNet | None) -> None:
        super().__init__()
        self.net = net


class InterruptibleNetMixin:
    """skorch net methods that tell early stopping from a real Ctrl-C."""

    def partial_fit(
        self, X: Any, y: Any = None, classes: Any = None, **fit_params: Any
    ) -> NeuralNet:
        """Fit as skorch does; end at :class:`StopTraining`, re-raise Ctrl-C.

        skorch's own version catches every ``KeyboardInterrupt``. Here a
        real one still runs ``on_train_end`` (restoring the best epoch, closing
        progress bars) and then reaches the caller as :class:`FitInterrupted`.
        """
        if not self.initialized_:
            self.initialize()
        if _ROUTES:  # skorch >= 1.4 names the entry point for metadata routing
            fit_params.setdefault("_routing_method", "partial_fit")
        self.notify("on_train_begin", X=X, y=y)
        try:
            self.fit_loop(X, y, **fit_params)
        except StopTraining:
            pass
        except KeyboardInterrupt as exc:
            # The interrupt is what the caller must see: a callback failing
            # while it cleans up must not replace it.
            with contextlib.suppress(Exception):
                self.notify("on_train_end", X=X, y=y)
            raise FitInterrupted(self).with_traceback(exc.__traceback__) from None
        self.notify("on_train_end", X=X, y=y)
        return self

    def notify(self, method_name: str, **cb_kwargs: Any) -> None:
        """Call the callbacks; a skorch ``EarlyStopping`` stop is a stop.

        skorch's ``EarlyStopping`` (given in ``callbacks``) ends training by
        raising ``KeyboardInterrupt`` when it has run out of patience; that
        one, and only that one, becomes :class:`StopTraining`.
        """
        try:
            super().notify(method_name, **cb_kwargs)
        except KeyboardInterrupt:
            if method_name == "on_epoch_end" and any(
                isinstance(cb, EarlyStopping)
                and getattr(cb, "misses_", 0) >= cb.patience
                for _, cb in getattr(self, "callbacks_", ())
            ):
                raise StopTraining from None
            raise

    def run_single_epoch(
        self,
        iterator: Iterable,
        training: bool,
        prefix: str,
        step_fn: Callable,
        **fit_params: Any,
    ) -> None:
        """One pass, closing its batch generator however the pass ends.

        Left to garbage collection, an interrupted pass over image files
        would keep its decoding worker processes running for as long as the
        traceback lives; closing it stops them at once.
        """
        if iterator is None:
            return
        batches = iter(iterator)
        close = getattr(batches, "close", None)
        try:
            super().run_single_epoch(batches, training, prefix, step_fn, **fit_params)
        finally:
            if close is not None:
                close()


def _complete(net: NeuralNet) -> bool:
    """Drop the history row of the epoch cut short; whether any epoch is left."""
    if len(net.history) and "dur" not in net.history[-1]:
        net.history.pop()
    return len(net.history) > 0


def _restore_best(net: NeuralNet) -> None:
    """Load the best epoch's weights, whatever ``on_train_end`` did after it.

    Interrupted during training, the weight average would otherwise put its
    running average over the weights early stopping restored.
    """
    stopper = dict(net.callbacks_).get("early_stopping")
    best = getattr(stopper, "best_model_weights_", None)
    if best is not None:
        net.plain_module().load_state_dict(best)


def close_datasets(*datasets: object) -> None:
    """Stop the worker processes of datasets that have any."""
    for dataset in datasets:
        close = getattr(dataset, "close", None)
        if close is not None:
            close()


def keep_interrupted(estimator: BaseEstimator, members: list, has_valid: bool) -> str:
    """Make ``estimator`` fitted on what an interrupted fit trained, and warn.

    Parameters
    ----------
    estimator : BaseDLEstimator
        The estimator whose fit was interrupted.
    members : list of (net, valid_dataset)
        The nets trained so far, the interrupted one last.
    has_valid : bool
        Whether the nets validated (and so restored their best epoch).

    Returns
    -------
    message : str
        What the warning said.
    """
    kept = [
        (m, ds) for m, ds in members if _complete(m) and not hasattr(m, "accelerator")
    ]
    net = members[-1][0]
    n_members = estimator.n_ensemble_
    n = len(net.history)
    where = f"{type(estimator).__name__}.fit was interrupted after {n} of "
    where += f"{net.max_epochs} epochs"
    if n_members > 1:
        where += f" of ensemble member {len(members)} of {n_members}"
    if not kept:
        for name in list(vars(estimator)):
            if name.endswith("_") and not name.startswith("_"):
                delattr(estimator, name)
        message = f"{where}: the estimator is not fitted."
        warnings.warn(message, UserWarning, stacklevel=5)
        return message
    for member, _ in kept:
        _restore_best(member)
    estimator._calibrate(kept)
    estimator.nets_ = [member for member, _ in kept]
    estimator.net_ = estimator.nets_[0]
    estimator.n_ensemble_ = len(kept)
    estimator._record_history(estimator.net_, has_valid=has_valid)
    if kept[-1][0] is not net:
        what = "the members trained before it"
    elif has_valid:
        best = dict(net.callbacks_)["early_stopping"].best_epoch_
        what = f"the model of epoch {best} (lowest validation loss)"
    else:
        what = f"its weights at the interrupt (after epoch {n}, into epoch {n + 1})"
    message = f"{where}; the estimator keeps {what}."
    if n_members > 1:
        message += f" Its ensemble has {len(kept)} of {n_members} members."
    warnings.warn(message, UserWarning, stacklevel=5)
    return message
