"""expand: enlarge a dataset offline with any augmenter."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.utils import check_array
from sklearn.utils._param_validation import HasMethods, Interval, validate_params
from sklearn.utils.multiclass import type_of_target

from ._base import _images_to_tensor, _seeded

__all__ = ["expand"]

_CHUNK = 256


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like", None],
        "augmenter": [HasMethods(["augment_batch"])],
        "n_per_sample": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "include_original": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def expand(X, y, augmenter, n_per_sample, random_state=None, *, include_original=True):
    """Enlarge a dataset with augmented copies of every sample.

    Each copy is one call of the augmenter's ``augment_batch``, the same code
    the estimators run on training batches, over a random order of the
    samples (so mixing augmenters pair random partners).

    Parameters
    ----------
    X : array-like
        Images of shape (n, H, W), (n, H, W, C) or (n, C, H, W), or a numeric
        table of shape (n, n_features).
    y : array-like of shape (n,) or (n, n_targets), or None
        Targets. Needed by :class:`Mixup` and :class:`CutMix`; None is fine
        for the others.
    augmenter : BaseAugmenter
        Any object with ``augment_batch``, such as :class:`ImageAugmenter`,
        :class:`GaussianNoise`, :class:`Mixup` or :class:`CutMix`.
    n_per_sample : int
        Augmented copies per sample, ``>= 1``.
    random_state : int, RandomState instance or None, default=None
        Seeds a fork of torch's generator, so the result is reproducible and
        torch's global generator is left untouched. None draws from (and
        advances) the global generator.
    include_original : bool, default=True
        Put the original samples first.

    Returns
    -------
    X_new : ndarray
        ``n * (n_per_sample + include_original)`` samples with the layout and
        dtype of ``X``: the originals (if included), then copy 1 of every
        sample, copy 2, and so on. Row ``k * n + i`` derives from ``X[i]``.
    y_new : ndarray or None
        Targets of ``X_new``. Augmenters that keep targets repeat ``y``.
        Mixing augmenters return soft targets: for class labels (``y`` of
        type "binary" or "multiclass" in scikit-learn's
        :func:`~sklearn.utils.multiclass.type_of_target`) a float array of
        shape (n_new, n_classes) with columns in ``np.unique(y)`` order
        (originals one-hot); for numeric targets the mixed values.

    See Also
    --------
    plot_augmented : Draws augmented samples.

    Examples
    --------
    >>> import numpy as np
    >>> from skdl.augment import ImageAugmenter, expand
    >>> X = np.zeros((100, 28, 28), dtype=np.uint8)
    >>> y = np.arange(100) % 10
    >>> X_new, y_new = expand(X, y, ImageAugmenter(rotation=10), 9, random_state=0)
    >>> X_new.shape, y_new.shape
    ((1000, 28, 28), (1000,))
    """
    if np.ndim(X) == 2:
        table = check_array(
            X, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan"
        )
        x, key = torch.from_numpy(table), "x_num"

        def restore(t: torch.Tensor) -> np.ndarray:
            return t.numpy()

    else:
        x, restore = _images_to_tensor(X)
        key = "x"
    n = len(x)
    targets, n_classes, decode = _encode_targets(y, n)

    x_parts, y_parts = [], []
    if include_original:
        x_parts.append(restore(x))
        y_parts.append(targets)
    with _seeded(random_state):
        for _ in range(n_per_sample):
            order = torch.randperm(n)
            x_copy, y_copy = [], []
            for start in range(0, n, _CHUNK):
                idx = order[start : start + _CHUNK]
                xb, yb = augmenter.augment_batch(
                    {key: x[idx]},
                    None if targets is None else targets[idx],
                    n_classes=n_classes,
                )
                x_copy.append(xb[key])
                y_copy.append(yb)
            inverse = torch.argsort(order)
            x_parts.append(restore(torch.cat(x_copy)[inverse]))
            if targets is not None:
                y_parts.append(torch.cat(y_copy)[inverse])
    X_new = np.concatenate(x_parts)
    return X_new, decode(y_parts)


def _encode_targets(y, n: int):
    """Targets as protocol tensors, the class count, and the decoder."""
    if y is None:
        return None, None, lambda parts: None
    y = np.asarray(y)
    if len(y) != n:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: {n} and {len(y)}."
        )
    kind = type_of_target(y, input_name="y")
    if kind in ("binary", "multiclass"):
        classes, codes = np.unique(y, return_inverse=True)
        n_classes = len(classes)

        def decode(parts):
            if all(not p.is_floating_point() for p in parts):
                return classes[torch.cat(parts).numpy()]
            soft = [
                p if p.is_floating_point() else torch.eye(n_classes)[p] for p in parts
            ]
            return torch.cat(soft).numpy()

        return torch.from_numpy(codes.reshape(-1).astype(np.int64)), n_classes, decode
    if kind in ("continuous", "continuous-multioutput", "multilabel-indicator"):
        values = torch.from_numpy(np.asarray(y, dtype=np.float64))
        return values, None, lambda parts: torch.cat(parts).numpy()
    raise ValueError(
        f"expand supports class labels, numeric targets or None as y; got a "
        f"target of type {kind!r}."
    )
