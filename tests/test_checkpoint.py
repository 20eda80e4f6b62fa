"""``checkpoint=<directory>``: per-epoch files, atomic writes, exact resume."""

from __future__ import annotations

import copy
import os
import shutil

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, make_regression
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from skdl import ImageClassifier, TabularClassifier, TabularRegressor
from skdl.augment import GaussianNoise


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


class Crash(Exception):
    """The simulated crash."""


class CrashAt(Callback):
    """Raise at the end of epoch ``epoch``, as a crash would."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise Crash


def crash_at(estimator, epoch):
    """``estimator``, crashing during its fit at the end of ``epoch``."""
    estimator._extra_callbacks = lambda: [("crash", CrashAt(epoch))]
    return estimator


def same_weights(a, b) -> bool:
    sa, sb = a.net_.module_.state_dict(), b.net_.module_.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def lasts(directory):
    return sorted(p for p in os.listdir(directory) if p.endswith("-last.pt"))


# Everything that carries state from epoch to epoch: the weight average,
# a per-batch schedule, dropout, early stopping (which stops at epoch 7).
# One network, so one checkpoint file per fit ("auto" would train 5 on these
# small tables; test_resume_of_an_ensemble_and_an_image_classifier resumes
# an ensemble). The batch size is fixed (what "auto" gave when these tests
# were written), so that the epoch it stops at does not move with that rule.
FULL = dict(
    n_ensemble=1,
    batch_size=51,
    hidden_layer_sizes=(16,),
    max_epochs=12,
    patience=2,
    tol=0.01,
    dropout=0.2,
    lr_schedule="cosine",
    random_state=0,
)


def test_checkpoint_files_hold_the_training_state(cancer, tmp_path):
    X, y = cancer
    clf = TabularClassifier(**FULL, checkpoint=tmp_path).fit(X, y)
    assert clf.stopped_early_ and clf.n_epochs_ < FULL["max_epochs"]
    (last,) = lasts(tmp_path)
    best = last.replace("-last", "-best")
    assert sorted(os.listdir(tmp_path)) == sorted([last, best])
    saved = torch.load(tmp_path / last, weights_only=True)
    assert saved["epoch"] == clf.n_epochs_ and saved["finished"]
    assert saved["state_dict"].keys() == clf.net_.module_.state_dict().keys()
    assert {"optimizer", "scheduler", "ema_average", "torch_rng"} <= set(saved)
    kept = torch.load(tmp_path / best, weights_only=True)
    assert kept["epoch"] == clf.best_epoch_ < clf.n_epochs_


@pytest.mark.parametrize("epoch", [2, 5])
def test_resume_after_a_crash_is_exact(cancer, tmp_path, epoch):
    X, y = cancer
    plain = TabularClassifier(**FULL).fit(X, y)

    crashing = crash_at(TabularClassifier(**FULL, checkpoint=tmp_path), epoch)
    with pytest.raises(Crash):
        crashing.fit(X, y)
    saved = torch.load(tmp_path / lasts(tmp_path)[0], weights_only=True)
    assert saved["epoch"] == epoch - 1 and not saved["finished"]

    resumed = TabularClassifier(**FULL, checkpoint=tmp_path).fit(X, y)
    assert same_weights(plain, resumed)
    history = resumed.history_.drop(columns="duration")
    assert history.equals(plain.history_.drop(columns="duration"))
    assert resumed.best_epoch_ == plain.best_epoch_
    assert resumed.stopped_early_
    np.testing.assert_array_equal(resumed.temperatures_, plain.temperatures_)
    np.testing.assert_array_equal(resumed.predict_proba(X), plain.predict_proba(X))


def test_a_finished_fit_is_loaded_not_retrained(cancer, tmp_path):
    X, y = cancer
    first = TabularClassifier(**FULL, checkpoint=tmp_path).fit(X, y)
    again = crash_at(TabularClassifier(**FULL, checkpoint=tmp_path), 1).fit(X, y)
    assert same_weights(first, again)
    # No epoch ran: the durations are those the file recorded.
    assert again.history_.equals(first.history_)


def test_resume_of_an_ensemble_and_an_image_classifier(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 120, size=(40, 8, 8), dtype=np.uint8)
    y = np.repeat([0, 1], 20)
    X[y == 1] += 120
    params = dict(max_epochs=4, random_state=0, batch_size=8)
    plain = ImageClassifier(**params).fit(X, y)
    crashing = crash_at(ImageClassifier(**params, checkpoint=tmp_path), 3)
    with pytest.raises(Crash):
        crashing.fit(X, y)
    resumed = ImageClassifier(**params, checkpoint=tmp_path).fit(X, y)
    assert same_weights(plain, resumed)

    Xt, yt = load_breast_cancer(return_X_y=True)
    params = dict(hidden_layer_sizes=(8,), n_ensemble=2, max_epochs=3, random_state=0)
    plain = TabularClassifier(**params).fit(Xt, yt)
    crashing = crash_at(TabularClassifier(**params, checkpoint=tmp_path / "e"), 2)
    with pytest.raises(Crash):
        crashing.fit(Xt, yt)
    resumed = TabularClassifier(**params, checkpoint=tmp_path / "e").fit(Xt, yt)
    assert len(lasts(tmp_path / "e")) == 2  # one file per member
    for a, b in zip(plain.nets_, resumed.nets_):
        assert all(
            torch.equal(u, v)
            for u, v in zip(
                a.module_.state_dict().values(), b.module_.state_dict().values()
            )
        )


def test_an_interrupted_write_leaves_the_previous_checkpoint(
    cancer, tmp_path, monkeypatch
):
    X, y = cancer
    clf = TabularClassifier(**FULL, checkpoint=tmp_path)
    real_fsync, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 3:  # the third write: epoch 2's (epoch 1 has a best file)
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="No space"):
        clf.fit(X, y)
    monkeypatch.undo()
    # No temporary file left, and the last checkpoint is whole: epoch 1's.
    assert len(os.listdir(tmp_path)) == 2
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    saved = torch.load(tmp_path / lasts(tmp_path)[0], weights_only=True)
    assert saved["epoch"] == 1
    plain = TabularClassifier(**FULL).fit(X, y)
    assert same_weights(plain, TabularClassifier(**FULL, checkpoint=tmp_path).fit(X, y))


def test_other_configurations_or_data_are_not_resumed(cancer, tmp_path):
    X, y = cancer
    params = {**FULL, "max_epochs": 3}
    TabularClassifier(**params, checkpoint=tmp_path).fit(X, y)
    # Other parameters, other data: new files, each fit from scratch.
    other = TabularClassifier(**params, lr=1e-2, checkpoint=tmp_path).fit(X, y)
    fewer = TabularClassifier(**params, checkpoint=tmp_path).fit(X[:400], y[:400])
    assert len(lasts(tmp_path)) == 3
    assert same_weights(other, TabularClassifier(**params, lr=1e-2).fit(X, y))
    assert same_weights(fewer, TabularClassifier(**params).fit(X[:400], y[:400]))

    # A file of another configuration under this one's name is refused.
    mine = TabularClassifier(**params, lr=3e-3, checkpoint=tmp_path / "x")
    crash_at(mine, 2)
    with pytest.raises(Crash):
        mine.fit(X, y)
    (name,) = lasts(tmp_path / "x")
    shutil.copy(tmp_path / lasts(tmp_path)[0], tmp_path / "x" / name)
    with pytest.warns(UserWarning, match="another configuration"):
        refit = TabularClassifier(**params, lr=3e-3, checkpoint=tmp_path / "x").fit(
            X, y
        )
    assert same_weights(refit, TabularClassifier(**params, lr=3e-3).fit(X, y))


def test_grid_search_clones_do_not_share_checkpoints(cancer, tmp_path):
    X, y = cancer
    est = TabularClassifier(
        hidden_layer_sizes=(8,), max_epochs=2, random_state=0, checkpoint=tmp_path
    )
    GridSearchCV(est, {"lr": [1e-3, 1e-2]}, cv=2).fit(X, y)
    # 2 settings x 2 folds, and the refit on all rows: 5 fits, each of 5
    # networks (n_ensemble="auto" on 569 rows) with a file of its own.
    assert len(lasts(tmp_path)) == 5 * 5


def test_checkpoint_without_random_state_warns(cancer, tmp_path):
    X, y = cancer
    with pytest.warns(UserWarning, match="random_state=None"):
        TabularClassifier(
            hidden_layer_sizes=(8,), max_epochs=1, checkpoint=tmp_path
        ).fit(X, y)


def test_a_warm_start_fit_resumes_from_its_checkpoint(cancer, tmp_path):
    X, y = cancer
    params = dict(hidden_layer_sizes=(8,), max_epochs=3, random_state=0, n_ensemble=1)
    base = TabularClassifier(**params, warm_start=True).fit(X, y)
    plain = copy.deepcopy(base).fit(X, y)
    crashing = crash_at(copy.deepcopy(base).set_params(checkpoint=tmp_path), 2)
    with pytest.raises(Crash):
        crashing.fit(X, y)
    resumed = copy.deepcopy(base).set_params(checkpoint=tmp_path).fit(X, y)
    assert same_weights(plain, resumed)
    assert resumed.n_epochs_ == 6
    history = resumed.history_.drop(columns="duration")
    assert history.equals(plain.history_.drop(columns="duration"))
    # A fit from scratch, or from other weights, has files of its own.
    TabularClassifier(**params, checkpoint=tmp_path).fit(X, y)
    assert len(lasts(tmp_path)) == 2


def test_regressor_with_augmentation_resumes_exactly(tmp_path):
    X, y = make_regression(n_samples=300, n_features=6, noise=3.0, random_state=0)
    params = dict(
        hidden_layer_sizes=(16,),
        max_epochs=5,
        random_state=0,
        augment=GaussianNoise(0.1),
        lr_schedule="onecycle",
    )
    plain = TabularRegressor(**params).fit(X, y)
    crashing = crash_at(TabularRegressor(**params, checkpoint=tmp_path), 3)
    with pytest.raises(Crash):
        crashing.fit(X, y)
    resumed = TabularRegressor(**params, checkpoint=tmp_path).fit(X, y)
    assert same_weights(plain, resumed)
    np.testing.assert_array_equal(resumed.predict(X), plain.predict(X))
