"""Bad input gets a clear error naming the problem, never NaN or a torch error."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import NotFittedError
from torch import nn

from skdl import TabularClassifier, TabularRegressor, TrainingDivergedError
from skdl.augment._base import BaseAugmenter
from skdl.diagnostics import diagnose

FAST = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
ESTIMATORS = [TabularClassifier, TabularRegressor]


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(60, 4, random_state=0)
    return X, y


# ----------------------------------------------------------------- X values
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_nan_in_numeric_array(Est, data):
    X, y = data
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN.*DataFrame"):
        Est(**FAST).fit(X_nan, y)
    est = Est(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.predict(X_nan)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_inf_in_numeric_input(Est, data, value):
    X, y = data
    X_inf = X.copy()
    X_inf[3, 1] = value
    with pytest.raises(ValueError, match="infinity"):
        Est(**FAST).fit(X_inf, y)
    with pytest.raises(ValueError, match=r"infinity in numeric column\(s\) \['b'\]"):
        Est(**FAST).fit(pd.DataFrame(X_inf, columns=list("abcd")), y)
    est = Est(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="infinity"):
        est.predict(X_inf)


@pytest.mark.parametrize("scaling", [None, "standard"])
def test_values_too_large_for_float32(data, scaling):
    X, y = data
    X_huge = X.copy()
    X_huge[3, 2] = 1e300
    match = r"too large for the network's float32.*column\(s\) \['c'\]"
    with pytest.raises(ValueError, match=match):
        TabularClassifier(scaling=scaling, **FAST).fit(
            pd.DataFrame(X_huge, columns=list("abcd")), y
        )
    with pytest.raises(ValueError, match="too large for the network's float32"):
        TabularClassifier(scaling=scaling, **FAST).fit(X_huge, y)
    clf = TabularClassifier(scaling=scaling, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="too large for the network's float32"):
        clf.predict(X_huge)


def test_complex_column_is_refused(data):
    X, y = data
    frame = pd.DataFrame({"z": X[:, 0] + 1j * X[:, 1], "x": X[:, 2]})
    with pytest.raises(TypeError, match="Column 'z' has complex dtype"):
        TabularClassifier(**FAST).fit(frame, y)
    with pytest.raises(ValueError, match="Complex data not supported"):
        TabularClassifier(**FAST).fit(frame.to_numpy(), y)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_wrong_number_of_features_at_predict(Est, data):
    X, y = data
    est = Est(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but .* expecting 4"):
        est.predict(X[:, :3])


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_wrong_columns_at_predict(data):
    X, y = data
    frame = pd.DataFrame(X, columns=list("abcd"))
    clf = TabularClassifier(**FAST).fit(frame, y)
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(frame.rename(columns={"d": "e"}))
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.predict(frame[["a", "b", "c"]].to_numpy())


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_fitted_on_an_array_predicts_on_a_dataframe(Est, data):
    # As scikit-learn estimators do: read the frame as an array, and warn if
    # it has feature names.
    X, y = data
    est = Est(**FAST).fit(X, y)
    expected = est.predict(X)
    with pytest.warns(UserWarning, match="X has feature names, but .* without"):
        named = est.predict(pd.DataFrame(X, columns=list("abcd")))
    np.testing.assert_array_equal(named, expected)
    np.testing.assert_array_equal(est.predict(pd.DataFrame(X)), expected)
    with pytest.raises(ValueError, match="X has 3 features"):
        est.predict(pd.DataFrame(X[:, :3]))
    strings = pd.DataFrame(X).astype({0: object})
    strings[0] = "red"
    with pytest.raises(ValueError, match="fitted on a numeric array, but X is a"):
        est.predict(strings)


def test_non_string_column_labels_are_matched_by_label_or_position(data):
    X, y = data
    frame = pd.DataFrame(X)  # columns 0..3: no feature names to scikit-learn
    clf = TabularClassifier(**FAST).fit(frame, y)
    expected = clf.predict_proba(frame)
    # The fitted labels in another order: matched by label.
    np.testing.assert_array_equal(clf.predict_proba(frame[[3, 1, 0, 2]]), expected)
    # Other labels: matched by position, with a warning.
    with pytest.warns(UserWarning, match=r"columns \[5, 6, 7, 8\].*by position"):
        renamed = clf.predict_proba(frame.set_axis([5, 6, 7, 8], axis=1))
    np.testing.assert_array_equal(renamed, expected)
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.predict(frame[[0, 1, 2]])
    # Fitted with feature names, predicting without: scikit-learn's warning.
    named = frame.set_axis(list("abcd"), axis=1)
    clf.fit(named, y)
    with pytest.warns(UserWarning) as record:
        by_position = clf.predict_proba(frame)
    assert len(record) == 1
    assert "X does not have valid feature names" in str(record[0].message)
    np.testing.assert_array_equal(by_position, clf.predict_proba(named))


def test_strings_in_a_column_that_was_numeric(data):
    X, y = data
    frame = pd.DataFrame(X, columns=list("abcd"))
    clf = TabularClassifier(**FAST).fit(frame, y)
    bad = frame.head(3).astype({"b": object})
    bad.loc[0, "b"] = "oops"
    with pytest.raises(ValueError, match="Column 'b' was numeric during fit"):
        clf.predict(bad)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_empty_X(Est):
    with pytest.raises(ValueError, match="0 sample"):
        Est(**FAST).fit(np.empty((0, 4)), np.empty(0))
    with pytest.raises(ValueError, match="0 sample"):
        Est(**FAST).fit(pd.DataFrame({"a": []}), np.empty(0))
    with pytest.raises(ValueError, match="0 feature"):
        Est(**FAST).fit(np.empty((5, 0)), np.arange(5) % 2)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_X_and_y_of_different_lengths(Est, data):
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        Est(**FAST).fit(X, y[:-5])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        Est(**FAST).fit(pd.DataFrame(X), y[:-5])


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_object_array_with_strings_asks_for_a_dataframe(Est, data):
    X, y = data
    X_obj = X.astype(object)
    X_obj[:, 0] = np.where(y == 1, "red", "blue")
    with pytest.raises(ValueError, match=r"non-numeric.*pd\.DataFrame"):
        Est(**FAST).fit(X_obj, y)


def test_datetime_column_is_refused_with_advice(data):
    X, y = data
    frame = pd.DataFrame({"when": pd.date_range("2020", periods=len(y)), "x": X[:, 0]})
    with pytest.raises(TypeError, match="Column 'when' has dtype datetime64"):
        TabularClassifier(**FAST).fit(frame, y)


def test_three_dimensional_X(data):
    X, y = data
    with pytest.raises(ValueError, match="dim 3"):
        TabularClassifier(**FAST).fit(X.reshape(len(X), 2, 2), y)


# ----------------------------------------------------------------- targets
def test_classifier_with_a_single_class(data):
    X, _ = data
    with pytest.raises(ValueError, match="at least 2 classes.*only 1 class: .*'a'"):
        TabularClassifier(**FAST).fit(X, np.full(len(X), "a"))


def test_classifier_with_a_continuous_target(data):
    X, _ = data
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        TabularClassifier(**FAST).fit(X, X[:, 0])


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_nan_target(Est, data):
    X, y = data
    y_nan = y.astype(float)
    y_nan[0] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        Est(**FAST).fit(X, y_nan)


def test_regressor_with_three_dimensional_target(data):
    X, _ = data
    with pytest.raises(ValueError, match="dim 3"):
        TabularRegressor(**FAST).fit(X, np.zeros((len(X), 2, 2)))


def test_class_weight_with_an_unknown_label(data):
    X, y = data
    labels = np.where(y == 1, "yes", "no")
    with pytest.raises(ValueError, match=r"class_weight has keys \[\"'maybe'\"\]"):
        TabularClassifier(class_weight={"maybe": 2.0}, **FAST).fit(X, labels)


@pytest.mark.parametrize("weight", [-0.5, np.nan, np.inf])
def test_class_weight_values_must_be_finite_and_non_negative(data, weight):
    X, y = data
    with pytest.raises(ValueError, match="class_weight values must be finite"):
        TabularClassifier(class_weight={0: weight}, **FAST).fit(X, y)


@pytest.mark.parametrize(
    "weights, match",
    [
        (-np.ones(60), "non-negative"),
        (np.r_[np.ones(59), np.nan], "sample_weight contains NaN"),
        (np.ones(10), r"sample_weight.shape == \(10,\), expected \(60,\)"),
        (np.zeros(60), "sample_weight is zero for every sample"),
    ],
)
def test_bad_sample_weight(data, weights, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        TabularClassifier(**FAST).fit(X, y, sample_weight=weights)


# ---------------------------------------------------------- hyperparameters
BAD_PARAMS = [
    ("dropout", 1.0),
    ("dropout", -0.1),
    ("activation", "foo"),
    ("activation", nn.ReLU()),
    ("activation", int),
    ("activation", nn.Linear),
    ("hidden_layer_sizes", (0,)),
    ("hidden_layer_sizes", (8, -1)),
    ("hidden_layer_sizes", (4.5,)),
    ("hidden_layer_sizes", 0),
    ("hidden_layer_sizes", "wide"),
    ("normalization", "group"),
    ("scaling", "log"),
    ("weight_decay", -1e-4),
    ("l1", -1.0),
    ("patience", 0),
    ("validation_fraction", 0.0),
    ("validation_fraction", 1.0),
    ("tol", -1.0),
    ("max_epochs", 0),
    ("batch_size", 0),
    ("batch_size", "big"),
    ("lr", 0.0),
    ("lr", -0.1),
    ("optimizer", "lbfgs"),
    ("optimizer", int),
    ("lr_schedule", "linear"),
    ("embedding_dim", 0),
    ("device", "gpu"),
    ("early_stopping", "yes"),
]


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("name, value", BAD_PARAMS, ids=lambda v: repr(v)[:20])
def test_invalid_hyperparameter_is_refused_at_fit(Est, data, name, value):
    X, y = data
    est = Est(**{**FAST, name: value})  # __init__ only stores it
    assert est.get_params()[name] is value
    with pytest.raises(ValueError, match=name):
        est.fit(X, y)


@pytest.mark.parametrize("value", ["heavy", ["a"]])
def test_invalid_class_weight(data, value):
    X, y = data
    with pytest.raises(ValueError, match="class_weight"):
        TabularClassifier(class_weight=value, **FAST).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is available")
# ids avoid the bare word "cuda": tests/conftest.py skips any test with that
# keyword when there is no GPU, parameter ids included.
@pytest.mark.parametrize("device", ["cuda", "cuda:1"], ids=["default", "indexed"])
def test_cuda_device_without_a_gpu(data, device):
    X, y = data
    with pytest.raises(ValueError, match=f"device='{device}'.*no CUDA GPU"):
        TabularClassifier(device=device, **FAST).fit(X, y)


def test_predict_before_fit(data):
    X, _ = data
    for Est in ESTIMATORS:
        with pytest.raises(NotFittedError):
            Est().predict(X)


# ---------------------------------------------------------------- divergence
def _diverging_regression():
    X, y = make_regression(200, 5, random_state=0)
    return X * 1e3, y * 1e6


@pytest.mark.parametrize("early_stopping", [True, False])
def test_diverging_training_raises_and_suggests_a_lower_lr(early_stopping):
    X, y = _diverging_regression()
    reg = TabularRegressor(
        (16,),
        lr=1e6,
        optimizer="sgd",
        scaling=None,
        early_stopping=early_stopping,
        max_epochs=5,
        random_state=0,
    )
    with pytest.raises(TrainingDivergedError, match=r"diverged.*lower `lr`"):
        reg.fit(X, y)
    # A failed fit leaves no model that could answer with NaN.
    with pytest.raises(NotFittedError):
        reg.predict(X)


def test_diverged_refit_leaves_no_network():
    X, y = _diverging_regression()
    reg = TabularRegressor((16,), max_epochs=2, random_state=0).fit(X, y)
    reg.set_params(lr=1e6, optimizer="sgd", scaling=None)
    with pytest.raises(TrainingDivergedError):
        reg.fit(X[:, :3], y)
    with pytest.raises(NotFittedError):
        reg.predict(X[:, :3])
    # Nothing of the previous fit is left to describe it, its curves included.
    assert not hasattr(reg, "history_") and not hasattr(reg, "best_epoch_")
    with pytest.raises(NotFittedError):
        diagnose(reg)


class _Watch(BaseAugmenter):
    """Records, at the first training batch, whether ``ref`` is still alive."""

    _input_kinds = frozenset({"tabular"})

    def __init__(self, ref=None, alive=None):
        self.ref = ref
        self.alive = alive

    def augment_batch(self, X_batch, y_batch=None, *, n_classes=None):
        if not self.alive:
            gc.collect()
            self.alive.append(self.ref() is not None)
        return X_batch, y_batch


def test_refit_releases_the_previous_network_before_training(data):
    # Otherwise a refit holds two networks (and their optimizer state) in
    # memory at once, which matters on a GPU.
    X, y = data
    clf = TabularClassifier(**FAST).fit(X, y)
    alive = []
    clf.set_params(augment=_Watch(weakref.ref(clf.net_.module_), alive)).fit(X, y)
    assert alive == [False]


def test_refit_on_bad_y_keeps_the_previous_model(data):
    X, y = data
    clf = TabularClassifier(**FAST).fit(X, y)
    before = clf.predict_proba(X)
    with pytest.raises(ValueError, match="class"):
        clf.fit(X[:, :2], np.zeros(len(y)))
    assert clf.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_diverging_classifier_raises():
    X, y = make_classification(200, 5, random_state=0)
    # Unsmoothed targets: with label smoothing the loss of huge logits grows
    # linearly (to ~1e18 here) instead of overflowing.
    clf = TabularClassifier(
        (16,),
        lr=1e6,
        optimizer="sgd",
        scaling=None,
        max_epochs=5,
        label_smoothing=0.0,
        random_state=0,
    )
    with pytest.raises(TrainingDivergedError, match="NaN or infinite"):
        clf.fit(X * 1e3, y)


def test_weights_blown_up_by_the_last_step_never_give_nan_predictions():
    # One full-batch step with an absurd lr: the training loss was finite, but
    # the weights it left behind overflow float32 in the forward pass.
    X, y = make_classification(200, 5, random_state=0)
    clf = TabularClassifier(
        (16,),
        lr=1e30,
        optimizer="sgd",
        batch_size=200,
        max_epochs=1,
        early_stopping=False,
        random_state=0,
    )
    with pytest.raises(FloatingPointError, match="lower `lr`"):
        clf.fit(X, y)
        clf.predict_proba(X)


def test_early_stopping_needs_two_samples():
    with pytest.raises(ValueError, match="at least 2 samples.*early_stopping=False"):
        TabularRegressor(**FAST).fit(np.ones((1, 3)), [1.0])
    reg = TabularRegressor(early_stopping=False, **FAST).fit(np.ones((1, 3)), [1.0])
    assert reg.n_epochs_ == 2 and np.all(np.isfinite(reg.predict(np.ones((2, 3)))))


def test_training_diverged_error_is_a_value_error():
    assert issubclass(TrainingDivergedError, ValueError)
    assert issubclass(TrainingDivergedError, FloatingPointError)
