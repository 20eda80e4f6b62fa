"""Share the CPU cores among skdl fits that run at the same time.

``GridSearchCV(n_jobs=k)`` runs ``k`` fits at once. Each one would otherwise
run torch's intra-op thread pool on every core, so ``k`` fits ask for ``k``
times as many threads as there are cores: the threads then wait on each other
and the search gets slower, not faster. Two cases need care:

* **Worker processes** (joblib's default ``loky`` backend, Dask's
  nanny-started workers). joblib and Dask tell each worker its share through
  ``OMP_NUM_THREADS`` (``cores // n_jobs`` and 1). torch reads it when it
  starts, but not when the variable is set in a process where torch had
  started already, so the budget honours it explicitly too. (joblib's
  ``multiprocessing`` backend forks such processes; with torch, its workers
  hang before running anything, so it is not an option anyway.)
* **Worker threads** (joblib's ``threading`` backend, Dask workers with
  several threads). They share one process, so nothing in the environment
  tells them apart. skdl counts the fits running in this process and gives
  each ``cores // running`` threads. The count is taken again at the start of
  every epoch, so fits that start a moment apart, or outlive each other,
  settle on a fair share.

A fit never gets more threads than torch had when it started, so a
``torch.set_num_threads`` of the user's stays an upper bound, and the
setting in force before the fit is restored afterwards. With OpenMP (torch's
CPU backend on Linux and Windows) the setting belongs to the calling thread,
so concurrent fits in threads each keep their own.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from skorch.callbacks import Callback

if TYPE_CHECKING:
    from skorch import NeuralNet

__all__ = [
    "ShareThreads",
    "available_cores",
    "counting_fit",
    "running_fits",
    "share_threads",
    "thread_budget",
]

_lock = threading.Lock()
_running = 0
_local = threading.local()


@functools.cache
def available_cores() -> int:
    """CPU cores this process may use (affinity and cgroup quotas included)."""
    from joblib import cpu_count

    return max(1, int(cpu_count()))


def _env_threads() -> int | None:
    """The thread budget a parent (joblib, Dask) set in ``OMP_NUM_THREADS``."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    try:
        n = int(value.split(",")[0])
    except ValueError:
        return None
    return n if n > 0 else None


def thread_budget(ceiling: int, running: int) -> int:
    """Intra-op threads for one of ``running`` concurrent fits.

    Parameters
    ----------
    ceiling : int
        Threads torch had when the fit started; never exceeded.
    running : int
        skdl fits running in this process, this one included.

    Returns
    -------
    n_threads : int
        ``min(ceiling, OMP_NUM_THREADS, cores // running)``, at least 1.
    """
    budget = min(ceiling, available_cores() // max(running, 1))
    env = _env_threads()
    if env is not None:
        budget = min(budget, env)
    return max(1, budget)


def _rebalance() -> int | None:
    """Set this thread's torch threads to its current share; return it."""
    ceiling = getattr(_local, "ceiling", None)
    if ceiling is None:
        return None
    n = thread_budget(ceiling, _running)
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    return n


_fits = 0


def running_fits() -> int:
    """skdl fits (not predictions) running in this process, in any thread."""
    return _fits


@contextmanager
def counting_fit() -> Iterator[None]:
    """Count a fit in :func:`running_fits` while it runs."""
    global _fits
    with _lock:
        _fits += 1
    try:
        yield
    finally:
        with _lock:
            _fits -= 1


@contextmanager
def share_threads() -> Iterator[None]:
    """Count a fit as running and limit torch's threads to its share.

    Restores this thread's torch thread count on exit, even after an error.
    Nested uses (a fit inside a fit) keep the outer share.
    """
    global _running
    if getattr(_local, "ceiling", None) is not None:
        yield
        return
    # Reading the count first also initializes torch's per-thread setting,
    # which a fresh worker thread would otherwise copy from the last value
    # that any thread set.
    before = torch.get_num_threads()
    with _lock:
        _running += 1
    _local.ceiling = before
    try:
        _rebalance()
        yield
    finally:
        _local.ceiling = None
        with _lock:
            _running -= 1
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


class ShareThreads(Callback):
    """Re-take this fit's share of the cores at the start of every epoch.

    Does nothing outside :func:`share_threads`, e.g. in a net fitted
    directly or after unpickling.
    """

    def on_epoch_begin(self, net: NeuralNet, **kwargs: Any) -> None:
        _rebalance()
