"""How skdl reads image arrays: the channel axis and the pixel range.

One rule for :class:`skdl.ImageClassifier` and the augmenters' ``transform``,
so that both read an array the same way.

* Layout: (n, H, W) is grayscale; a 4-D array is channels-last unless only
  its second axis looks like a channel axis (1, 3 or 4).
* Range: integer images hold values in [0, 255]; float images in [0, 1],
  or in [0, 255] when values exceed 1. Resampling rings a little past the
  edges, so each range tolerates values down to ``-SLACK`` and up to
  ``SLACK`` of its width above the top. Floats outside both (e.g. images
  standardized beforehand) are not pixel values.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CHANNELS",
    "SLACK",
    "channel_layout",
    "check_integer_range",
    "in_range",
    "pixel_scale",
]

#: Channel counts an image axis may have.
CHANNELS = (1, 3, 4)

#: Float pixels may overshoot their range: by this fraction of its width at
#: the top, by this much (absolute) below 0.
SLACK = 0.1


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


def pixel_scale(a: np.ndarray) -> float | None:
    """What to divide the finite numeric images ``a`` by to get [0, 1].

    Parameters
    ----------
    a : ndarray
        Images, integer or float, all finite.

    Returns
    -------
    scale : float or None
        255 for integers, 1 for floats in [0, 1], 255 for floats in
        [0, 255], each range widened by ``SLACK`` (see :func:`in_range`);
        None for other floats (not pixel values).
    """
    if a.dtype.kind in "ui":
        return 255.0
    if a.dtype.kind == "b" or not a.size:
        return 1.0
    low, high = float(a.min()), float(a.max())
    for scale in (1.0, 255.0):
        if high <= scale * (1 + SLACK):
            return scale if in_range(low, high, scale) else None
    return None


def in_range(low: float, high: float, scale: float) -> bool:
    """Whether floats spanning [low, high] are pixels in [0, scale].

    The top may overshoot by ``SLACK`` of the range, the bottom by ``SLACK``
    in absolute terms only: images standardized beforehand have a mean of 0
    and so clearly negative values, even when mostly positive.
    """
    return -SLACK <= low and high <= scale * (1 + SLACK)
