"""skdl's own skorch callbacks, used by :func:`skdl._training.net.build_net`.

Kept apart from the net so that each stays short: early stopping with the
lowest-loss restore (it ends training with :class:`StopTraining`, never a
``KeyboardInterrupt``), the learning-rate record, the validation scoring,
the ``verbose`` progress table, and the checks and copies of the user's
``callbacks`` parameter.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from collections.abc import Callable
from copy import deepcopy
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from skorch.callbacks import Callback, EarlyStopping, PrintLog

from .interrupt import StopTraining

if TYPE_CHECKING:
    from skorch import NeuralNet

__all__ = [
    "LowestLossEarlyStopping",
    "ProgressLog",
    "RecordLR",
    "use_colour",
    "user_callbacks",
]


class LowestLossEarlyStopping(EarlyStopping):
    """Early stopping that restores the epoch with the lowest monitored loss.

    skorch's ``EarlyStopping`` restores the last epoch that improved by at
    least ``threshold``, so with ``tol > 0`` the kept weights were not the
    lowest validation loss that ``best_epoch_`` reports. Here, as in
    scikit-learn's MLP, ``threshold`` only decides when to stop.
    """

    def on_train_begin(self, net: NeuralNet, **kwargs: Any) -> None:
        super().on_train_begin(net, **kwargs)
        self.lowest_ = np.inf

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        current = net.history[-1, self.monitor]
        if current < self.lowest_:
            self.lowest_ = current
            self.best_epoch_ = net.history[-1, "epoch"]
            self.best_model_weights_ = deepcopy(net.plain_module().state_dict())
        if self._is_score_improved(current):
            self.misses_ = 0
            self.dynamic_threshold_ = self._calc_new_threshold(current)
        else:
            self.misses_ += 1
        if self.misses_ == self.patience:
            if net.verbose:
                self._sink(
                    f"Stopping since {self.monitor} has not improved in the last "
                    f"{self.patience} epochs.",
                    verbose=net.verbose,
                )
            raise StopTraining

    def on_train_end(self, net: NeuralNet, **kwargs: Any) -> None:
        # Into the plain module: a distributed wrapper may already be gone.
        last = net.history[-1, "epoch"]
        restore = self.load_best and self.best_model_weights_ is not None
        if restore and self.best_epoch_ != last:
            net.plain_module().load_state_dict(self.best_model_weights_)
            self._sink(
                f"Restoring best model from epoch {self.best_epoch_}.",
                verbose=net.verbose,
            )


class RecordLR(Callback):
    """Record the base learning rate of each epoch in the history as ``lr``."""

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        net.history.record("lr", float(net.optimizer_.param_groups[0]["lr"]))


def use_colour(stream: object = None) -> bool:
    """Whether to colour output: on a terminal, unless ``NO_COLOR`` is set.

    Parameters
    ----------
    stream : file-like or None, default=None
        Where the output goes; None means ``sys.stdout``.

    Returns
    -------
    colour : bool
        False for files, pipes and notebooks' captured output, and whenever
        the ``NO_COLOR`` environment variable is set and not empty
        (https://no-color.org).
    """
    if os.environ.get("NO_COLOR"):
        return False
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except (ValueError, OSError):  # a closed or detached stream
        return False


def _clock(seconds: float) -> str:
    return str(datetime.timedelta(seconds=round(seconds)))


class ProgressLog(PrintLog):
    """skorch's per-epoch table, with the fit's progress and honest colours.

    Each row shows the epoch as ``k/max_epochs``, and before the epoch's
    duration the time since the fit started (``elapsed``) and an estimate of
    the time left (``left``): the mean epoch time so far times the epochs
    still to go. When early stopping may end the fit sooner the estimate is
    an upper bound and reads ``<=h:mm:ss``. The best values are coloured
    only when the output is a terminal and ``NO_COLOR`` is not set (see
    :func:`use_colour`), so log files hold no escape codes.

    Parameters
    ----------
    max_epochs : int
        The most epochs the fit will run.
    may_stop_early : bool, default=False
        Whether early stopping may end the fit before ``max_epochs``.
    sink : callable, default=print
        Receives each line of the table.
    """

    def __init__(
        self,
        max_epochs: int,
        may_stop_early: bool = False,
        sink: Callable[[str], object] = print,
    ) -> None:
        super().__init__(sink=sink)
        self.max_epochs = max_epochs
        self.may_stop_early = may_stop_early

    def on_train_begin(self, net: NeuralNet, **kwargs: Any) -> None:
        self.start_ = time.monotonic()
        # Counted from this call, should a net continue an earlier fit.
        self.first_epoch_ = len(net.history)
        self.colour_ = use_colour() if self.sink is print else False

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        row = dict(net.history[-1])
        k = len(net.history) - self.first_epoch_
        if not self.colour_:
            # PrintLog colours a value whose "<key>_best" flag is set.
            row = {key: v for key, v in row.items() if not key.endswith("_best")}
        elapsed = time.monotonic() - self.start_
        left = elapsed / k * max(self.max_epochs - k, 0)
        width = len(str(self.max_epochs))
        row["epoch"] = f"{k:>{width}}/{self.max_epochs}"
        # "event_" columns go just before "dur", their prefix dropped.
        row["event_elapsed"] = _clock(elapsed)
        row["event_left"] = ("<=" if self.may_stop_early else "") + _clock(left)
        tabulated = self.table(row)
        if self.first_iteration_:
            header, lines = tabulated.split("\n", 2)[:2]
            self._sink(header, net.verbose)
            self._sink(lines, net.verbose)
            self.first_iteration_ = False
        self._sink(tabulated.rsplit("\n", 1)[-1], net.verbose)
        if self.sink is print:
            sys.stdout.flush()


def _silent(*args: Any, **kwargs: Any) -> None:
    return None


class _Scoring:
    """``EpochScoring`` callable from a ``score(outputs, y_true)`` function.

    EpochScoring caches the validation forward pass, so ``net.forward`` here
    returns the cached outputs instead of running the module again. A class
    (not a closure) so that fitted nets pickle.
    """

    def __init__(self, score: Callable) -> None:
        self.score = score

    def __call__(self, net: NeuralNet, X: Any, y: Any) -> float:
        return self.score(net.forward(X), torch.as_tensor(y))


#: Names of the callbacks skdl and skorch add themselves.
RESERVED_NAMES = frozenset(
    {
        "epoch_timer",
        "train_loss",
        "valid_loss",
        "record_lr",
        "share_threads",
        "train_score",
        "valid_score",
        "early_stopping",
        "weight_ema",
        "lr_scheduler",
        "unfreeze",
        "progress_bar",
        "print_log",
    }
)


def user_callbacks(callbacks: list | None) -> list:
    """The ``callbacks`` parameter checked, as fresh copies for one fit.

    Parameters
    ----------
    callbacks : list or None
        skorch callbacks, or ``(name, callback)`` pairs.

    Returns
    -------
    callbacks : list
        Deep copies, in order: unnamed ones as they are (skorch names them
        after their class), named ones as ``(name, callback)`` pairs.
    """
    if callbacks is None:
        return []
    copies, names = [], set()
    for i, item in enumerate(callbacks):
        name, callback = None, item
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            name, callback = item
        if isinstance(callback, type) and issubclass(callback, Callback):
            raise TypeError(
                f"callbacks[{i}] is the class {callback.__name__}; pass an "
                f"instance, e.g. {callback.__name__}()."
            )
        if not isinstance(callback, Callback):
            raise TypeError(
                f"callbacks[{i}] has type {type(callback).__name__}, not a skorch "
                f"callback: pass instances of skorch.callbacks.Callback, or "
                f"(name, callback) pairs."
            )
        if name in RESERVED_NAMES:
            raise ValueError(
                f"callbacks[{i}] is named {name!r}, the name of one of skdl's own "
                f"callbacks; choose another name."
            )
        if name is not None and name in names:
            raise ValueError(f"callbacks has two callbacks named {name!r}.")
        names.add(name)
        # A copy per fit: the parameter is never changed, and the members
        # of an ensemble or the fits of a search never share state.
        try:
            copy = deepcopy(callback)
        except Exception as exc:
            raise TypeError(
                f"callbacks[{i}] ({type(callback).__name__}) cannot be copied "
                f"for a fit ({type(exc).__name__}: {str(exc)[:200]}). Open "
                f"connections, files or locks in its on_train_begin instead of "
                f"its __init__."
            ) from exc
        copies.append(copy if name is None else (name, copy))
    return copies
