"""TabularClassifier: output layer, labels, class and sample weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_blobs, make_classification
from torch import nn

from skdl import TabularClassifier
from skdl._tasks import SmoothedBCEWithLogitsLoss

FAST = dict(hidden_layer_sizes=(8,), max_epochs=3, random_state=0)
# A small, smooth model of the raw features: the weighting tests need a
# network that cannot fit each reweighted point on its own.
SMALL_NET = dict(hidden_layer_sizes=(8,), numeric_embedding=None, scaling="standard")


def _logits(clf, X):
    """The network's raw outputs, computed directly from the module."""
    arrays = clf.encoder_.transform(X)
    inputs = {k: torch.from_numpy(v) for k, v in arrays.items()}
    clf.net_.module_.eval()
    with torch.no_grad():
        return clf.net_.module_(**inputs).double()


def _easy(n=150, centers=2, seed=0):
    X, y = make_blobs(n, 4, centers=centers, cluster_std=1.0, random_state=seed)
    return X, y


def _overlapping(n=200, seed=0):
    # Two balanced, heavily overlapping classes: where the boundary goes is
    # decided by the weights more than by the data.
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X[:, 0] + 2.0 * rng.normal(size=n) > 0
    return X, np.where(y, "b", "a")


# -------------------------------------------------------------- output layer
def test_binary_has_one_logit_and_sigmoid_probabilities():
    X, y = _easy()
    clf = TabularClassifier(n_ensemble=1, **FAST).fit(X, y)
    assert clf.net_.module_.head.out_features == 1
    # The sigmoid lives in the loss (label smoothing is on by default).
    assert isinstance(clf.net_.criterion_, SmoothedBCEWithLogitsLoss)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    # The logits are divided by the fitted softmax temperature.
    p1 = torch.sigmoid(_logits(clf, X) / clf.temperatures_[0]).numpy().ravel()
    np.testing.assert_allclose(proba[:, 1], p1, rtol=1e-6)
    np.testing.assert_array_equal(
        clf.predict(X), clf.classes_[(proba[:, 1] > 0.5).astype(int)]
    )


def test_multiclass_has_one_logit_per_class_and_softmax_probabilities():
    X, y = _easy(centers=4)
    clf = TabularClassifier(n_ensemble=1, **FAST).fit(X, y)
    assert clf.net_.module_.head.out_features == 4
    assert isinstance(clf.net_.criterion_, nn.CrossEntropyLoss)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 4)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    expected = torch.softmax(_logits(clf, X) / clf.temperatures_[0], dim=1).numpy()
    np.testing.assert_allclose(proba, expected, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])


def test_learns_a_separable_problem():
    X, y = _easy(centers=3)
    clf = TabularClassifier((16,), lr=0.01, max_epochs=30, random_state=0)
    assert clf.fit(X[:100], y[:100]).score(X[100:], y[100:]) > 0.9


# ------------------------------------------------------------------- labels
def _label_cases():
    X, y = _easy(centers=3)
    names = np.array(["cat", "dog", "emu"])
    return (
        X,
        y,
        {
            "str": names[y],
            "object": names[y].astype(object),
            "pandas_str": pd.Series(names[y], dtype="str"),
            "int": np.array([3, 7, -10])[y],
            "bool": y[:] == 1,
            "category": pd.Series(pd.Categorical(names[y])),
        },
    )


@pytest.mark.parametrize(
    "kind", ["str", "object", "pandas_str", "int", "bool", "category"]
)
def test_original_labels_are_kept_and_mapped_right(kind):
    X, y, cases = _label_cases()
    labels = cases[kind]
    clf = TabularClassifier((16,), lr=0.01, max_epochs=30, random_state=0)
    clf.fit(X, labels)
    values = np.asarray(labels)
    np.testing.assert_array_equal(clf.classes_, np.unique(values))
    pred = clf.predict(X)
    assert set(pred.tolist()) <= set(clf.classes_.tolist())
    if kind in ("bool",):
        assert pred.dtype == bool
    elif kind == "int":
        assert pred.dtype.kind == "i"
    else:
        assert all(isinstance(p, str) for p in pred)
    # Labels are not scrambled on the way back: the model is accurate.
    assert np.mean(pred == values) > 0.9


# ------------------------------------------------------------ class weights
def _share(pred, label):
    return float(np.mean(pred == label))


def test_extreme_class_weight_keyed_by_label_shifts_predictions():
    X, y = _overlapping()
    params = dict(SMALL_NET, lr=0.01, max_epochs=10, random_state=0)
    plain = TabularClassifier(**params).fit(X, y).predict(X)
    heavy_b = TabularClassifier(class_weight={"b": 100}, **params).fit(X, y)
    heavy_a = TabularClassifier(class_weight={"a": 100.0, "b": 1.0}, **params)
    heavy_a.fit(X, y)
    assert _share(heavy_b.predict(X), "b") > max(0.9, _share(plain, "b") + 0.2)
    assert _share(heavy_a.predict(X), "a") > max(0.9, _share(plain, "a") + 0.2)


