"""plot_augmented: a grid of augmented samples, to see what an augmenter does."""

from __future__ import annotations

import numbers

import torch
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from ._base import _images_to_tensor, _seeded

__all__ = ["plot_augmented"]


@validate_params(
    {
        "X": ["array-like"],
        "augmenter": [HasMethods(["augment_batch"])],
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_augmentations": [Interval(numbers.Integral, 1, None, closed="left")],
        "fig": [None, HasMethods(["subplots"])],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def plot_augmented(
    X, augmenter, *, n_samples=4, n_augmentations=5, fig=None, random_state=None
):
    """Draw images next to augmented versions of them.

    Row ``i`` shows ``X[i]`` and then ``n_augmentations`` augmented versions,
    each from one call of the augmenter's ``augment_batch`` (the code the
    estimators run on training batches) over the shown images. Mixing
    augmenters pair each shown image with another shown image.

    Parameters
    ----------
    X : array-like of shape (n, H, W), (n, H, W, C) or (n, C, H, W)
        Images with 1, 3 or 4 channels, integer (0-255) or float.
    augmenter : BaseAugmenter
        The augmenter to preview, such as :class:`ImageAugmenter`,
        :class:`Mixup` or :class:`CutMix`.
    n_samples : int, default=4
        Number of images (rows), taken from the start of ``X``; pass a subset
        of ``X`` to choose others.
    n_augmentations : int, default=5
        Augmented versions per image (columns after the original).
    fig : matplotlib.figure.Figure or None, default=None
        An empty figure to draw into; None creates one with pyplot.
    random_state : int, RandomState instance or None, default=None
        Seeds a fork of torch's generator for a reproducible picture; None
        draws from torch's global generator.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure; ``fig.axes`` holds the grid row by row.

    See Also
    --------
    expand : Enlarges a dataset with augmented copies.
    ImageAugmenter : Per-image geometric and photometric augmentation.

    Examples
    --------
    >>> import numpy as np
    >>> from skdl.augment import ImageAugmenter, plot_augmented
    >>> X = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    >>> fig = plot_augmented(X, ImageAugmenter(rotation=20), n_augmentations=3)
    >>> len(fig.axes)
    16
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plot_augmented needs matplotlib; install it with `pip install "
            "matplotlib` (or `pip install skdl[plot]`)."
        ) from exc

    x, _ = _images_to_tensor(X)
    x = x[:n_samples]
    n = len(x)
    # Dummy float targets let mixing augmenters run; others ignore them.
    y = torch.zeros(n, 1)
    columns = [x]
    with _seeded(random_state):
        for _ in range(n_augmentations):
            order = torch.randperm(n)
            xb, _ = augmenter.augment_batch({"x": x[order]}, y, n_classes=None)
            columns.append(xb["x"][torch.argsort(order)])

    if fig is None:
        fig = plt.figure(figsize=(1.5 * (n_augmentations + 1), 1.5 * n))
    axes = fig.subplots(n, n_augmentations + 1, squeeze=False)
    for col, images in enumerate(columns):
        for row in range(n):
            ax = axes[row, col]
            image = images[row].detach().cpu().clamp(0, 1)
            if image.shape[0] == 1:
                ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(image.permute(1, 2, 0).numpy())
            ax.set_axis_off()
        axes[0, col].set_title("original" if col == 0 else f"augmented {col}")
    return fig
