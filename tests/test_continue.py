"""Continuing a fitted model: ``warm_start=True`` and ``partial_fit``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, make_classification, make_regression

from skdl import ImageClassifier, TabularClassifier, TabularRegressor


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


def small(**kw):
    params = dict(hidden_layer_sizes=(16,), max_epochs=4, random_state=0)
    return TabularClassifier(**{**params, **kw})


def steps(net) -> int:
    """Optimizer steps taken, from Adam's per-parameter step count."""
    return int(net.optimizer_.state_dict()["state"][0]["step"])


def images(n=48, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 120, size=(n, 8, 8), dtype=np.uint8)
    y = np.repeat(["dark", "light"], n // 2)
    X[y == "light"] += 120
    return X, y


# -------------------------------------------------------------- warm_start
def test_warm_start_continues_the_network_and_optimizer(cancer):
    X, y = cancer
    clf = small(early_stopping=False).fit(X, y)
    first = clf.history_["train_loss"].to_numpy()
    n_steps, encoder = steps(clf.net_), clf.encoder_
    clf.set_params(warm_start=True, max_epochs=3).fit(X[:300], y[:300])
    assert clf.encoder_ is encoder  # the fitted scaling reads the new rows
    assert clf.n_epochs_ == clf.n_iter_ == 7
    assert list(clf.history_.index) == list(range(1, 8))
    np.testing.assert_array_equal(clf.history_["train_loss"].to_numpy()[:4], first)
    # The optimizer went on counting its steps.
    assert steps(clf.net_) == n_steps + 3 * clf.net_.history[-1, "train_batch_count"]
    # Its first new epoch starts where the fit ended, far below a new start.
    assert clf.history_.loc[5, "train_loss"] < 1.05 * first[-1] < first[0]

    # Without warm_start, a second fit starts over.
    clf.set_params(warm_start=False).fit(X, y)
    assert clf.n_epochs_ == 3
    assert clf.history_.loc[1, "train_loss"] > 1.5 * first[-1]


def test_warm_start_with_early_stopping_numbers_the_best_epoch_on(cancer):
    X, y = cancer
    clf = small(warm_start=True).fit(X, y)
    clf.fit(X, y)
    assert clf.n_epochs_ == 8
    assert 5 <= clf.best_epoch_ <= 8
    assert {"valid_loss", "valid_score"} <= set(clf.history_.columns)
    assert 0.0 < clf.temperatures_[0] < 20.0


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda X, y: (X.drop(columns="c"), y), "missing:\n- c"),
        (lambda X, y: (X, np.where(y == 0, "x", "new")), "does not know"),
    ],
)
def test_warm_start_refuses_other_columns_or_classes(change, match):
    X, y = make_classification(n_samples=120, n_features=4, random_state=0)
    X = pd.DataFrame(X, columns=list("abcd"))
    clf = small(warm_start=True, max_epochs=2).fit(X, y)
    history, proba = clf.history_.copy(), clf.predict_proba(X)
    with pytest.raises(ValueError, match=match):
        clf.fit(*change(X, y))
    # The fitted model is left as it was.
    pd.testing.assert_frame_equal(clf.history_, history)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_warm_start_regressor_keeps_the_target_scaling():
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    reg = TabularRegressor(
        hidden_layer_sizes=(16,), max_epochs=5, random_state=0, warm_start=True
    ).fit(X, y)
    mean, scale = reg.target_mean_.copy(), reg.target_scale_.copy()
    score = reg.score(X, y)
    reg.fit(X, y + 1000.0)  # a shifted target is read on the fitted scale
    np.testing.assert_array_equal(reg.target_mean_, mean)
    np.testing.assert_array_equal(reg.target_scale_, scale)
    assert reg.n_epochs_ == 10
    reg.fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="output"):
        reg.fit(X, np.c_[y, y])
    assert score > 0.3


def test_warm_start_continues_every_ensemble_member(cancer):
    X, y = cancer
    clf = small(n_ensemble=2, max_epochs=2, early_stopping=False).fit(X, y)
    before = [steps(net) for net in clf.nets_]
    clf.set_params(warm_start=True).fit(X, y)
    assert [steps(net) for net in clf.nets_] == [2 * s for s in before]
    with pytest.raises(ValueError, match="n_ensemble=3"):
        clf.set_params(n_ensemble=3).fit(X, y)


def test_warm_start_image_classifier():
    X, y = images()
    clf = ImageClassifier(max_epochs=2, early_stopping=False, random_state=0)
    clf.set_params(warm_start=True).fit(X, y)
    mean = clf.mean_.copy()
    clf.fit(X[:, ::-1], y)  # other images: the fitted statistics stay
    np.testing.assert_array_equal(clf.mean_, mean)
    assert clf.n_epochs_ == 4
    with pytest.raises(ValueError, match="does not know"):
        clf.fit(X, np.where(y == "dark", "dark", "grey"))


