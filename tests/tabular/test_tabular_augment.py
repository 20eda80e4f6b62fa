"""Augmenters on the tabular estimators: training batches only."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.model_selection import GridSearchCV

from skdl import TabularClassifier, TabularRegressor
from skdl.augment import GaussianNoise, Mixup
from skdl.augment._base import BaseAugmenter


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
    assert sum(n for n, _, _ in log) == 3 * n_train
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
