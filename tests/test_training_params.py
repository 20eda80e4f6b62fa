"""Training parameters that the constraints admit but fit must still refuse."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

from skdl import TabularClassifier
from skdl.augment import GaussianNoise

FAST = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(80, 4, random_state=0)
    return X.astype(np.float32), y


@pytest.mark.parametrize(
    "optimizer, reason",
    [(torch.optim.LBFGS, "closure"), (torch.optim.SparseAdam, "sparse gradients")],
)
def test_optimizers_the_loop_cannot_drive_are_refused(data, optimizer, reason):
    X, y = data
    with pytest.raises(ValueError, match=rf"optimizer={optimizer.__name__}.*{reason}"):
        TabularClassifier(optimizer=optimizer, **FAST).fit(X, y)


def test_an_optimizer_subclass_still_trains(data):
    X, y = data

    class Tuned(torch.optim.Adam):
        pass

    clf = TabularClassifier(optimizer=Tuned, **FAST).fit(X, y)
    assert isinstance(clf.net_.optimizer_, Tuned)


def test_augmenter_class_instead_of_instance(data):
    X, y = data
    match = (
        r"augment=GaussianNoise is a class; pass an instance \(e.g. GaussianNoise\(\)\)"
    )
    with pytest.raises(TypeError, match=match):
        TabularClassifier(augment=GaussianNoise, **FAST).fit(X, y)


def test_estimator_class_as_weights(data):
    X, y = data
    with pytest.raises(TypeError, match="weights=TabularClassifier is a class"):
        TabularClassifier(weights=TabularClassifier, **FAST).fit(X, y)


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="MPS is available")
def test_unavailable_device_type_is_named(data):
    X, y = data
    with pytest.raises(ValueError, match="device='mps'.*no 'mps' device"):
        TabularClassifier(device="mps", **FAST).fit(X, y)


def test_freeze_true_is_refused_and_false_freezes_nothing(data):
    X, y = data
    with pytest.raises(ValueError, match="freeze=True is ambiguous"):
        TabularClassifier(freeze=True, **FAST).fit(X, y)
    assert TabularClassifier(freeze=False, **FAST).fit(X, y).frozen_parameters_ == []


def test_unfreeze_after_the_last_epoch_warns(data):
    X, y = data
    clf = TabularClassifier(freeze=1, unfreeze_at=5, **FAST)
    with pytest.warns(UserWarning, match="unfreeze_at=5 is after the last epoch"):
        clf.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.set_params(unfreeze_at=2).fit(X, y)


def test_validation_fraction_that_leaves_no_training_rows(data):
    X, y = data
    with pytest.raises(ValueError, match="validation_fraction=0.99 of 80 samples"):
        TabularClassifier(validation_fraction=0.99, **FAST).fit(X, y)
