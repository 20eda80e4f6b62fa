"""Training whose loss explodes without becoming NaN: stop it and say so.

Too high a learning rate does not always overflow to NaN (which
:class:`skdl._net.SkdlNet` catches at the batch): Adam at ``lr=1e6`` drives
the training loss of an easy problem to 1e20 and beyond and ends at chance
level, with finite weights. Such a loss lies far above the loss of a model
that ignores its inputs, which a network that learns anything stays below;
:class:`DivergenceCheck` compares each epoch's mean training loss, already
recorded in the history, against it, so the check costs no forward pass.

:func:`skdl.diagnostics.diagnose` reads the same reference for losses that
rose far past it and recovered.
"""

from __future__ import annotations

import math

from skorch.callbacks import Callback

from .exceptions import TrainingDivergedError

__all__ = [
    "DIVERGED_FACTOR",
    "DivergenceCheck",
    "divergence_check",
    "reference_loss",
]

#: An epoch whose mean training loss exceeds this many times
#: :func:`reference_loss` has diverged: training stops with an error.
DIVERGED_FACTOR = 100.0


def reference_loss(estimator) -> float:
    """The loss against which explosions are measured.

    The baseline loss of :func:`skdl.diagnostics.baseline_loss` (the loss of
    ignoring the inputs), but at least 1: a freshly initialized network
    starts near ``log(n_classes)`` (or, for regressors, the unit variance of
    the standardized target) whatever the class shares, so a very skewed
    problem, whose baseline is near 0, would otherwise count its own first
    epoch as an explosion.

    Parameters
    ----------
    estimator : BaseDLEstimator
        An estimator whose target is encoded (during or after ``fit``).

    Returns
    -------
    loss : float
    """
    # diagnostics imports the estimators, so it is imported late here.
    from .diagnostics._fitted import baseline_loss

    return max(baseline_loss(estimator), 1.0)


class DivergenceCheck(Callback):
    """Raise :class:`TrainingDivergedError` when the training loss explodes.

    Parameters
    ----------
    limit : float
        Mean training loss of an epoch above which training has diverged.
    reference : float
        The reference loss, for the message.
    """

    def __init__(self, limit: float, reference: float) -> None:
        self.limit = limit
        self.reference = reference

    def on_epoch_end(self, net, **kwargs) -> None:
        loss = net.history[-1].get("train_loss", math.nan)
        if loss > self.limit:
            lr = net.lr
            raise TrainingDivergedError(
                f"Training diverged: the mean training loss of epoch "
                f"{len(net.history)} is {loss:.3g}, more than "
                f"{self.limit / self.reference:g} times {self.reference:.3g}, the "
                f"loss of a model that ignores its inputs (at least 1), at "
                f"lr={lr:g}: the network would predict at chance level. Try a "
                f"much lower `lr` (e.g. "
                f"{lr / 100:g})."
            )


def divergence_check(estimator) -> tuple[str, DivergenceCheck]:
    """The ``(name, callback)`` pair that watches ``estimator``'s training.

    Parameters
    ----------
    estimator : BaseDLEstimator
        The estimator being fitted, its target already encoded.

    Returns
    -------
    callback : (str, DivergenceCheck)
    """
    reference = reference_loss(estimator)
    return "divergence_check", DivergenceCheck(DIVERGED_FACTOR * reference, reference)
