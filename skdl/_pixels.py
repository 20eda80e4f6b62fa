"""How skdl reads image arrays: the channel axis and the pixel range.

One rule for :class:`skdl.ImageClassifier` and the augmenters' ``transform``,
so that both read an array the same way.

* Layout: (n, H, W) is grayscale; a 4-D array is channels-last unless only
  its second axis looks like a channel axis (1, 3 or 4).
* Range: integer images hold values in [0, 255]; float images in [0, 1],
  or in [0, 255] when any value exceeds 1. Floats outside [0, 255] (e.g.
  images standardized beforehand) are not pixel values and are used as given.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CHANNELS", "channel_layout", "check_integer_range", "pixel_scale"]

#: Channel counts an image axis may have.
CHANNELS = (1, 3, 4)


def channel_layout(shape: tuple[int, ...]) -> str:
    """``"nhw"``, ``"nhwc"`` or ``"nchw"`` for an array of image ``shape``.

    Raises
    ------
    ValueError
        For a rank other than 3 or 4, or a 4-D shape with no channel axis.
    """
    if len(shape) == 3:
        return "nhw"
    if len(shape) != 4:
        raise ValueError(
            f"Image arrays must have shape (n, H, W), (n, H, W, C) or (n, C, H, W); "
            f"got an array of rank {len(shape)} with shape {shape}. Reshape your "
            f"data accordingly (a single image needs a leading axis of length 1)."
        )
    first, last = shape[1], shape[3]
    if last in CHANNELS and not (first in (1, 3) and last not in (1, 3)):
        return "nhwc"
    if first in CHANNELS:
        return "nchw"
    raise ValueError(
        f"Cannot tell the channel axis of image array shape {shape}: expected "
        f"1, 3 or 4 channels in the last axis (n, H, W, C) or the second axis "
        f"(n, C, H, W)."
    )


def check_integer_range(a: np.ndarray) -> None:
    """Refuse integer images with values outside [0, 255]."""
    if a.size and (a.min() < 0 or a.max() > 255):
        raise ValueError(
            f"Integer images must hold values in [0, 255]; got values in "
            f"[{a.min()}, {a.max()}]. Convert other ranges to float in [0, 1]."
        )


def pixel_scale(a: np.ndarray, unit: float = 1.0) -> float | None:
    """What to divide the finite numeric images ``a`` by to get [0, 1].

    Parameters
    ----------
    a : ndarray
        Images, integer or float, all finite.
    unit : float, default=1.0
        The divisor for float images whose values all lie in [0, 1]: 1, or
        255 for a model fitted on floats in [0, 255], to which such images
        are dark ones of the same kind.

    Returns
    -------
    scale : float or None
        255 for integers and floats reaching above 1, ``unit`` for floats in
        [0, 1], None for floats outside [0, 255] (not pixel values).
    """
    if a.dtype.kind in "ui":
        return 255.0
    if a.dtype.kind == "b" or not a.size:
        return 1.0
    low, high = float(a.min()), float(a.max())
    if low < 0 or high > 255:
        return None
    return 255.0 if high > 1 else float(unit)
