"""Concurrent fits share the CPU cores instead of oversubscribing them.

Each fit records, at the start of every epoch, how many intra-op threads
torch used in its thread and how many fits were training in its process at
that moment (counted here, independently of skdl's own count). The searches
run for real: loky worker processes and threads.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
import torch
from _thread_recording import (
    RecordingClassifier,
    max_threads,
    oversubscribed_epochs,
    records,
)
from joblib import parallel_config
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV

import skdl._base
from skdl import TabularClassifier, TrainingDivergedError
from skdl._training import parallel as _parallel
from skdl._training.parallel import available_cores, share_threads, thread_budget

FAST = dict(hidden_layer_sizes=(16,), max_epochs=4, random_state=0, device="cpu")
GRID = {"lr": [1e-3, 3e-3], "dropout": [0.0, 0.1]}


SCORING = {"acc": "accuracy", "threads": max_threads, "over": oversubscribed_epochs}


@pytest.fixture(scope="module")
def data():
    return load_breast_cancer(return_X_y=True)


def _search(data, n_jobs):
    X, y = data
    search = GridSearchCV(
        RecordingClassifier(**FAST), GRID, cv=2, scoring=SCORING, refit=False
    )
    return search.set_params(n_jobs=n_jobs).fit(X, y)


def _split_values(search, metric):
    return np.concatenate(
        [search.cv_results_[f"split{i}_test_{metric}"] for i in range(2)]
    )


def test_sequential_search_keeps_torch_threads(data):
    before = torch.get_num_threads()
    search = _search(data, n_jobs=1)
    assert set(_split_values(search, "threads")) == {before}
    assert torch.get_num_threads() == before


def test_loky_workers_get_their_share(data):
    # joblib tells each worker process its share (cores // n_jobs) through
    # OMP_NUM_THREADS; every epoch of every fit stays within it.
    search = _search(data, n_jobs=2)
    share = max(1, available_cores() // 2)
    assert set(_split_values(search, "threads")) == {
        min(share, torch.get_num_threads())
    }
    assert not _split_values(search, "over").any()


@pytest.mark.filterwarnings("ignore:.*running at once in threads:UserWarning")
def test_threading_backend_does_not_oversubscribe(data):
    # Worker threads share a process; without skdl's count each fit would
    # take every core (measured: 2 threads per fit on 2 cores).
    before = torch.get_num_threads()
    with parallel_config(backend="threading"):
        search = _search(data, n_jobs=2)
    assert not _split_values(search, "over").any()
    assert torch.get_num_threads() == before


def test_concurrent_threads_settle_on_a_share(data):
    # Two fits that overlap: at every epoch that both are running, each
    # uses cores // 2 threads, and the main thread's setting is untouched.
    X, y = data
    before = torch.get_num_threads()
    barrier = threading.Barrier(2)
    fitted = []

    def fit(seed):
        barrier.wait()
        est = RecordingClassifier(**{**FAST, "max_epochs": 6, "random_state": seed})
        fitted.append(est.fit(X, y))

    workers = [threading.Thread(target=fit, args=(seed,)) for seed in (0, 1)]
    # They share torch's global generator, so their seeds cannot hold.
    with pytest.warns(UserWarning, match="running at once in threads"):
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    epochs = [r for est in fitted for r in records(est)]
    both = [t for t, running in epochs if running == 2]
    assert both, "the two fits never overlapped"
    assert set(both) == {max(1, min(before, available_cores() // 2))}
    assert torch.get_num_threads() == before


def test_budget_honours_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert thread_budget(8, 1) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert thread_budget(1, 1) == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert thread_budget(10_000, 1) == available_cores()
    assert thread_budget(10_000, 10_000) == 1


def test_threads_restored_after_a_failed_fit(data):
    # Even when training raises, the fit leaves the thread count and the
    # running count as it found them.
    X, y = data
    before = torch.get_num_threads()
    # Unscaled 1e30 inputs overflow the periodic embedding's float32 phases
    # to inf, and the loss turns NaN in the first epoch.
    diverging = {**FAST, "lr": 1e6, "scaling": None, "numeric_embedding": "periodic"}
    with pytest.raises(TrainingDivergedError):
        TabularClassifier(**diverging).fit(X * 1e30, y)
    assert torch.get_num_threads() == before
    assert _parallel._running == 0


def test_share_threads_is_reentrant():
    before = torch.get_num_threads()
    with share_threads():
        inner_running = _parallel._running
        with share_threads():
            assert _parallel._running == inner_running
    assert _parallel._running == 0
    assert torch.get_num_threads() == before


def test_works_without_the_optional_extras():
    # dask and accelerate are optional: skdl imports and fits without them.
    code = (
        "import sys\n"
        "for name in ('dask', 'distributed', 'accelerate'):\n"
        "    sys.modules[name] = None\n"
        "import numpy as np\n"
        "import skdl\n"
        "X = np.random.default_rng(0).normal(size=(60, 3))\n"
        "y = (X[:, 0] > 0).astype(int)\n"
        "skdl.TabularClassifier(max_epochs=2, random_state=0).fit(X, y)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_no_thread_warning_for_a_lone_or_unseeded_fit(data, monkeypatch):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TabularClassifier(**FAST).fit(X, y)  # alone in the process
        monkeypatch.setattr(skdl._base, "running_fits", lambda: 2)
        TabularClassifier(**{**FAST, "random_state": None}).fit(X, y)


def test_predictions_alongside_a_fit_do_not_count_as_fits(data):
    # Predicting in one thread while fitting in another is reproducible:
    # predictions draw no random numbers.
    X, y = data
    served = TabularClassifier(**FAST).fit(X, y)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            served.predict(X)

    worker = threading.Thread(target=serve)
    worker.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for seed in range(3):
                TabularClassifier(**{**FAST, "random_state": seed}).fit(X, y)
    finally:
        stop.set()
        worker.join()
