"""Image estimators, image inputs and backbones."""

from . import _families  # noqa: F401 - declares torchvision's block rules
from ._backbones import classification_models
from ._classifier import ImageClassifier

__all__ = ["ImageClassifier", "classification_models"]
