"""Checks of ``sample_weight`` that name it, for :class:`BaseDLEstimator`."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import _check_sample_weight

__all__ = ["check_user_weights", "loss_weights", "split_with_weight"]


def loss_weights(
    weights: np.ndarray | None, task: np.ndarray | None
) -> np.ndarray | None:
    """User weights times class weights; None when they are all equal.

    Parameters
    ----------
    weights : ndarray of shape (n,) or None
        The checked ``sample_weight`` (:func:`check_user_weights`).
    task : ndarray of shape (n,) or None
        The task's weights per row (``class_weight``), or None.

    Returns
    -------
    weights : ndarray of shape (n,) or None
        The weights of the loss; None when every row weighs the same.
    """
    if task is not None:
        if np.any(task < 0) or not np.all(np.isfinite(task)):
            raise ValueError("class_weight values must be finite and non-negative.")
        weights = task if weights is None else weights * task
    if weights is None:
        return None
    if weights.sum() <= 0:
        raise ValueError(
            "sample_weight (times class_weight) sums to zero: at least one "
            "sample must have a positive weight."
        )
    if np.all(weights == weights[0]):
        # A weighted mean with equal weights is the plain mean; dropping
        # them keeps the computation bit-identical to unweighted fitting.
        return None
    return weights


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


def split_with_weight(split, n: int, y_encoded, weights, rng) -> tuple:
    """``split(n, y_encoded, rng)``, with a validation split that has weight.

    A validation split whose rows all have zero weight has a weighted loss of
    0 in every epoch, so early stopping would keep the first epoch's model
    without a word. When the drawn split is such, the validation rows are
    drawn again from the rows with positive weight, in the same share
    (``validation_fraction`` of them); rows with zero weight then all train,
    where they change nothing.

    Parameters
    ----------
    split : callable
        ``split(n, y_encoded, rng) -> (train_idx, valid_idx or None)``.
    n : int
        The number of samples.
    y_encoded : ndarray of shape (n_samples, ...)
        The encoded target, for stratification.
    weights : ndarray of shape (n_samples,) or None
        Sample weights times class weights; None when all are equal.
    rng : numpy.random.RandomState
        Source of the split.

    Returns
    -------
    train_idx, valid_idx : ndarray, ndarray or None
        Sorted row indices.
    """
    train_idx, valid_idx = split(n, y_encoded, rng)
    if weights is None or valid_idx is None or np.any(weights[valid_idx] > 0):
        return train_idx, valid_idx
    weighted = np.flatnonzero(weights > 0)
    if len(weighted) < 2:
        raise ValueError(
            f"Only {len(weighted)} sample has a positive weight (sample_weight "
            f"times class_weight), but early_stopping=True needs 2 to carve out "
            f"a validation split. Give more samples weight or set "
            f"early_stopping=False."
        )
    _, valid = split(len(weighted), y_encoded[weighted], rng)
    valid_idx = weighted[valid]
    return np.setdiff1d(np.arange(n), valid_idx), valid_idx
