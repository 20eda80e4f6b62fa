"""What concurrent fits did with torch's threads, recorded per epoch.

Shared by ``test_parallel.py`` and ``test_dask.py``. The count of fits
training at once is kept here, independently of skdl's own count in
:mod:`skdl._training.parallel`, so that the tests check skdl against it.
"""

from __future__ import annotations

import threading

import torch
from skorch.callbacks import Callback

from skdl import TabularClassifier
from skdl._training.parallel import available_cores

_lock = threading.Lock()
_training = 0


class ThreadRecorder(Callback):
    """Record ``(torch threads, fits training)`` at the start of every epoch."""

    def initialize(self):
        self.records_ = []
        return self

    def on_train_begin(self, net, **kwargs):
        global _training
        with _lock:
            _training += 1

    def on_epoch_begin(self, net, **kwargs):
        self.records_.append((torch.get_num_threads(), _training))

    def on_train_end(self, net, **kwargs):
        global _training
        with _lock:
            _training -= 1


class RecordingClassifier(TabularClassifier):
    """A TabularClassifier whose fits carry a :class:`ThreadRecorder`."""

    def _extra_callbacks(self):
        return [*super()._extra_callbacks(), ("threads", ThreadRecorder())]


def records(est):
    """The ``(threads, fits training)`` pairs of a fitted RecordingClassifier."""
    return dict(est.net_.callbacks_)["threads"].records_


def max_threads(est, X, y):
    """Scorer: the most torch threads any epoch of the fit used."""
    return max(t for t, _ in records(est))


def oversubscribed_epochs(est, X, y):
    """Scorer: epochs in which this fit's threads times the running fits > cores."""
    cores = available_cores()
    return sum(t * running > max(cores, running) for t, running in records(est))
