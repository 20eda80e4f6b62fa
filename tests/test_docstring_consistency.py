"""The estimators' shared parameters are documented alike (issue 18).

scikit-learn's ``assert_docstring_consistency`` compares the numpydoc entries
of the parameters that mean the same in every estimator; the tabular pair
shares more (the image classifier's defaults for the network and training
differ on purpose, and its entries say so).
"""

from __future__ import annotations

import pytest
from sklearn.utils._testing import assert_docstring_consistency

from skdl import ImageClassifier, TabularClassifier, TabularRegressor

ALL = [TabularClassifier, TabularRegressor, ImageClassifier]
TABULAR = [TabularClassifier, TabularRegressor]

#: Same meaning and same default in every estimator.
SHARED_BY_ALL = [
    "callbacks",
    "checkpoint",
    "compile",
    "device",
    "precision",
    "tol",
    "validation_fraction",
    "verbose",
    "warm_start",
]

#: Same in the two tabular estimators.
SHARED_BY_TABULAR = [
    *SHARED_BY_ALL,
    "activation",
    "augment",
    "backbone_lr_scale",
    "batch_size",
    "dropout",
    "freeze",
    "l1",
    "lr",
    "lr_schedule",
    "max_epochs",
    "n_ensemble",
    "optimizer",
    "patience",
    "random_state",
    "unfreeze_at",
    "weight_decay",
    "weights",
]

#: Fitted attributes that mean the same everywhere.
SHARED_ATTRIBUTES = ["patience_", "batch_size_"]


@pytest.mark.parametrize("param", SHARED_BY_ALL)
def test_parameters_shared_by_all_estimators(param):
    assert_docstring_consistency(ALL, include_params=[param])


@pytest.mark.parametrize("param", SHARED_BY_TABULAR)
def test_parameters_shared_by_the_tabular_estimators(param):
    assert_docstring_consistency(TABULAR, include_params=[param])


@pytest.mark.parametrize("attr", SHARED_ATTRIBUTES)
def test_resolved_values_are_documented_alike(attr):
    for cls in ALL:
        assert f"    {attr} : int" in cls.__doc__, f"{cls.__name__} lacks {attr}"
    assert_docstring_consistency(ALL, include_attrs=[attr])


def test_resolved_ensemble_size_is_documented_alike():
    for cls in ALL:
        assert "    n_ensemble_ : int" in cls.__doc__, f"{cls.__name__} lacks it"
    assert_docstring_consistency(TABULAR, include_attrs=["n_ensemble_"])
