"""n_ensemble: several networks trained on different splits, averaged."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.model_selection import GridSearchCV

from skdl import TabularClassifier, TabularRegressor

FAST = dict(hidden_layer_sizes=(16,), max_epochs=8, random_state=0)


def _member(est, i):
    """A shallow copy of ``est`` that predicts with member ``i`` alone."""
    single = pickle.loads(pickle.dumps(est))
    single.nets_ = [single.nets_[i]]
    single.net_ = single.nets_[0]
    if hasattr(single, "temperatures_"):
        single.temperatures_ = single.temperatures_[[i]]
    return single


@pytest.mark.parametrize("loader", [load_breast_cancer, load_iris])
def test_classifier_averages_member_probabilities(loader):
    X, y = loader(return_X_y=True)
    clf = TabularClassifier(n_ensemble=3, **FAST).fit(X, y)
    assert len(clf.nets_) == 3 and clf.net_ is clf.nets_[0]
    members = [_member(clf, i).predict_proba(X) for i in range(3)]
    np.testing.assert_allclose(clf.predict_proba(X), np.mean(members, axis=0))
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    # Members differ: their own initialization, shuffling and validation rows.
    assert np.abs(members[0] - members[1]).max() > 1e-3


def test_members_hold_out_different_validation_rows():
    X, y = load_breast_cancer(return_X_y=True)
    clf = TabularClassifier(n_ensemble=3, **FAST).fit(X, y)
    held_out = []
    for net in clf.nets_:
        valid = net.train_split.keywords["valid_ds"]
        rows = valid.features["x_num"].numpy()
        assert len(rows) == int(np.ceil(0.1 * len(X)))
        held_out.append({tuple(r) for r in rows.round(4)})
    assert held_out[0] != held_out[1] != held_out[2]
    # Together the members validated on more rows than any one of them.
    assert len(set.union(*held_out)) > len(held_out[0])


def test_first_member_matches_a_single_network():
    X, y = load_iris(return_X_y=True)
    single = TabularClassifier(n_ensemble=1, **FAST).fit(X, y)
    ensemble = TabularClassifier(n_ensemble=2, **FAST).fit(X, y)
    np.testing.assert_array_equal(
        _member(ensemble, 0).predict_proba(X), single.predict_proba(X)
    )
    pd.testing.assert_frame_equal(
        ensemble.history_.drop(columns="duration"),
        single.history_.drop(columns="duration"),
        atol=0,
        rtol=0,
    )


def test_regressor_averages_member_predictions():
    X, y = load_diabetes(return_X_y=True)
    reg = TabularRegressor(n_ensemble=3, **FAST).fit(X, y)
    members = [_member(reg, i).predict(X) for i in range(3)]
    np.testing.assert_allclose(reg.predict(X), np.mean(members, axis=0))
    assert reg.predict(X).shape == (len(X),)


def test_ensemble_is_reproducible_and_pickles():
    X, y = load_iris(return_X_y=True)
    a = TabularClassifier(n_ensemble=2, **FAST).fit(X, y)
    b = TabularClassifier(n_ensemble=2, **FAST).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.predict_proba(X), a.predict_proba(X))


def test_save_and_load_weights_restore_every_member(tmp_path):
    X, y = load_iris(return_X_y=True)
    clf = TabularClassifier(n_ensemble=2, **FAST).fit(X, y)
    expected = clf.predict_proba(X)
    path = tmp_path / "ensemble.pt"
    clf.save_weights(path)
    with torch.no_grad():
        for net in clf.nets_:
            for param in net.module_.parameters():
                param.zero_()
    assert not np.allclose(clf.predict_proba(X), expected)
    clf.load_weights(path)
    np.testing.assert_array_equal(clf.predict_proba(X), expected)

    single = TabularClassifier(n_ensemble=1, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="2 network.*has 1"):
        single.load_weights(path)
    # The file still starts a new model: weights=path takes the first member.
    transferred = TabularClassifier(weights=path, **FAST).fit(X, y)
    assert transferred.transfer_report_.loaded


def test_refit_with_fewer_members_drops_the_old_ones():
    X, y = load_iris(return_X_y=True)
    clf = TabularClassifier(n_ensemble=3, **FAST).fit(X, y)
    clf.set_params(n_ensemble=1).fit(X, y)
    assert len(clf.nets_) == 1


def test_n_ensemble_is_searchable():
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(TabularClassifier(**FAST), {"n_ensemble": [1, 2]}, cv=2).fit(
        X, y
    )
    assert len(search.best_estimator_.nets_) == search.best_params_["n_ensemble"]


def test_auto_trains_five_members_on_small_data_and_one_on_large():
    X, y = load_iris(return_X_y=True)
    small = TabularClassifier(**FAST).fit(X, y)
    assert small.n_ensemble == "auto"
    assert small.n_ensemble_ == len(small.nets_) == 5
    rng = np.random.RandomState(0)
    X_big = rng.normal(size=(3_000, 3))
    y_big = X_big @ [1.0, -2.0, 0.5]
    large = TabularRegressor(**{**FAST, "max_epochs": 2}).fit(X_big, y_big)
    assert large.n_ensemble_ == len(large.nets_) == 1
    just_under = TabularRegressor(**{**FAST, "max_epochs": 1})
    assert just_under.fit(X_big[:2_999], y_big[:2_999]).n_ensemble_ == 5
    # An explicit count is taken as given, at any size.
    assert TabularClassifier(n_ensemble=1, **FAST).fit(X, y).n_ensemble_ == 1


def test_auto_continues_the_fitted_ensemble():
    X, y = load_iris(return_X_y=True)
    clf = TabularClassifier(warm_start=True, **FAST).fit(X, y)
    epochs = clf.n_epochs_
    # More data than "auto" would ensemble from scratch: the 5 fitted
    # members train on, none is dropped or added.
    X_more = np.repeat(X, 21, axis=0)
    y_more = np.repeat(y, 21)
    clf.set_params(max_epochs=1).fit(X_more, y_more)
    assert len(clf.nets_) == clf.n_ensemble_ == 5
    assert clf.n_epochs_ == epochs + 1  # continued, not refitted
    # An explicit count that disagrees with the fitted ensemble is refused.
    with pytest.raises(ValueError, match="n_ensemble=2, but the fitted model has 5"):
        clf.set_params(n_ensemble=2).fit(X, y)


def test_auto_partial_fit_trains_one_network():
    X, y = load_iris(return_X_y=True)
    clf = TabularClassifier(**FAST).partial_fit(X[:40], y[:40], classes=[0, 1, 2])
    assert clf.n_ensemble_ == len(clf.nets_) == 1
    clf.partial_fit(X[40:], y[40:])
    assert len(clf.nets_) == 1
