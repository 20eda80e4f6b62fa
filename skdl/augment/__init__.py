"""Augmentation transformers: scikit-learn objects built on torchvision.

Estimators apply an augmenter to training batches only, through its
``augment_batch`` method; ``transform`` (where available), :func:`expand`
and :func:`plot_augmented` use it outside training.
"""

from ._base import BaseAugmenter
from ._expand import expand
from ._image import ImageAugmenter
from ._mix import CutMix, Mixup
from ._plot import plot_augmented
from ._tabular import GaussianNoise

__all__ = [
    "BaseAugmenter",
    "CutMix",
    "GaussianNoise",
    "ImageAugmenter",
    "Mixup",
    "expand",
    "plot_augmented",
]
