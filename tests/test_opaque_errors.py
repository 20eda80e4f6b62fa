"""Bad input that failed deep inside numpy, PIL or torch gets skdl's own message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.utils import check_random_state

from skdl import TabularClassifier, TabularRegressor

FAST = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
X8 = np.random.default_rng(0).normal(size=(8, 2))
STRINGS = ["a", "b", "a", "b", "a", "b", "a", "b"]


def _with(value, at=2, labels=STRINGS):
    return [*labels[:at], value, *labels[at + 1 :]]


@pytest.mark.parametrize(
    "y",
    [
        _with(None),
        _with(np.nan),  # a list: numpy would have made "nan" a class
        pd.Series(_with(None)),
        pd.Series(_with(np.nan), dtype="category"),
        np.array(_with(None), dtype=object),
        pd.Series(_with(pd.NA), dtype="string"),
    ],
    ids=["list-None", "list-nan", "Series-None", "category-nan", "object-None", "NA"],
)
def test_missing_class_labels_are_named(y):
    with pytest.raises(ValueError, match=r"y holds 1 missing label.*row\(s\) \[2\]"):
        TabularClassifier(**FAST).fit(X8, y)


@pytest.mark.parametrize(
    "y",
    [
        _with(1),
        np.array(_with(1), dtype=object),
        pd.Series(_with(1.5)),
    ],
    ids=["list", "object-array", "Series"],
)
def test_mixed_type_class_labels_are_named(y):
    with pytest.raises(ValueError, match=r"y mixes .*labels.* and .*labels"):
        TabularClassifier(**FAST).fit(X8, y)


def test_labels_of_one_type_still_fit():
    for y in (STRINGS, pd.Series(STRINGS, dtype="category"), [0, 1] * 4):
        clf = TabularClassifier(**FAST).fit(X8, y)
        assert set(clf.predict(X8)) <= set(y)


@pytest.mark.parametrize("Est", [TabularClassifier, TabularRegressor])
@pytest.mark.parametrize("sample_weight", [np.zeros(8), 0.0], ids=["array", "scalar"])
def test_all_zero_sample_weight_is_named(Est, sample_weight):
    y = np.arange(8) % 2
    with pytest.raises(ValueError, match="sample_weight is zero for every sample"):
        Est(**FAST).fit(X8, y, sample_weight=sample_weight)


def test_validation_split_with_only_zero_weights_is_refused():
    # Its weighted validation loss would be 0.0 in every epoch, so early
    # stopping would keep epoch 1 without a word.
    X, y = make_classification(200, 4, random_state=0)
    clf = TabularClassifier(hidden_layer_sizes=(8,), max_epochs=5, random_state=0)
    _, valid_idx = clf._split(200, y, check_random_state(0))
    weights = np.ones(200)
    weights[valid_idx] = 0
    with pytest.raises(ValueError, match="validation split.*zero weight"):
        clf.fit(X, y, sample_weight=weights)
    # Without early stopping there is no validation split to judge by.
    clf.set_params(early_stopping=False).fit(X, y, sample_weight=weights)
    assert clf.n_epochs_ == 5
