"""Image estimators, image inputs and backbones."""

from ._backbones import classification_models
from ._classifier import ImageClassifier

__all__ = ["ImageClassifier", "classification_models"]
