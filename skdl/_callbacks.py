"""skdl's own skorch callbacks, used by :func:`skdl._net.build_net`.

Kept apart from the net so that each stays short: early stopping with the
lowest-loss restore, the learning-rate record and the validation scoring.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy

import numpy as np
import torch
from skorch.callbacks import Callback, EarlyStopping

from ._interrupt import StopTraining

__all__ = ["LowestLossEarlyStopping", "RecordLR"]


class LowestLossEarlyStopping(EarlyStopping):
    """Early stopping that restores the epoch with the lowest monitored loss.

    skorch's ``EarlyStopping`` restores the last epoch that improved by at
    least ``threshold``, so with ``tol > 0`` the kept weights were not the
    lowest validation loss that ``best_epoch_`` reports. Here, as in
    scikit-learn's MLP, ``threshold`` only decides when to stop.
    """

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self.lowest_ = np.inf

    def on_epoch_end(self, net, **kwargs):
        current = net.history[-1, self.monitor]
        if current < self.lowest_:
            self.lowest_ = current
            self.best_epoch_ = net.history[-1, "epoch"]
            self.best_model_weights_ = deepcopy(net.plain_module().state_dict())
        if self._is_score_improved(current):
            self.misses_ = 0
            self.dynamic_threshold_ = self._calc_new_threshold(current)
        else:
            self.misses_ += 1
        if self.misses_ == self.patience:
            if net.verbose:
                self._sink(
                    f"Stopping since {self.monitor} has not improved in the last "
                    f"{self.patience} epochs.",
                    verbose=net.verbose,
                )
            raise StopTraining

    def on_train_end(self, net, **kwargs):
        # Into the plain module: a distributed wrapper may already be gone.
        last = net.history[-1, "epoch"]
        restore = self.load_best and self.best_model_weights_ is not None
        if restore and self.best_epoch_ != last:
            net.plain_module().load_state_dict(self.best_model_weights_)
            self._sink(
                f"Restoring best model from epoch {self.best_epoch_}.",
                verbose=net.verbose,
            )


class RecordLR(Callback):
    """Record the base learning rate of each epoch in the history as ``lr``."""

    def on_epoch_end(self, net, **kwargs):
        net.history.record("lr", float(net.optimizer_.param_groups[0]["lr"]))


def _silent(*args, **kwargs) -> None:
    return None


class _Scoring:
    """``EpochScoring`` callable from a ``score(outputs, y_true)`` function.

    EpochScoring caches the validation forward pass, so ``net.forward`` here
    returns the cached outputs instead of running the module again. A class
    (not a closure) so that fitted nets pickle.
    """

    def __init__(self, score: Callable) -> None:
        self.score = score

    def __call__(self, net, X, y) -> float:
        return self.score(net.forward(X), torch.as_tensor(y))
