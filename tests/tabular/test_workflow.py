"""The tabular estimators inside scikit-learn workflows, and on real data."""

from __future__ import annotations

import io
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNet
from torch import nn

from skdl import TabularClassifier, TabularRegressor
from skdl.modules import TabularMLP

FAST = dict(hidden_layer_sizes=(8,), max_epochs=3, random_state=0)


class Swish(nn.Module):
    """A user's activation; module level, so that fitted models pickle."""

    def forward(self, x):
        return x * torch.sigmoid(x)


class MySGD(torch.optim.SGD):
    """A user's optimizer class."""


def _frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    city = rng.choice(["Oslo", "Rome", "Lima"], size=n).astype(object)
    city[rng.random(n) < 0.1] = None
    X = pd.DataFrame(
        {
            "x": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "n": rng.integers(0, 5, size=n),
            "flag": rng.random(n) < 0.5,
            "city": city,
            "tier": pd.Categorical(rng.choice(["a", "b"], size=n)),
        }
    )
    y = np.where((X["x"].fillna(0) > 0) ^ (X["city"] == "Rome"), "up", "down")
    return X, y


def _cases():
    X, y = _frame()
    Xr, yr = make_regression(100, 4, n_targets=2, random_state=0)
    return {
        "classifier-frame": (
            TabularClassifier(
                activation=Swish,
                optimizer=MySGD,
                lr_schedule="cosine_warmup",
                dropout=0.2,
                **FAST,
            ),
            X,
            y,
        ),
        "regressor-multi-output": (
            TabularRegressor(lr_schedule="onecycle", normalization="batch", **FAST),
            Xr,
            yr,
        ),
    }


def _predict(est, X):
    if hasattr(est, "predict_proba"):
        return est.predict_proba(X)
    return est.predict(X)


# --------------------------------------------------------------- attributes
def test_fitted_attributes():
    X, y = _frame()
    clf = TabularClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, ["down", "up"])
    assert clf.n_features_in_ == 5
    np.testing.assert_array_equal(clf.feature_names_in_, X.columns)
    assert isinstance(clf.history_, pd.DataFrame) and len(clf.history_) == 3
    assert clf.n_epochs_ == clf.n_iter_ == 3
    assert 1 <= clf.best_epoch_ <= 3
    assert isinstance(clf.net_, NeuralNet)
    assert isinstance(clf.net_.module_, TabularMLP)
    assert not [k for k in vars(TabularClassifier(**FAST)) if k.endswith("_")]


# ------------------------------------------------- clone, pickle and joblib
@pytest.mark.parametrize("case", ["classifier-frame", "regressor-multi-output"])
def test_pickle_joblib_and_clone_round_trips(case):
    est, X, y = _cases()[case]
    expected = _predict(est.fit(X, y), X)

    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(_predict(restored, X), expected)

    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(_predict(joblib.load(buffer), X), expected)

    twin = clone(est)
    assert not hasattr(twin, "net_")
    assert twin.get_params() == est.get_params()
    np.testing.assert_array_equal(_predict(twin.fit(X, y), X), expected)


def test_pickled_model_predicts_unseen_categories():
    X, y = _frame()
    clf = pickle.loads(pickle.dumps(TabularClassifier(**FAST).fit(X, y)))
    X_new = X.head(2).copy()
    X_new["city"] = ["Paris", None]
    assert np.all(np.isfinite(clf.predict_proba(X_new)))


# --------------------------------------------- Pipeline and model selection
def test_pipeline_and_cross_val_score():
    X, y = make_classification(200, 6, class_sep=2.0, random_state=0)
    pipe = make_pipeline(
        StandardScaler(), TabularClassifier((16,), lr=0.01, max_epochs=20)
    )
    pipe.set_params(tabularclassifier__random_state=0)
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.8)


def test_cross_val_score_regressor():
    X, y = make_regression(150, 4, noise=1.0, random_state=0)
    reg = TabularRegressor((16,), lr=0.01, max_epochs=30, random_state=0)
    assert np.all(cross_val_score(reg, X, y, cv=3) > 0.8)


NON_DEFAULT = {
    "hidden_layer_sizes": (5, 4),
    "activation": "tanh",
    "dropout": 0.1,
    "normalization": "layer",
    "weight_decay": 1e-3,
    "l1": 1e-4,
    "scaling": "robust",
    "embedding_dim": 3,
    "numeric_embedding": None,
    "feature_scale": True,
    "n_ensemble": 2,
    "ema_epochs": 0.5,
    "early_stopping": False,
    "patience": 2,
    "validation_fraction": 0.3,
    "tol": 1e-2,
    "max_epochs": 2,
    "batch_size": 16,
    "lr": 3e-3,
    "optimizer": "rmsprop",
    "lr_schedule": "step",
    "random_state": 7,
    "device": "cpu",
    "verbose": 1,
}
# Hyperparameters whose behaviour is tested with their own features, in
# tests/tabular/test_tabular_augment.py, tests/test_finetune.py,
# tests/tabular/test_accuracy_knobs.py (label_smoothing),
# tests/tabular/test_calibration.py (calibration),
# tests/test_precision.py (precision, compile) and
# tests/test_callbacks_param.py (callbacks, which clone into new objects).
TESTED_ELSEWHERE = {
    "callbacks",  # tests/test_callbacks_param.py
    "warm_start",  # tests/test_continue.py
    "checkpoint",  # tests/test_checkpoint.py
    "augment",
    "weights",
    "freeze",
    "unfreeze_at",
    "backbone_lr_scale",
    "label_smoothing",
    "calibration",
    "precision",
    "compile",
}


