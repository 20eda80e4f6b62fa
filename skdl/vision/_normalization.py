"""``input_normalization``: which per-channel statistics the network uses.

``"auto"`` and ``"fit"`` are resolved by the estimator (pretrained weights'
statistics or the training images'); this module holds the fixed presets,
the validation of a user's ``(mean, std)`` pair and the matching of the
statistics to the image and backbone channels.
"""

from __future__ import annotations

import numpy as np
import torch

from .._validation.describe import describe_value

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "fit_channels",
    "image_statistics",
    "preset_statistics",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def preset_statistics(value) -> tuple[np.ndarray, np.ndarray] | None:
    """Fixed ``(mean, std)`` for ``"imagenet"`` or a pair; None otherwise.

    Parameters
    ----------
    value : {"auto", "imagenet", "fit"} or (mean, std)
        The ``input_normalization`` parameter.

    Returns
    -------
    stats : (ndarray, ndarray) or None
        float64 mean and std, each of one or more channels.

    Raises
    ------
    ValueError
        If a pair is malformed: not two entries, not numbers, not finite,
        a std that is not positive, or mean and std of different lengths.
    """
    if isinstance(value, str):
        if value == "imagenet":
            return np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)
        return None
    problem = None
    if len(value) != 2:
        problem = f"it has {len(value)} entries"
    else:
        try:
            mean, std = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in value)
        except (TypeError, ValueError):
            problem = "its entries are not numbers or sequences of numbers"
        else:
            if mean.ndim != 1 or std.ndim != 1 or not (mean.size and std.size):
                problem = "mean and std must be numbers or flat sequences"
            elif not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
                problem = "it holds non-finite values"
            elif np.any(std <= 0):
                problem = "std must be positive"
            elif mean.size != std.size and 1 not in (mean.size, std.size):
                problem = f"mean has {mean.size} values but std {std.size}"
    if problem is not None:
        raise ValueError(
            f"input_normalization={describe_value(value)} is not a (mean, std) "
            f"pair: {problem}. Pass 'auto', 'imagenet', 'fit' or e.g. "
            f"((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)) or (0.5, 0.5)."
        )
    size = max(mean.size, std.size)
    return np.broadcast_to(mean, size).copy(), np.broadcast_to(std, size).copy()


def fit_channels(mean, std, n_channels: int, backbone_channels: int) -> tuple:
    """Statistics with one value per image channel or per backbone channel.

    A single value applies to every image channel. Grayscale images on an
    RGB backbone may use either one value or three (they are repeated to
    three channels before normalization).

    Raises
    ------
    ValueError
        If the number of values fits neither the images nor the backbone.
    """
    mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    if mean.size == 1 and n_channels > 1:
        mean, std = np.repeat(mean, n_channels), np.repeat(std, n_channels)
    if mean.size not in (n_channels, backbone_channels):
        raise ValueError(
            f"input_normalization gives {mean.size} channel statistics, but the "
            f"images have {n_channels} channel(s) and the network takes "
            f"{backbone_channels}. ImageNet's statistics are for RGB; for "
            f"grayscale images on a one-channel network use 'fit' or one "
            f"(mean, std) value."
        )
    return mean, std


def image_statistics(dataset, num_workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of a dataset's images in [0, 1].

    A constant channel gets std 1, so normalizing it does not divide by 0.
    """
    total = None
    count = 0
    for xb, _ in dataset.batches(256, num_workers=num_workers):
        x = xb["x"].double()
        if total is None:
            total = torch.zeros(x.shape[1], dtype=torch.float64)
            total_sq = torch.zeros_like(total)
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x**2).sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = (total_sq / count - mean**2).clamp_min(0).sqrt().numpy()
    return mean.numpy(), np.where(std > 1e-6, std, 1.0)
