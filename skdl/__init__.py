"""skdl: scikit-learn-compatible deep-learning estimators.

Deep learning's important knobs (activation functions, dropout, weight decay,
early stopping, augmentation, fine-tuning) as plain hyperparameters of
estimators that work with ``Pipeline``, ``GridSearchCV`` and
``cross_val_score``.
"""

from . import augment, datasets, diagnostics, finetune
from ._persistence.model_file import load
from ._search import search_space
from ._training.accelerate import use_accelerator
from .exceptions import TrainingDivergedError
from .tabular import TabularClassifier, TabularRegressor
from .vision import ImageClassifier

__version__ = "0.1.0.dev0"

__all__ = [
    "ImageClassifier",
    "TabularClassifier",
    "TabularRegressor",
    "TrainingDivergedError",
    "__version__",
    "augment",
    "datasets",
    "diagnostics",
    "finetune",
    "load",
    "search_space",
    "use_accelerator",
]
