"""How skdl reads image arrays: the channel axis and the pixel range.

One rule for :class:`skdl.ImageClassifier` and the augmenters' ``transform``,
so that both read an array the same way.

* Layout: (n, H, W) is grayscale; a 4-D array is channels-last unless only
  its second axis looks like a channel axis (1, 3 or 4).
* Range: integer images hold values in [0, 255]; float images in [0, 1],
  or in [0, 255] when values exceed 1. Resampling (bicubic above all) rings
  past the edges, so each range tolerates an overshoot of ``SLACK`` of its
  width. Training floats that go far below 0 against their top, or are
  clearly negative in more than ``NEGATIVE_SHARE`` of their values (images
  standardized beforehand), are not pixel values; at prediction, floats
  outside the training range (with ``SLACK``) are refused.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CHANNELS",
    "NEGATIVE_SHARE",
    "RINGING",
    "SLACK",
    "channel_layout",
    "check_integer_range",
    "float_pixel_scale",
    "float_stats",
    "in_range",
    "pixel_scale",
]

#: Channel counts an image axis may have.
CHANNELS = (1, 3, 4)

#: Float pixels may overshoot their range by this fraction of its width
#: (bicubic upsampling of MNIST reaches [-63, 320] in [0, 255]).
SLACK = 0.5

#: Resampling rings below 0 by at most about this fraction of the top value
#: over more than a few pixels (bicubic upsampling of MNIST: 1.3% of them).
RINGING = 0.05

#: Float images with a larger share of values below ``-RINGING`` times their
#: top are not pixels (standardized images: 58 to 83%).
NEGATIVE_SHARE = 0.1


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


def float_stats(arrays) -> tuple[float, float, float]:
    """Lowest and highest value of float arrays, and their negative share.

    The negative share counts the values below ``-RINGING`` times the
    highest value, the ones resampling does not explain.
    """
    arrays = [a for a in arrays if a.size]
    if not arrays:
        return 0.0, 0.0, 0.0
    low = min(float(a.min()) for a in arrays)
    high = max(float(a.max()) for a in arrays)
    negative = 0
    if low < 0:
        bound = -RINGING * max(high, 0.0)
        negative = sum(int(np.count_nonzero(a < bound)) for a in arrays)
    return low, high, negative / sum(a.size for a in arrays)


def float_pixel_scale(low: float, high: float, negative_share: float) -> float | None:
    """The range of training float images with these :func:`float_stats`.

    The top decides between [0, 1] and [0, 255] (with ``SLACK``). Resampled
    pixels ring below 0 at a few edges, by a fraction of their top value;
    images standardized beforehand (mean 0) are clearly negative over much
    of their area (58% of Fashion-MNIST's pixels, 83% of MNIST's) or reach
    far below 0 against their top (a white page standardized: [-4.4, 0.2]).
    Either way they are not pixels: None.
    """
    if negative_share > NEGATIVE_SHARE or low < -SLACK * max(high, 0.0):
        return None
    for scale in (1.0, 255.0):
        if high <= scale * (1 + SLACK):
            return scale
    return None


def pixel_scale(a: np.ndarray) -> float | None:
    """What to divide the finite numeric images ``a`` by to get [0, 1].

    Parameters
    ----------
    a : ndarray
        Images, integer or float, all finite.

    Returns
    -------
    scale : float or None
        255 for integers; for floats, 1 or 255 by :func:`float_pixel_scale`
        (None when they are not pixel values).
    """
    if a.dtype.kind in "ui":
        return 255.0
    if a.dtype.kind == "b" or not a.size:
        return 1.0
    return float_pixel_scale(*float_stats([a]))


def in_range(low: float, high: float, scale: float) -> bool:
    """Whether floats spanning [low, high] fit pixels in [0, scale].

    Both ends may overshoot by ``SLACK`` of the range, as resampling does.
    This is the check at prediction, against the training range: it reads
    only the values' extent, so a call's other images never change whether
    an image is accepted, and small images, whose few pixels give no stable
    share of negative values, are judged like large ones.
    """
    return -SLACK * scale <= low and high <= scale * (1 + SLACK)
