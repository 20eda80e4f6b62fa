"""Augmenters on the tabular estimators: training batches only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_wine
from sklearn.model_selection import GridSearchCV

from skdl import TabularClassifier, TabularRegressor
from skdl._training.data import AugmentTransform
from skdl.augment import GaussianNoise, Mixup
from skdl.augment._base import BaseAugmenter
from skdl.modules.mlp import TabularMLP
from skdl.tabular._base import ValueColumnsTransform


class _Spy(BaseAugmenter):
    def __init__(self, log=None):
        self.log = log

    def augment_batch(self, X_batch, y_batch=None, *, n_classes=None):
        self.log.append((len(X_batch["x_num"]), n_classes, sorted(X_batch)))
        return X_batch, y_batch


def test_augmenter_sees_training_batches_only():
    X, y = load_wine(return_X_y=True)
    frame = pd.DataFrame(X[:, :4], columns=list("abcd"))
    frame["kind"] = np.where(X[:, 5] > 2.5, "high", "low")
    log: list = []
    clf = TabularClassifier(
        augment=_Spy(log), max_epochs=3, batch_size=40, random_state=0
    )
    clf.fit(frame, y)
    n_train = len(y) - int(np.ceil(0.1 * len(y)))
    # Each of the 5 members ("auto", 178 rows) trains 3 epochs on its rows.
    assert clf.n_ensemble_ == 5
    assert sum(n for n, _, _ in log) == 5 * 3 * n_train
    assert {c for _, c, _ in log} == {3}
    assert all(keys == ["x_cat", "x_num"] for _, _, keys in log)
    seen = len(log)
    clf.predict(frame)
    assert len(log) == seen


def test_mixup_and_noise_train_and_are_reproducible():
    X, y = load_wine(return_X_y=True)
    for augment in (Mixup(alpha=0.4), GaussianNoise(std=0.2)):
        runs = [
            TabularClassifier(augment=augment, max_epochs=20, random_state=0)
            .fit(X, y)
            .predict_proba(X)
            for _ in range(2)
        ]
        np.testing.assert_array_equal(runs[0], runs[1])
        assert (runs[0].argmax(1) == y).mean() > 0.9
    binary = (y == 0).astype(int)
    clf = TabularClassifier(augment=Mixup(), max_epochs=10, random_state=0).fit(
        X, binary
    )
    assert clf.score(X, binary) > 0.9
    reg = TabularRegressor(augment=Mixup(), max_epochs=10, random_state=0)
    assert reg.fit(X[:, 1:], X[:, 0]).score(X[:, 1:], X[:, 0]) > 0.3


def test_grid_search_over_nested_augmenter_params():
    X, y = load_wine(return_X_y=True)
    grid = GridSearchCV(
        TabularClassifier(augment=GaussianNoise(), max_epochs=3, random_state=0),
        [{"augment__std": [0.0, 0.3]}, {"augment": [Mixup(), None]}],
        cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4


def _frame_with_gaps(n=80, seed=0):
    rng = np.random.default_rng(seed)
    gaps = np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n))
    X = pd.DataFrame({"a": rng.normal(size=n), "gaps": gaps})
    return X, X["a"].to_numpy() + rng.normal(scale=0.1, size=n)


def test_gaussian_noise_leaves_the_missing_value_indicators_alone(monkeypatch):
    # x_num is [a, gaps, indicator of gaps]; noise goes on the values only.
    X, y = _frame_with_gaps()
    seen = []
    forward = TabularMLP.forward

    def spy(module, x_num, x_cat=None):
        if module.training:
            seen.append(x_num.detach().clone())
        return forward(module, x_num, x_cat)

    monkeypatch.setattr(TabularMLP, "forward", spy)
    reg = TabularRegressor(
        augment=GaussianNoise(std=0.5), max_epochs=2, batch_size=16, random_state=0
    ).fit(X, y)
    assert reg.encoder_.n_numeric_out_ == 3
    x_num = torch.cat(seen)
    clean = torch.from_numpy(reg.encoder_.transform(X)["x_num"])
    assert len(torch.unique(x_num[:, 2])) == 2  # still exactly the two levels
    assert set(torch.unique(x_num[:, 2]).tolist()) == set(
        torch.unique(clean[:, 2]).tolist()
    )
    assert len(torch.unique(x_num[:, :2])) > len(x_num)  # the values are noisy


def test_value_columns_transform_augments_the_leading_columns_only():
    x_num = torch.zeros(1000, 3)
    x_num[::2, 2] = 1.0
    codes = torch.zeros(1000, 1, dtype=torch.long)
    transform = ValueColumnsTransform(AugmentTransform(GaussianNoise(0.5), None), 2)
    out, _ = transform({"x_num": x_num, "x_cat": codes}, None)
    assert out["x_num"].shape == (1000, 3) and out["x_cat"] is codes
    assert torch.equal(out["x_num"][:, 2], x_num[:, 2])
    assert torch.all(out["x_num"][:, :2].std(dim=0) > 0.4)
    assert torch.equal(x_num[:, :2], torch.zeros(1000, 2))  # input untouched


class _WidthSpy(BaseAugmenter):
    def __init__(self, log=None):
        self.log = log

    def augment_batch(self, X_batch, y_batch=None, *, n_classes=None):
        self.log.append(X_batch["x_num"].shape[1])
        return X_batch, y_batch


class _ValuesSpy(_WidthSpy):
    _value_columns_only = True


def test_only_column_wise_augmenters_see_x_num_without_indicators():
    # Mixup-like augmenters blend whole rows, indicators included.
    X, y = _frame_with_gaps()
    for spy, width in ((_WidthSpy, 3), (_ValuesSpy, 2)):
        log: list = []
        TabularRegressor(augment=spy(log), max_epochs=1, random_state=0).fit(X, y)
        assert set(log) == {width}
    assert not getattr(Mixup(), "_value_columns_only", False)