@pytest.mark.parametrize(
    "labels, heavy", [(np.array([4, 9]), 9), (np.array([False, True]), True)]
)
def test_class_weight_dict_with_int_and_bool_labels(labels, heavy):
    X, y01 = _overlapping()
    y = labels[(y01 == "b").astype(int)]
    params = dict(SMALL_NET, lr=0.01, max_epochs=10, random_state=0)
    clf = TabularClassifier(class_weight={heavy: 100}, **params).fit(X, y)
    assert _share(clf.predict(X), heavy) > 0.9


def test_balanced_class_weight_favours_the_minority():
    X, y = make_classification(
        300, 4, weights=[0.9], class_sep=0.5, flip_y=0.05, random_state=0
    )
    params = dict(SMALL_NET, lr=0.01, max_epochs=10, random_state=0)
    plain = TabularClassifier(**params).fit(X, y).predict(X)
    balanced = TabularClassifier(class_weight="balanced", **params).fit(X, y)
    assert _share(balanced.predict(X), 1) > _share(plain, 1) + 0.1


def test_class_weight_equals_the_matching_sample_weight():
    X, y = _overlapping()
    params = dict(hidden_layer_sizes=(8,), max_epochs=4, random_state=0)
    by_class = TabularClassifier(class_weight={"b": 3.0}, **params).fit(X, y)
    by_sample = TabularClassifier(**params).fit(
        X, y, sample_weight=np.where(y == "b", 3.0, 1.0)
    )
    np.testing.assert_array_equal(by_class.predict_proba(X), by_sample.predict_proba(X))


# ----------------------------------------------------------- sample weights
def test_zero_sample_weight_ignores_those_rows():
    # Clean rows follow sign(x0); the "poison" rows repeat some of them with
    # flipped labels. Weighted 0, the poison must not matter.
    rng = np.random.default_rng(0)
    X_clean = rng.normal(size=(200, 3))
    y_clean = (X_clean[:, 0] > 0).astype(int)
    X_poison = X_clean[y_clean == 1][:80]
    X = np.vstack([X_clean, X_poison])
    y = np.concatenate([y_clean, np.zeros(len(X_poison), dtype=int)])
    weight = np.r_[np.ones(200), np.zeros(len(X_poison))]
    params = dict(
        SMALL_NET,
        lr=0.02,
        max_epochs=25,
        early_stopping=False,
        random_state=0,
        n_ensemble=1,  # one network shows the poison; 5 partly average it out
    )
    X_test = rng.normal(size=(300, 3))
    y_test = (X_test[:, 0] > 0).astype(int)
    clean = TabularClassifier(**params).fit(X_clean, y_clean)
    ignored = TabularClassifier(**params).fit(X, y, sample_weight=weight)
    poisoned = TabularClassifier(**params).fit(X, y)
    assert np.mean(ignored.predict(X_test) == clean.predict(X_test)) > 0.95
    assert ignored.score(X_test, y_test) > 0.9
    assert poisoned.score(X_test, y_test) < ignored.score(X_test, y_test) - 0.1


def test_sample_weights_change_the_model_uniform_ones_do_not():
    X, y = _overlapping()
    params = dict(hidden_layer_sizes=(8,), max_epochs=4, random_state=0)
    plain = TabularClassifier(**params).fit(X, y).predict_proba(X)
    uniform = TabularClassifier(**params).fit(X, y, sample_weight=np.full(len(y), 3.0))
    np.testing.assert_array_equal(uniform.predict_proba(X), plain)
    w = np.random.default_rng(0).uniform(0.1, 3.0, size=len(y))
    weighted = TabularClassifier(**params).fit(X, y, sample_weight=w)
    assert np.abs(weighted.predict_proba(X) - plain).max() > 1e-3


# ------------------------------------------------------- validation split
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_validation_split_is_stratified(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 4))
    y = rng.permutation(np.r_[np.zeros(180, dtype=int), np.ones(20, dtype=int)])
    clf = TabularClassifier(validation_fraction=0.2, random_state=seed, max_epochs=1)
    clf.set_params(hidden_layer_sizes=(4,)).fit(X, y)
    valid = clf.net_.train_split.keywords["valid_ds"]
    assert len(valid) == 40
    assert int(valid.y.sum()) == 4


def test_valid_score_is_accuracy_of_the_kept_model():
    X, y = _easy(centers=3)
    clf = TabularClassifier(
        (8,),
        lr=0.01,
        max_epochs=15,
        patience=3,
        validation_fraction=0.3,
        label_smoothing=0.0,  # the loss recomputed below uses plain targets
        random_state=0,
    ).fit(X, y)
    valid = clf.net_.train_split.keywords["valid_ds"]
    logits = clf.net_.forward(valid)
    accuracy = float((logits.argmax(1) == valid.y).float().mean())
    assert accuracy == pytest.approx(clf.history_.loc[clf.best_epoch_, "valid_score"])
    loss = nn.functional.cross_entropy(logits, valid.y)
    assert float(loss) == pytest.approx(clf.history_["valid_loss"].min(), rel=1e-5)
