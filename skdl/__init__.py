"""skdl: scikit-learn-compatible deep-learning estimators.

Deep learning's important knobs (activation functions, dropout, weight decay,
early stopping, augmentation, fine-tuning) as plain hyperparameters of
estimators that work with ``Pipeline``, ``GridSearchCV`` and
``cross_val_score``.
"""

import importlib as _importlib
import sys as _sys

from . import augment, datasets, diagnostics, finetune
from ._persistence.model_file import load
from ._search import search_space
from ._training.accelerate import use_accelerator
from .exceptions import TrainingDivergedError
from .tabular import TabularClassifier, TabularRegressor
from .vision import ImageClassifier

__version__ = "0.1.0.dev0"

# Models pickled before the training engine became one package name its
# classes by their old modules (``skdl._net.SkdlNet``, ``skdl._callbacks``,
# ...); each old path names its module in skdl._training, so they load.
for _old in (
    "accelerate",
    "averaging",
    "callbacks",
    "checkpoint",
    "data",
    "devices",
    "interrupt",
    "net",
    "parallel",
):
    _sys.modules.setdefault(
        f"{__name__}._{_old}", _importlib.import_module(f"._training.{_old}", __name__)
    )

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
