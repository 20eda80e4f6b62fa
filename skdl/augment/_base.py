"""The augmenter base class, the training-time protocol and array helpers.

Every augmenter is a stateless scikit-learn transformer whose real work
happens in :meth:`BaseAugmenter.augment_batch`, which the estimators call on
each *training* batch (never on validation or prediction batches)::

    X_batch, y_batch = augmenter.augment_batch(X_batch, y_batch, n_classes=k)

``X_batch`` is a dict of tensors: ``{"x": float (N, C, H, W) in [0, 1]}`` for
images, ``{"x_num": float (N, d), "x_cat": int64 (N, k)}`` (either key may be
missing) for tables, and optionally ``"sample_weight"`` (N,). Randomness comes
from torch's global generator, which the estimators seed inside ``fit``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn_compat.base import _fit_context

from ..vision._pixels import channel_layout, check_integer_range, pixel_scale

__all__ = ["BaseAugmenter"]

Batch = dict[str, torch.Tensor]

IMAGE_KEYS = frozenset({"x"})
TABLE_KEYS = frozenset({"x_num", "x_cat"})


class BaseAugmenter(TransformerMixin, BaseEstimator):
    """Base class of skdl's augmenters: parameters, protocol and tags.

    Subclasses declare their ``_parameter_constraints``, the batch kinds they
    accept in ``_input_kinds`` (``"image"``, ``"tabular"``) and implement
    :meth:`augment_batch`, the extension point the estimators call during
    training. ``fit`` only validates the parameters: augmenters learn nothing
    from data.

    See Also
    --------
    ImageAugmenter : Flips, crops, rotations, colour jitter and policies.
    GaussianNoise : Noise on numeric features.
    Mixup : Convex combinations of pairs of samples and their targets.
    CutMix : Pastes a box from one image into another.

    Examples
    --------
    A custom augmenter only needs ``augment_batch``:

    >>> import torch
    >>> from skdl.augment import BaseAugmenter
    >>> class Invert(BaseAugmenter):
    ...     _input_kinds = frozenset({"image"})
    ...     def augment_batch(self, X_batch, y_batch=None, *, n_classes=None):
    ...         self._check_batch(X_batch)
    ...         return {**X_batch, "x": 1.0 - X_batch["x"]}, y_batch
    >>> out, _ = Invert().augment_batch({"x": torch.zeros(2, 1, 4, 4)}, None)
    >>> float(out["x"].min())
    1.0
    """

    _parameter_constraints: dict = {}
    #: Batch kinds ``augment_batch`` accepts: ``"image"`` and/or ``"tabular"``.
    _input_kinds: frozenset[str] = frozenset({"image", "tabular"})
    #: Advice appended to the error raised for a batch of the wrong kind.
    _other_kind_hint: str = ""
    #: Capabilities the estimators ask about (declared here, so every
    #: augmenter has them): perturbs each numeric column on its own, so the
    #: tabular estimators pass only the value columns of ``"x_num"``, not the
    #: missing-value indicators.
    _value_columns_only: bool = False
    #: Works on pixels in [0, 1], so ImageClassifier refuses images it cannot
    #: read as pixels.
    _needs_pixels: bool = False

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate the parameters; augmenters learn nothing from data.

        Parameters
        ----------
        X : array-like
            Ignored apart from subclasses' input checks.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The augmenter itself.
        """
        return self

    def augment_batch(
        self,
        X_batch: Batch,
        y_batch: torch.Tensor | None = None,
        *,
        n_classes: int | None = None,
    ) -> tuple[Batch, torch.Tensor | None]:
        """Augment one training batch; the protocol the estimators call.

        Parameters
        ----------
        X_batch : dict of str to torch.Tensor
            Images as ``"x"``, float (N, C, H, W) with values in [0, 1]; or
            tables as ``"x_num"`` (float (N, d), standardized) and/or
            ``"x_cat"`` (int64 (N, k) category codes). ``"sample_weight"``
            (float (N,)) may ride along; other keys pass through unchanged.
        y_batch : torch.Tensor or None
            Class indices (int64 (N,)) for multiclass classification, 0/1
            floats (N, 1) for binary classification, floats (N, k) for
            regression, or None.
        n_classes : int or None, default=None
            Number of classes (``>= 3`` with class indices, 2 for binary),
            None for regression.

        Returns
        -------
        X_batch : dict of str to torch.Tensor
            A new dict; the input tensors are never modified in place.
        y_batch : torch.Tensor or None
            Targets: unchanged, or soft targets (float) for mixing augmenters.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement augment_batch(X_batch, y_batch, "
            f"*, n_classes=None)."
        )

    def _check_batch(self, X_batch: Batch) -> str:
        """Return the batch kind, ``"image"`` or ``"tabular"``, or raise."""
        if not isinstance(X_batch, dict):
            raise TypeError(
                f"{type(self).__name__}.augment_batch expects a dict of tensors "
                f"(keys 'x', or 'x_num'/'x_cat'), got {type(X_batch).__name__}."
            )
        keys = set(X_batch)
        is_image, is_table = bool(keys & IMAGE_KEYS), bool(keys & TABLE_KEYS)
        if is_image == is_table:
            raise ValueError(
                f"{type(self).__name__} cannot tell images (key 'x') from tables "
                f"(keys 'x_num', 'x_cat') in a batch with keys {sorted(keys)}."
            )
        kind = "image" if is_image else "tabular"
        if kind not in self._input_kinds:
            got = "images" if is_image else "tabular features"
            hint = f"; {self._other_kind_hint}" if self._other_kind_hint else ""
            raise ValueError(f"{type(self).__name__} got {got}{hint}.")
        if is_image:
            x = X_batch["x"]
            if x.ndim != 4 or not x.is_floating_point():
                raise ValueError(
                    f"{type(self).__name__} expects images as a float tensor of "
                    f"shape (N, C, H, W) in [0, 1]; got dtype {x.dtype} and shape "
                    f"{tuple(x.shape)}."
                )
        return kind

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Stateless: transform works without fit, and it is random by design.
        tags.requires_fit = False
        tags.non_deterministic = True
        # fit looks at no data; subclasses that check X say so.
        tags.no_validation = True
        return tags


# ---------------------------------------------------------------- randomness
def _torch_seed(random_state) -> int | None:
    """Turn a scikit-learn ``random_state`` into a torch seed (None: none)."""
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, bool
    ):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextmanager
def _seeded(random_state) -> Iterator[None]:
    """Seed torch's CPU generator inside a fork, so the global one is untouched.

    With ``random_state=None`` the global generator is used (and advanced).
    """
    seed = _torch_seed(random_state)
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


# -------------------------------------------------------------- image arrays
def _images_to_tensor(X) -> tuple[torch.Tensor, Callable[[torch.Tensor], np.ndarray]]:
    """Images as a float32 (N, C, H, W) tensor in [0, 1], and the way back.

    Accepts arrays of shape (n, H, W), (n, H, W, C) or (n, C, H, W) with 1,
    3 or 4 channels, read as :class:`skdl.ImageClassifier` reads them (see
    :mod:`skdl.vision._pixels`): integer images hold values in [0, 255], float
    images [0, 1], or [0, 255] when values exceed 1. The returned function
    restores an augmented tensor to the input's layout and dtype.
    """
    X = np.asarray(X)
    if X.dtype == bool or not (
        np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)
    ):
        raise ValueError(
            f"Images must be a numeric array (uint8 or float), got dtype {X.dtype}."
        )
    try:
        layout = channel_layout(X.shape)
    except ValueError as exc:
        raise ValueError(f"{exc} Use GaussianNoise or Mixup for 2-D tables.") from None
    if layout == "nhw":
        x = X[:, None]
    else:
        x = X.transpose(0, 3, 1, 2) if layout == "nhwc" else X
    if X.size and not np.all(np.isfinite(X)):
        raise ValueError("Images must not contain NaN or infinite values.")
    integer = np.issubdtype(X.dtype, np.integer)
    if integer:
        check_integer_range(X)
    scale = pixel_scale(X)
    if scale is None:
        raise ValueError(
            f"Images must hold pixel values, in [0, 1] or [0, 255]; got floats "
            f"in [{X.min():.4g}, {X.max():.4g}]. Augment images before "
            f"standardizing them."
        )
    tensor = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32) / scale)

    def restore(out: torch.Tensor) -> np.ndarray:
        arr = out.detach().cpu().numpy()
        if layout == "nhw":
            arr = arr[:, 0]
        elif layout == "nhwc":
            arr = arr.transpose(0, 2, 3, 1)
        arr = arr * scale
        if integer:
            arr = np.clip(np.rint(arr), 0, 255)
        return np.ascontiguousarray(arr.astype(X.dtype, copy=False))

    return tensor, restore