# ------------------------------------------------------------- partial_fit
def test_partial_fit_over_csv_chunks_learns(tmp_path):
    X, y = make_classification(
        n_samples=1200, n_features=6, n_informative=4, random_state=0
    )
    table = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)]).assign(label=y)
    path = tmp_path / "big.csv"
    table.to_csv(path, index=False)

    clf = TabularClassifier(hidden_layer_sizes=(32,), random_state=0)
    losses = []
    for _ in range(3):
        for chunk in pd.read_csv(path, chunksize=200):
            clf.partial_fit(chunk.drop(columns="label"), chunk["label"], classes=[0, 1])
        losses.append(clf.history_["train_loss"].iloc[-6:].mean())
    assert clf.n_epochs_ == 18
    assert losses[0] > losses[1] > losses[2]
    assert clf.score(table.drop(columns="label"), y) > 0.85
    assert list(clf.feature_names_in_) == list(table.columns[:-1])


def test_first_partial_fit_needs_classes(cancer):
    X, y = cancer
    clf = small()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "net_")
    clf.partial_fit(X[:100], y[:100], classes=[0, 1])
    with pytest.raises(ValueError, match="does not know"):
        clf.partial_fit(X[:10], np.full(10, 7))
    with pytest.raises(ValueError, match="cannot change"):
        clf.partial_fit(X[:10], y[:10], classes=[0, 1, 2])
    assert clf.n_epochs_ == 1


def test_partial_fit_knows_every_class_from_the_first_call():
    X, y = make_classification(
        n_samples=300, n_classes=3, n_informative=4, random_state=0
    )
    clf = small().partial_fit(X[y == 0], y[y == 0], classes=[0, 1, 2])
    assert clf.predict_proba(X).shape == (300, 3)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])


def test_partial_fit_after_fit_continues_it(cancer):
    X, y = cancer
    clf = small(early_stopping=False).fit(X, y)
    last, n_steps = clf.history_["train_loss"].iloc[-1], steps(clf.net_)
    clf.partial_fit(X, y)
    assert clf.n_epochs_ == 5
    assert steps(clf.net_) == n_steps + clf.net_.history[-1, "train_batch_count"]
    assert clf.history_.loc[5, "train_loss"] < 1.1 * last
    assert clf.history_.loc[5, "lr"] == clf.lr  # constant: no schedule


def test_partial_fit_regressor_learns_over_chunks():
    X, y = make_regression(n_samples=600, n_features=5, noise=5.0, random_state=0)
    reg = TabularRegressor(hidden_layer_sizes=(32,), random_state=0)
    for _ in range(4):
        for start in range(0, 600, 150):
            reg.partial_fit(X[start : start + 150], y[start : start + 150])
    assert reg.n_epochs_ == 16
    assert reg.score(X, y) > 0.8


def test_partial_fit_image_classifier():
    X, y = images()
    clf = ImageClassifier(random_state=0)
    for _ in range(3):
        clf.partial_fit(X[::2], y[::2], classes=["dark", "light"])
        clf.partial_fit(X[1::2], y[1::2])
    assert clf.n_epochs_ == 6
    assert clf.history_["lr"].eq(clf.lr).all()


def test_continuing_refuses_a_changed_architecture(cancer):
    X, y = cancer
    clf = small(max_epochs=1, warm_start=True).fit(X, y)
    clf.set_params(hidden_layer_sizes=(32,))
    with pytest.raises(ValueError, match=r"hidden_layer_sizes=\(32,\) differs"):
        clf.fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        clf.partial_fit(X, y)
    clf.set_params(hidden_layer_sizes=(16,), lr=1e-2).fit(X, y)  # lr may change
    assert clf.n_epochs_ == 2
    assert clf.history_["lr"].iloc[-1] == 1e-2


class Crash(Exception):
    """A failure in the middle of training."""


def test_a_failed_continuation_leaves_the_fitted_model(cancer, monkeypatch):
    X, y = cancer
    clf = small(max_epochs=2, warm_start=True).fit(X, y)
    proba, history, n_steps = clf.predict_proba(X), clf.history_.copy(), steps(clf.net_)

    from skorch.callbacks import Callback

    class CrashInEpoch2(Callback):
        def on_batch_end(self, net, training=False, **kwargs):
            if len(net.history) == 2 and training:
                raise Crash

    monkeypatch.setattr(clf, "_extra_callbacks", lambda: [("crash", CrashInEpoch2())])
    with pytest.raises(Crash):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    pd.testing.assert_frame_equal(clf.history_, history)
    assert steps(clf.net_) == n_steps


def test_a_list_for_a_tuple_is_the_same_architecture(cancer):
    X, y = cancer
    clf = small(max_epochs=1, warm_start=True, hidden_layer_sizes=(16,)).fit(X, y)
    clf.set_params(hidden_layer_sizes=[16]).fit(X, y)
    assert clf.n_epochs_ == 2
