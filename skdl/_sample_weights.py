"""Checks of ``sample_weight`` that name it, for :class:`BaseDLEstimator`."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import _check_sample_weight

__all__ = ["check_user_weights", "check_validation_weights"]


def check_user_weights(sample_weight, n: int) -> np.ndarray | None:
    """Validated ``sample_weight`` as a writable float64 array, or None.

    Parameters
    ----------
    sample_weight : array-like of shape (n,), scalar or None
        The weights passed to ``fit``.
    n : int
        The number of samples.

    Returns
    -------
    weights : ndarray of shape (n,) or None
        A copy (pandas may hand out read-only views, which torch warns about).
    """
    if sample_weight is None:
        return None
    try:
        weights = _check_sample_weight(
            sample_weight, np.empty((n, 0)), dtype=np.float64
        )
    except ValueError as exc:
        # scikit-learn >= 1.7 refuses all-zero weights without naming them.
        if "non-zero" not in str(exc):
            raise
        weights = np.zeros(n)
    if np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight must be finite and non-negative.")
    if not np.any(weights):
        raise ValueError(
            "sample_weight is zero for every sample, so there is nothing to "
            "learn from; give at least one sample a positive weight."
        )
    return np.array(weights, dtype=np.float64)


def check_validation_weights(weights, valid_idx, validation_fraction) -> None:
    """Refuse a validation split whose rows all have zero weight.

    Its weighted loss would be 0 in every epoch, so early stopping would keep
    the first epoch's model without a word.

    Parameters
    ----------
    weights : ndarray of shape (n_samples,) or None
        Sample weights times class weights; None when all are equal.
    valid_idx : ndarray or None
        Rows of the validation split; None without early stopping.
    validation_fraction : float
        The estimator's parameter, for the message.
    """
    if weights is None or valid_idx is None or np.any(weights[valid_idx] > 0):
        return
    raise ValueError(
        f"Every row of the validation split (validation_fraction="
        f"{validation_fraction}, {len(valid_idx)} rows) has zero weight "
        f"(sample_weight times class_weight), so the validation loss would be 0 "
        f"in every epoch and early stopping could not judge the model. Drop the "
        f"rows with zero weight (they teach the network nothing), or set "
        f"early_stopping=False."
    )
