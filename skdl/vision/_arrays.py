"""Images held in memory: validation, layout and per-batch preparation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from ._decode import pil_images_to_arrays
from ._pixels import (
    channel_layout,
    check_integer_range,
    float_pixel_scale,
    float_stats,
    in_range,
)

__all__ = ["INFER", "ImagePrepare", "as_image_tensor", "image_size_tuple"]

#: The float convention of ``as_image_tensor`` at fit: read it off the data.
INFER = "infer"


def image_size_tuple(image_size) -> tuple[int, int] | None:
    """``image_size`` as ``(H, W)``; an int means a square."""
    if image_size is None:
        return None
    if isinstance(image_size, int | np.integer) and not isinstance(image_size, bool):
        size = (image_size, image_size)
    else:
        size = tuple(image_size) if isinstance(image_size, tuple | list) else ()
    if len(size) != 2 or not all(
        isinstance(s, int | np.integer) and not isinstance(s, bool) and s >= 1
        for s in size
    ):
        raise ValueError(
            f"image_size must be a positive int or (height, width) of positive "
            f"ints, got {image_size!r}."
        )
    return (int(size[0]), int(size[1]))


def _to_nchw(a: np.ndarray) -> np.ndarray:
    """One array of images to (N, C, H, W); the layout is inferred."""
    layout = channel_layout(a.shape)
    if layout == "nhw":
        return a[:, None]
    return a.transpose(0, 3, 1, 2) if layout == "nhwc" else a


def _check_numeric(a: np.ndarray, what: str) -> np.ndarray:
    """``a`` as a numeric array with finite values, or a clear error."""
    if a.dtype == object:
        # Object arrays of numbers are fine; anything else is neither pixels
        # nor (already resolved) file paths.
        try:
            a = a.astype(np.float32)
        except (TypeError, ValueError) as exc:
            # Keep the exception type (scikit-learn's checks expect TypeError
            # for unconvertible objects), with a message that says where.
            message = f"{what} holds values that are not numbers ({exc})."
            raise type(exc)(message) from exc
    if a.dtype.kind in "US":
        raise ValueError(
            f"{what} is neither numeric images nor image file paths. Pass images "
            f"as an array (n, H, W[, C]) or file paths (list, Series, or a "
            f"DataFrame with a path column)."
        )
    if a.dtype.kind == "c":
        raise ValueError("Complex data not supported for images.")
    if a.dtype.kind not in "uifb":
        raise ValueError(f"Unsupported image dtype {a.dtype}.")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"{what} contains NaN or infinity; pixels must be finite.")
    if a.dtype.kind == "f" and a.size and np.abs(a).max() > np.finfo(np.float32).max:
        raise ValueError(f"{what} holds values too large for float32.")
    if a.dtype.kind in "ui":
        check_integer_range(a)
    return a


def _float_scale(floats: list, float_scale) -> float | None:
    """The divisor of the float images ``floats``; see as_image_tensor."""
    if float_scale is None:
        return None
    if float_scale == INFER:
        return float_pixel_scale(*float_stats(floats))
    low = min(float(a.min()) for a in floats)
    high = max(float(a.max()) for a in floats)
    if not in_range(low, high, float_scale):
        hint = " (uint8 images, or floats divided by 255)" if float_scale == 1 else ""
        raise ValueError(
            f"X holds float values in [{low:.4g}, {high:.4g}], but the model "
            f"reads float images as pixels in [0, {float_scale:g}], as it was "
            f"fitted. Pass images scaled like the training images{hint}."
        )
    return float_scale


def _as_float(a: np.ndarray, scale: float | None) -> np.ndarray:
    """Pixels of any numeric dtype as float32 in [0, 1] (floats: / scale)."""
    if a.dtype.kind in "ui":
        return a.astype(np.float32) / np.float32(255.0)
    if a.dtype.kind == "b" or scale in (None, 1.0):
        return np.asarray(a, dtype=np.float32)
    return np.asarray(a, dtype=np.float32) / np.float32(scale)


def _from_list(X: Sequence, image_size, float_scale):
    """A list of single images (any sizes and dtypes) as one tensor."""
    images = []
    for i, a in enumerate(X):
        a = _check_numeric(np.asarray(a), f"Image {i} of X")
        if a.ndim not in (2, 3) or a.size == 0:
            raise ValueError(
                f"Image {i} of X has shape {a.shape}; each image must be a "
                f"non-empty (H, W), (H, W, C) or (C, H, W) array."
            )
        images.append(a[None] if a.ndim == 2 else _to_nchw(a[None])[0])
    channels = sorted({a.shape[0] for a in images})
    if len(channels) > 1:
        raise ValueError(
            f"The images have different numbers of channels ({channels}); "
            f"convert them to one mode (all grayscale or all RGB) first."
        )
    shapes = {a.shape[1:] for a in images}
    if len(shapes) > 1 and image_size is None:
        raise ValueError(
            f"The images have different sizes ({len(shapes)} distinct, e.g. "
            f"{sorted(shapes)[:3]}); set image_size=(H, W) so they can be "
            f"resized to one size."
        )
    if len(shapes) == 1 and all(a.dtype == np.uint8 for a in images):
        return torch.from_numpy(np.stack(images)), _fitted_unit(float_scale)
    floats = [a for a in images if a.dtype.kind == "f"]
    scale = _float_scale(floats, float_scale) if floats else _fitted_unit(float_scale)
    tensors = [torch.from_numpy(_as_float(a, scale)) for a in images]
    if len(shapes) > 1:
        tensors = [TF.resize(t, list(image_size), antialias=True) for t in tensors]
    return torch.stack(tensors), scale


def _fitted_unit(float_scale):
    """The float convention to record when X holds no float images."""
    return 1.0 if float_scale == INFER else float_scale


def as_image_tensor(
    X, image_size: tuple[int, int] | None, *, float_scale=INFER
) -> tuple[torch.Tensor, float | None]:
    """Validate in-memory images and return them as an (N, C, H, W) tensor.

    uint8 images stay uint8 (converted per batch, to save memory); other
    images become float32 in [0, 1] by the rule of :mod:`skdl.vision._pixels`:
    integers hold [0, 255], floats [0, 1], or [0, 255] when values exceed
    1. A list of differently sized images is resized to
    ``image_size``, which must then be set.

    Parameters
    ----------
    X : ndarray or sequence of ndarray
        Images as (n, H, W), (n, H, W, C) or (n, C, H, W), or a list of
        single images.
    image_size : (int, int) or None
        Target size, used here only for lists of mixed sizes.
    float_scale : "infer", float or None, default="infer"
        How float images are read. ``"infer"`` (at fit) reads the range off
        X, by :func:`skdl.vision._pixels.pixel_scale`. A number (the fitted
        convention, 1 or 255) divides floats by it and refuses floats
        outside [0, that number], so that an image's reading never depends
        on the other images of the call. None (a model fitted on floats
        that are not pixel values) uses floats as given.

    Returns
    -------
    images : torch.Tensor of shape (n, C, H, W)
    float_scale : float or None
        The float convention of X: what its floats were divided by (1 or
        255), or None when they are not pixel values.
    """
    if isinstance(X, list | tuple) and any(isinstance(a, Image.Image) for a in X):
        # PIL images of different sizes would make np.asarray fail opaquely.
        X = pil_images_to_arrays(X)
    if isinstance(X, list | tuple) and len(X) and isinstance(X[0], np.ndarray):
        return _from_list(X, image_size, float_scale)
    if sp.issparse(X):
        raise TypeError(
            "Sparse input is not supported for images: pass a dense array of shape "
            "(n, H, W), (n, H, W, C) or (n, C, H, W)."
        )
    a = np.asarray(X)
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
    a = _to_nchw(_check_numeric(a, "X"))
    if a.dtype.kind in "ui":
        # Copy read-only, strided or wider input: torch tensors must own
        # writable data, and uint8 is exact for values in [0, 255].
        if a.dtype != np.uint8 or not a.flags.writeable or not a.flags.c_contiguous:
            a = np.array(a, dtype=np.uint8, order="C")
        return torch.from_numpy(a), _fitted_unit(float_scale)
    floats = [a] if a.dtype.kind == "f" else []
    scale = _float_scale(floats, float_scale) if floats else _fitted_unit(float_scale)
    return torch.from_numpy(np.ascontiguousarray(_as_float(a, scale))), scale


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
