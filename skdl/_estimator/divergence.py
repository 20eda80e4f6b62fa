"""Training whose loss explodes without becoming NaN: say so at the end of fit.

Too high a learning rate does not always overflow to NaN (which
:class:`skdl._training.net.SkdlNet` catches at the batch and refuses): Adam at
``lr=1e6`` drives the training loss of an easy problem to 1e20 and beyond and
ends at chance level, with finite weights. The loss of such a model lies far
above the loss of a model that ignores its inputs, which any network that
learned something stays below. :func:`warn_if_diverged` compares the loss of
the model ``fit`` keeps against it when training ends and warns, naming
``lr``; it reads the losses already recorded in ``history_``, so it costs no
forward pass. The model is kept, so that
:func:`skdl.diagnostics.diagnose` can read its curves (its ``loss_exploded``
rule uses the same reference) and suggest a lower ``lr``.

It warns rather than raises because a huge loss can also come from a slow
start that more epochs would repair (e.g. unscaled inputs in the tens of
thousands with ``scaling=None``): the model is then as bad, but not broken.
"""

from __future__ import annotations

import warnings

from sklearn.exceptions import ConvergenceWarning

__all__ = [
    "DIVERGED_FACTOR",
    "reference_loss",
    "warn_if_diverged",
]

#: A kept model whose loss exceeds this many times :func:`reference_loss` has
#: diverged: ``fit`` warns. (For a binary classifier, a mean cross-entropy of
#: 10 nats; for a regressor, R² below -9.)
DIVERGED_FACTOR = 10.0


def reference_loss(estimator) -> float:
    """The loss against which explosions are measured.

    The baseline loss of :func:`skdl.diagnostics.baseline_loss` (the loss of
    ignoring the inputs), but at least 1: the baseline of a very skewed
    problem is near 0, and a network that merely has not learned the class
    shares yet (predicting them evenly, a loss near ``log(n_classes)``) is
    weak, not diverged.

    Parameters
    ----------
    estimator : BaseDLEstimator
        An estimator whose target is encoded (during or after ``fit``).

    Returns
    -------
    loss : float
    """
    # diagnostics imports the estimators, so it is imported late here.
    from ..diagnostics._fitted import baseline_loss

    return max(baseline_loss(estimator), 1.0)


def warn_if_diverged(estimator, *, stacklevel: int = 2) -> None:
    """Warn when the kept model's loss lies far above the loss of ignoring inputs.

    The kept model's loss is the validation loss of ``best_epoch_`` (whose
    weights early stopping restores), or without a validation split the last
    epoch's training loss, from ``history_``.

    Parameters
    ----------
    estimator : BaseDLEstimator
        The estimator, right after its networks were trained.
    stacklevel : int, default=2
        Passed to :func:`warnings.warn`, to point at the user's ``fit`` call.
    """
    history = estimator.history_
    if not len(history):
        return
    if "valid_loss" in history.columns:
        loss = float(history.loc[estimator.best_epoch_, "valid_loss"])
        which = "validation"
    else:
        loss, which = float(history["train_loss"].iloc[-1]), "training"
    reference = reference_loss(estimator)
    if not loss > DIVERGED_FACTOR * reference:
        return
    lr = estimator.lr
    warnings.warn(
        f"Training diverged: the {which} loss of the kept model is {loss:.3g}, "
        f"more than {DIVERGED_FACTOR:g} times {reference:.3g}, the loss of a "
        f"model that ignores its inputs (taken as at least 1): its outputs are "
        f"far off. Either lr={lr:g} is far too high (try a much lower `lr`, "
        f"e.g. {lr / 100:g}) or the inputs are far from unit scale (scale "
        f"them); skdl.diagnostics.diagnose reads the learning curves.",
        ConvergenceWarning,
        stacklevel=stacklevel + 1,
    )
