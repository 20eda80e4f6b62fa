"""Tabular estimators: MLPs over numeric features and categorical embeddings."""

from ._classifier import TabularClassifier
from ._encoding import TabularEncoder
from ._regressor import TabularRegressor

__all__ = ["TabularClassifier", "TabularEncoder", "TabularRegressor"]
