"""GridSearchCV over skdl estimators on a real Dask cluster.

Starts a ``LocalCluster`` with two worker processes on the loopback
interface, runs a search under joblib's ``"dask"`` backend, and checks it
against the same search run locally. Skipped without ``dask[distributed]``
(``pip install "skdl[dask]"``).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch
from _thread_recording import RecordingClassifier, oversubscribed_epochs
from joblib import parallel_config
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV

from skdl import TabularClassifier

distributed = pytest.importorskip(
    "distributed", reason='needs dask[distributed]: pip install "skdl[dask]"'
)
cloudpickle = pytest.importorskip("cloudpickle")

GRID = {"lr": [1e-3, 1e-2], "dropout": [0.0, 0.2]}


class ThreadProbe(TabularClassifier):
    """Records the torch threads and the process its network was built in."""

    def _build_module(self, n_outputs):
        import os

        self.fit_threads_ = torch.get_num_threads()
        self.fit_pid_ = os.getpid()
        return super()._build_module(n_outputs)


def fit_threads(est, X, y):
    return est.fit_threads_


def fit_pid(est, X, y):
    return est.fit_pid_


SCORING = {"accuracy": "accuracy", "threads": fit_threads, "pid": fit_pid}


def _search():
    estimator = ThreadProbe(
        hidden_layer_sizes=(16,), max_epochs=5, random_state=0, device="cpu"
    )
    return GridSearchCV(estimator, GRID, cv=3, scoring=SCORING, refit="accuracy")


def _split_values(search, metric):
    return np.concatenate(
        [search.cv_results_[f"split{i}_test_{metric}"] for i in range(3)]
    )


@pytest.fixture
def client():
    # Worker processes cannot import this test module: send its classes by
    # value while they run.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    # LocalCluster sets OMP_NUM_THREADS=1 (and MKL_..., OPENBLAS_...) in this
    # process for its workers and leaves it there; skdl reads that variable
    # as the thread budget of every later fit, so restore the environment.
    environ = dict(os.environ)
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
    os.environ.clear()
    os.environ.update(environ)
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_grid_search_on_dask_matches_local(client):
    X, y = load_breast_cancer(return_X_y=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' count: same arithmetic, same scores
    try:
        local = _search().fit(X, y)
    finally:
        torch.set_num_threads(threads)
    with parallel_config(backend="dask"):
        remote = _search().fit(X, y)

    np.testing.assert_allclose(
        remote.cv_results_["mean_test_accuracy"],
        local.cv_results_["mean_test_accuracy"],
    )
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(remote.predict(X), local.predict(X))
    # The fits ran in the worker processes, one torch thread each.
    worker_pids = set(client.run(lambda: __import__("os").getpid()).values())
    assert set(_split_values(remote, "pid").astype(int)) <= worker_pids
    assert set(_split_values(remote, "threads")) == {1}


@pytest.mark.filterwarnings("ignore:.*running at once in threads:UserWarning")
def test_threaded_dask_workers_share_the_cores():
    # A worker with two threads runs two fits in one process, where Dask's
    # OMP_NUM_THREADS=1 does not reach (processes=False): skdl's own count
    # keeps them within the cores. (In-process, the tasks refer to
    # _thread_recording's classes by reference, so the fits share its
    # counter.)
    X, y = load_breast_cancer(return_X_y=True)
    estimator = RecordingClassifier(
        hidden_layer_sizes=(16,), max_epochs=5, random_state=0, device="cpu"
    )
    search = GridSearchCV(
        estimator, GRID, cv=3, scoring={"over": oversubscribed_epochs}, refit=False
    )
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=2,
            processes=False,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
        parallel_config(backend="dask"),
    ):
        search.fit(X, y)
    assert search.cv_results_["mean_test_over"].sum() == 0
