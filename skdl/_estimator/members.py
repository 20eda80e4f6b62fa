"""The members of a fit: their rows, their seeds, and how many there are.

``fit`` and the continued fits (``warm_start``, ``partial_fit``) both draw
their members here, so an ensemble splits and seeds alike on either path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sklearn.utils import check_random_state

from .._training.accelerate import shared_seed
from .._validation.sample_weights import split_with_weight

if TYPE_CHECKING:
    from .._base import BaseDLEstimator

__all__ = ["announce_member", "draw_members"]

_INT32_MAX = np.iinfo(np.int32).max


def draw_members(
    estimator: BaseDLEstimator,
    n: int,
    y_encoded: np.ndarray,
    weights: np.ndarray | None,
    *,
    fitted: int | None = None,
    partial: bool = False,
) -> list[tuple[np.ndarray, np.ndarray | None, int]]:
    """``(train_idx, valid_idx, seed)`` per network, and ``n_ensemble_`` set.

    Every member gets its own validation split (so that together they learn
    from every row) and its own seed; a ``partial_fit`` trains on all rows.
    ``fitted`` is the size of the ensemble a continued fit trains further.
    Under ``use_accelerator`` all processes draw the same (``shared_seed``).
    """
    rs = check_random_state(shared_seed(estimator.random_state))
    members = []
    for _ in range(estimator._n_members(n, fitted=fitted, partial=partial)):
        if partial:
            train_idx, valid_idx = np.arange(n), None
        else:
            train_idx, valid_idx = split_with_weight(
                estimator._split, n, y_encoded, weights, rs
            )
        members.append((train_idx, valid_idx, int(rs.randint(_INT32_MAX))))
    estimator.n_ensemble_ = len(members)
    return members


def announce_member(estimator: BaseDLEstimator, i: int, n_members: int) -> None:
    """With ``verbose``, name member ``i`` (1-based) before its epoch table."""
    if estimator.verbose and n_members > 1:
        print(f"ensemble member {i} of {n_members}", flush=True)