@pytest.mark.parametrize("Est", [TabularClassifier, TabularRegressor])
def test_every_hyperparameter_can_be_set_like_a_grid_search_does(Est):
    X, y = _frame()
    y = (y == "up").astype(int)
    defaults = Est().get_params()
    assert set(NON_DEFAULT) <= set(defaults)
    extra = set(defaults) - set(NON_DEFAULT) - TESTED_ELSEWHERE - {"class_weight"}
    assert not extra, f"untested hyperparameters: {extra}"
    for name, value in NON_DEFAULT.items():
        assert defaults[name] != value, name
        est = clone(Est(max_epochs=1)).set_params(**{name: value})
        assert clone(est).get_params()[name] == value
        est.fit(X, y)
        assert np.all(np.isfinite(est.predict(X)))


def test_grid_search_in_parallel_over_deep_learning_knobs():
    X, y = make_classification(120, 5, class_sep=2.0, random_state=0)
    base = TabularClassifier((8,), max_epochs=4, lr=0.01, random_state=0)
    search = GridSearchCV(
        base,
        {"activation": ["relu", "tanh"], "dropout": [0.0, 0.3]},
        cv=2,
        n_jobs=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    best = search.best_estimator_
    assert best.get_params()["activation"] == search.best_params_["activation"]
    kind = {"relu": nn.ReLU, "tanh": nn.Tanh}[search.best_params_["activation"]]
    assert any(isinstance(m, kind) for m in best.net_.module_.modules())
    has_dropout = any(isinstance(m, nn.Dropout) for m in best.net_.module_.modules())
    assert has_dropout == (search.best_params_["dropout"] > 0)

    search = GridSearchCV(
        base,
        {"weight_decay": [0.0, 0.1], "early_stopping": [True, False]},
        cv=2,
        n_jobs=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    best = search.best_estimator_
    assert ("valid_loss" in best.history_) == search.best_params_["early_stopping"]
    decays = {g["weight_decay"] for g in best.net_.optimizer_.param_groups}
    assert decays == {0.0, search.best_params_["weight_decay"]}


def test_grid_search_over_a_pipeline_with_string_categoricals():
    X, y = _frame(n=160)
    numeric = ["x", "n"]
    prep = ColumnTransformer(
        [("scale", StandardScaler(), numeric)],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    pipe = Pipeline([("prep", prep), ("clf", TabularClassifier(**FAST))])
    search = GridSearchCV(
        pipe,
        {"clf__hidden_layer_sizes": [(8,), (16,)], "clf__scaling": [None, "standard"]},
        cv=2,
    ).fit(X, y)
    clf = search.best_estimator_["clf"]
    # The strings reached the network as categories, NaNs and all.
    assert "city" in clf.encoder_.categorical_columns_
    assert np.all(np.isfinite(search.predict_proba(X)))
    assert set(search.predict(X)) <= {"down", "up"}


# ----------------------------------------------------------------- real data
def _held_out(frame, target, n_train, n_test, seed=0):
    frame = frame.sample(n=n_train + n_test, random_state=seed)
    y = frame.pop(target)
    return (
        frame.iloc[:n_train],
        frame.iloc[n_train:],
        y.iloc[:n_train],
        y.iloc[n_train:],
    )


@pytest.mark.data
def test_titanic_raw_frame_beats_the_majority_class(data_dir):
    frame = pd.read_csv(data_dir / "tabular" / "seaborn_titanic.csv.gz")
    frame = frame.drop(columns=["alive"])  # the target, as a string
    X_train, X_test, y_train, y_test = _held_out(frame, "survived", 400, 300)
    assert X_train.isna().any().any() and (X_train.dtypes == "str").any()
    clf = TabularClassifier((32,), lr=3e-3, max_epochs=40, random_state=0)
    clf.fit(X_train, y_train)
    baseline = y_test.value_counts(normalize=True).max()
    assert clf.score(X_test, y_test) > baseline + 0.08


@pytest.mark.data
def test_adult_raw_frame_beats_the_majority_class(data_dir):
    frame = pd.read_csv(
        data_dir / "tabular" / "uci_adult_train.csv.gz",
        skipinitialspace=True,
        na_values="?",
    )
    X_train, X_test, y_train, y_test = _held_out(frame, "income", 600, 400)
    assert X_train.isna().any().any()
    clf = TabularClassifier((32,), lr=3e-3, max_epochs=40, random_state=0)
    clf.fit(X_train, y_train)
    np.testing.assert_array_equal(clf.classes_, ["<=50K", ">50K"])
    baseline = y_test.value_counts(normalize=True).max()
    assert clf.score(X_test, y_test) > baseline + 0.04


@pytest.mark.data
def test_california_housing_raw_frame_regression(data_dir):
    frame = pd.read_csv(data_dir / "tabular" / "california_housing.csv.gz")
    X_train, X_test, y_train, y_test = _held_out(frame, "median_house_value", 500, 300)
    reg = TabularRegressor((32,), lr=3e-3, max_epochs=60, random_state=0)
    reg.fit(X_train, y_train)
    assert "ocean_proximity" in reg.encoder_.categorical_columns_
    assert reg.score(X_test, y_test) > 0.4
