"""Images held in memory: validation, layout and per-batch preparation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from torchvision.transforms.v2 import functional as TF

__all__ = ["ImagePrepare", "as_image_tensor", "image_size_tuple"]

_CHANNELS = (1, 3, 4)


def image_size_tuple(image_size) -> tuple[int, int] | None:
    """``image_size`` as ``(H, W)``; an int means a square."""
    if image_size is None:
        return None
    if isinstance(image_size, int | np.integer):
        return (int(image_size), int(image_size))
    size = tuple(int(s) for s in image_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(
            f"image_size must be an int or (height, width), got {image_size!r}."
        )
    return size


def _to_nchw(a: np.ndarray) -> np.ndarray:
    """One array of images to (N, C, H, W); the layout is inferred."""
    if a.ndim == 3:
        return a[:, None]
    if a.ndim != 4:
        raise ValueError(
            f"Image arrays must have shape (n, H, W), (n, H, W, C) or (n, C, H, W); "
            f"got an array of rank {a.ndim} with shape {a.shape}. Reshape your data "
            f"accordingly (a single image needs a leading axis of length 1)."
        )
    last, first = a.shape[3], a.shape[1]
    if last in _CHANNELS and not (first in (1, 3) and last not in (1, 3)):
        return a.transpose(0, 3, 1, 2)
    if first in _CHANNELS:
        return a
    raise ValueError(
        f"Cannot tell the channel axis of image array shape {a.shape}: expected "
        f"1, 3 or 4 channels in the last axis (n, H, W, C) or the second axis "
        f"(n, C, H, W)."
    )


def _single_to_chw(a: np.ndarray) -> np.ndarray:
    if a.ndim == 2:
        return a[None]
    if a.ndim == 3:
        return _to_nchw(a[None])[0]
    raise ValueError(f"Each image must be 2-D or 3-D, got shape {a.shape}.")


def as_image_tensor(X, image_size: tuple[int, int] | None) -> torch.Tensor:
    """Validate in-memory images and return them as an (N, C, H, W) tensor.

    uint8 images stay uint8 (converted per batch, to save memory); other
    numeric types become float32 and are used as given (typically in
    [0, 1]). A list of differently sized images is resized to
    ``image_size``, which must then be set.

    Parameters
    ----------
    X : ndarray or sequence of ndarray
        Images as (n, H, W), (n, H, W, C) or (n, C, H, W).
    image_size : (int, int) or None
        Target size, used here only for lists of mixed sizes.

    Returns
    -------
    images : torch.Tensor of shape (n, C, H, W)
    """
    if isinstance(X, list | tuple) and len(X) and isinstance(X[0], np.ndarray):
        shapes = {np.shape(a) for a in X}
        if len(shapes) > 1:
            if image_size is None:
                raise ValueError(
                    f"The images have different sizes ({len(shapes)} distinct "
                    f"shapes, e.g. {sorted(shapes)[:3]}); set image_size=(H, W) "
                    f"so they can be resized to one size."
                )
            imgs = [torch.from_numpy(_single_to_chw(np.asarray(a))) for a in X]
            return torch.stack(
                [TF.resize(i, list(image_size), antialias=True) for i in imgs]
            )
    if sp.issparse(X):
        raise TypeError(
            "Sparse input is not supported for images: pass a dense array of shape "
            "(n, H, W), (n, H, W, C) or (n, C, H, W)."
        )
    a = np.asarray(X)
    if a.dtype == object:
        # Object arrays of numbers are fine; anything else is neither pixels
        # nor (already resolved) file paths.
        a = a.astype(np.float32)
    if a.dtype.kind in "US":
        raise ValueError(
            "X is neither a numeric image array nor image file paths. Pass images "
            "as an array (n, H, W[, C]) or file paths (list, Series, or a "
            "DataFrame with a path column)."
        )
    if a.dtype.kind == "c":
        raise ValueError("Complex data not supported for images.")
    if a.dtype.kind not in "uifb":
        raise ValueError(f"Unsupported image dtype {a.dtype}.")
    if a.ndim >= 1 and a.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={a.shape}) while a minimum of 1 "
            f"is required."
        )
    if a.ndim >= 2 and a.size == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={a.shape}) while a minimum of 1 "
            f"is required."
        )
    a = _to_nchw(a)
    if a.dtype == np.uint8:
        # Copy read-only or strided input: torch tensors must own writable data.
        if not a.flags.writeable or not a.flags.c_contiguous:
            a = np.array(a, order="C")
        return torch.from_numpy(a)
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ValueError(
            "Input X contains NaN or infinity; image pixels must be finite."
        )
    return torch.from_numpy(a)


class ImagePrepare:
    """Per-batch step: uint8 -> float in [0, 1], and resize when needed.

    Parameters
    ----------
    size : (int, int) or None
        Output size; None keeps the stored size.
    """

    def __init__(self, size: Sequence[int] | None) -> None:
        self.size = None if size is None else [int(s) for s in size]

    def __call__(self, batch: dict) -> dict:
        x = batch["x"]
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        if self.size is not None and list(x.shape[-2:]) != self.size:
            x = TF.resize(x, self.size, antialias=True)
        return {**batch, "x": x}
