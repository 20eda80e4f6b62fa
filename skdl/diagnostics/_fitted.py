"""Find the fitted skdl estimator inside what the user passes, and read it.

:func:`~skdl.diagnostics.diagnose` and :class:`~skdl.diagnostics.HistoryDisplay`
accept a fitted skdl estimator or a fitted wrapper around one (a search such
as ``GridSearchCV``, a ``Pipeline``, a ``TransformedTargetRegressor``). This
module unwraps them and derives what both need from the fitted attributes.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import NotFittedError

from .._base import BaseDLEstimator
from .._estimator.unwrap import unwrap_estimator

__all__ = [
    "baseline_loss",
    "early_stopping_fired",
    "fitted_dl_estimator",
    "loss_floor",
    "score_name",
]


def fitted_dl_estimator(estimator, *, caller: str) -> BaseDLEstimator:
    """Return the fitted skdl estimator that ``estimator`` is or wraps.

    Searches are unwrapped through ``best_estimator_``, pipelines through
    their last step and ``TransformedTargetRegressor`` through
    ``regressor_``, as often as needed (a search over a pipeline works).

    Parameters
    ----------
    estimator : object
        A fitted skdl estimator, or a fitted search, pipeline or
        ``TransformedTargetRegressor`` around one.
    caller : str
        Name of the public function, for error messages.

    Returns
    -------
    estimator : BaseDLEstimator
        The fitted skdl estimator, with ``history_``.

    Raises
    ------
    TypeError
        If no skdl estimator is found.
    sklearn.exceptions.NotFittedError
        If the skdl estimator or a wrapper around it is not fitted.
    """
    current, _, path = unwrap_estimator(estimator, fitted=True, caller=caller)
    if not isinstance(current, BaseDLEstimator):
        via = f" (inside {' -> '.join(path)})" if path else ""
        raise TypeError(
            f"{caller} expects a fitted skdl estimator (TabularClassifier, "
            f"TabularRegressor, ImageClassifier), or a fitted GridSearchCV or "
            f"Pipeline ending in one; got {type(current).__name__}{via}."
        )
    if not (hasattr(current, "history_") and hasattr(current, "net_")):
        raise NotFittedError(
            f"This {type(current).__name__} is not fitted yet; call fit before "
            f"{caller}."
        )
    return current


def baseline_loss(estimator: BaseDLEstimator) -> float:
    """Training loss of the best model that ignores its inputs, for scale.

    Classifiers: the entropy of the mean training target, which is what a
    model that predicts the same probabilities for every row can do best.
    Without label smoothing that is the entropy of the class shares
    ``class_prior_`` (weighted as the loss weights rows; ``log(n_classes)``
    when the classes are balanced); with ``label_smoothing=eps`` over ``K``
    classes (``K = 2`` for binary problems) the mean target is
    ``(1 - eps) * class_prior_ + eps / K``. Estimators fitted before
    ``class_prior_`` existed get ``log(n_classes)``, an upper bound.

    Regressors: ``1.0``, the mean squared error of predicting the training
    mean, because skdl standardizes the target for training and records the
    loss in standardized units.

    Parameters
    ----------
    estimator : BaseDLEstimator
        A fitted skdl estimator.

    Returns
    -------
    loss : float
        The baseline loss, always positive.
    """
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return 1.0
    prior = getattr(estimator, "class_prior_", None)
    if prior is None:
        return math.log(max(len(classes), 2))
    eps = float(getattr(estimator, "label_smoothing", 0.0) or 0.0)
    mean_target = (1 - eps) * np.asarray(prior, dtype=float) + eps / len(prior)
    mean_target = mean_target[mean_target > 0]
    return max(float(-(mean_target * np.log(mean_target)).sum()), 1e-12)


def loss_floor(estimator: BaseDLEstimator) -> float:
    """The lowest training loss the targets allow: 0 unless labels are smoothed.

    With ``label_smoothing=eps`` over ``K`` classes (``K = 2`` for binary
    problems) the target of a row puts ``1 - eps + eps / K`` on its class and
    ``eps / K`` on each other one, so even a perfect network has a
    cross-entropy equal to the entropy of that target.

    Parameters
    ----------
    estimator : BaseDLEstimator
        A fitted skdl estimator.

    Returns
    -------
    floor : float
        The entropy of the smoothed targets, in the units of ``history_``.
    """
    eps = float(getattr(estimator, "label_smoothing", 0.0) or 0.0)
    classes = getattr(estimator, "classes_", None)
    if classes is None or eps <= 0:
        return 0.0
    k = max(len(classes), 2)
    own, other = 1 - eps + eps / k, eps / k
    return -(own * math.log(own) + (k - 1) * other * math.log(other))


def score_name(estimator: BaseDLEstimator) -> str:
    """Name of the ``valid_score`` column: accuracy or R²."""
    return "accuracy" if is_classifier(estimator) else "R²"


def early_stopping_fired(estimator: BaseDLEstimator) -> bool:
    """Whether early stopping ended the training of a fitted estimator.

    The estimators record it as ``stopped_early_`` (the early-stopping
    callback's run of epochs without improvement reached ``patience``).
    """
    return bool(estimator.stopped_early_)
