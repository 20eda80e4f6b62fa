"""GaussianNoise: additive noise on numeric features."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import OneToOneFeatureMixin
from sklearn.utils._param_validation import Interval
from sklearn_compat.base import _fit_context
from sklearn_compat.utils.validation import validate_data

from ._base import BaseAugmenter, Batch

__all__ = ["GaussianNoise"]

_FLOATS = [np.float64, np.float32]


class GaussianNoise(OneToOneFeatureMixin, BaseAugmenter):
    """Add Gaussian noise to numeric features.

    During training, estimators add noise with standard deviation ``std`` to
    each *standardized* numeric feature of every training batch, so ``std``
    is a fraction of each feature's standard deviation. Categorical features
    are never perturbed. :meth:`transform` adds the same noise to a numeric
    array in its own units, for previewing.

    Parameters
    ----------
    std : float, default=0.1
        Standard deviation of the noise, ``>= 0``; 0 is off.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    Mixup : Blends pairs of rows and their targets.
    ImageAugmenter : Augmentation for images.

    Notes
    -----
    Noise is drawn from torch's global generator, so seeding torch (as the
    estimators do inside ``fit``) makes it reproducible. Missing values stay
    missing: :meth:`transform` leaves NaN as NaN, and the tabular estimators
    hand :meth:`augment_batch` only the value columns of ``"x_num"``, not
    the missing-value indicators their encoder appends to it.

    Examples
    --------
    >>> import numpy as np
    >>> from skdl.augment import GaussianNoise
    >>> X = np.zeros((1000, 2))
    >>> X_noisy = GaussianNoise(std=0.5).fit_transform(X)
    >>> X_noisy.shape
    (1000, 2)
    >>> bool(0.4 < X_noisy.std() < 0.6)
    True
    """

    _parameter_constraints: dict = {
        "std": [Interval(numbers.Real, 0, None, closed="left")],
    }
    _input_kinds = frozenset({"tabular"})
    #: Perturbs each numeric column on its own: the tabular estimators pass
    #: only the value columns of ``"x_num"``, not the missing-value indicators.
    _value_columns_only = True
    _other_kind_hint = (
        "use ImageAugmenter (or Mixup, CutMix) for images, or add noise inside "
        "a custom BaseAugmenter"
    )

    def __init__(self, std: float = 0.1) -> None:
        self.std = std

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check X and record its number of features; nothing is learned.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric data.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The augmenter itself.
        """
        validate_data(self, X, reset=True, dtype=_FLOATS, ensure_all_finite="allow-nan")
        return self

    def transform(self, X):
        """Return a copy of X with Gaussian noise added.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric data.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            ``X`` plus noise, in ``X``'s float dtype (float64 for integers).
        """
        self._validate_params()
        X = validate_data(
            self, X, reset=False, dtype=_FLOATS, ensure_all_finite="allow-nan"
        )
        noise = torch.randn(X.shape, dtype=torch.float64).numpy()
        return X + (self.std * noise).astype(X.dtype, copy=False)

    def augment_batch(
        self,
        X_batch: Batch,
        y_batch: torch.Tensor | None = None,
        *,
        n_classes: int | None = None,
    ) -> tuple[Batch, torch.Tensor | None]:
        """Add noise to ``"x_num"``; ``"x_cat"`` and the rest pass through.

        Parameters
        ----------
        X_batch : dict of str to torch.Tensor
            ``"x_num"`` (float (N, d)) and/or ``"x_cat"`` (int64 (N, k)).
        y_batch : torch.Tensor or None
            Targets, returned unchanged.
        n_classes : int or None, default=None
            Unused; part of the protocol.

        Returns
        -------
        X_batch : dict of str to torch.Tensor
            A new dict with a noisy copy of ``"x_num"``.
        y_batch : torch.Tensor or None
            ``y_batch`` itself.
        """
        self._validate_params()
        self._check_batch(X_batch)
        out = dict(X_batch)
        x = out.get("x_num")
        if x is not None and self.std > 0:
            noise = torch.randn(x.shape, dtype=x.dtype).to(x.device)
            out["x_num"] = x + self.std * noise
        return out, y_batch

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.no_validation = False
        # Without noise the output is X itself: deterministic.
        std = self.std
        tags.non_deterministic = not (isinstance(std, numbers.Real) and std == 0)
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
