"""An exponential moving average of the weights, validated and kept.

The averaged weights are what early stopping scores on the validation split
and what the fitted estimator keeps; the raw weights are only what the
optimizer steps. skorch has no callback for this. torch's
:class:`torch.optim.swa_utils.AveragedModel` keeps such an average, but its
``update_parameters`` took 83 microseconds per step against 23 for a loop
of ``lerp_`` (a 256x256 MLP on one CPU thread, where a whole training step
takes about 2 ms), and it would copy the whole module, buffers and all,
where only the parameters are averaged. The one multi-tensor
``_foreach_lerp_`` call here (the kernel torch's own optimizers use) does
that loop's work in one dispatch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from skorch.callbacks import Callback

if TYPE_CHECKING:
    from skorch import NeuralNet

__all__ = ["WeightEMA", "ema_decay"]


def ema_decay(epochs: float, steps_per_epoch: int) -> float:
    """Per-step decay of an average that spans about ``epochs`` epochs.

    The weight of the update ``k`` steps back is ``decay ** k``; with
    ``decay = 1 - 1 / (epochs * steps_per_epoch)`` it falls to ``1/e``
    after ``epochs`` epochs, whatever the table's size. The weights the
    network started from count ``exp(-n / epochs)`` after ``n`` epochs.
    """
    return 1.0 - 1.0 / max(1.0, epochs * steps_per_epoch)


class WeightEMA(Callback):
    """Train on raw weights; validate, early-stop and predict on their EMA.

    After every training step the average moves towards the new weights.
    When an epoch's validation starts, the averaged weights are copied into
    the network, so the validation loss, the snapshot that early stopping
    keeps and the temperature calibration all see them; when the next epoch's
    training starts, the raw weights come back. A fit without validation ends
    with the averaged weights. Buffers (batch-norm statistics) are not
    averaged: the network keeps those of its raw weights.

    Parameters
    ----------
    decay : float
        Per-step decay of the average, in (0, 1); see :func:`ema_decay`.
    """

    def __init__(self, decay: float) -> None:
        self.decay = decay

    def initialize(self) -> WeightEMA:
        self.params_ = []
        self.average_ = None
        self.raw_ = None
        return self

    def on_train_begin(self, net: NeuralNet, **kwargs: Any) -> None:
        # The average lives next to the weights, on their device, and starts
        # at the initial (or transferred) weights.
        self.params_ = list(net.plain_module().parameters())
        self.average_ = [p.detach().clone() for p in self.params_]
        self.raw_ = None

    def on_batch_end(
        self, net: NeuralNet, training: bool = False, **kwargs: Any
    ) -> None:
        if not training:
            return
        with torch.no_grad():
            torch._foreach_lerp_(self.average_, self.params_, 1.0 - self.decay)

    def on_batch_begin(
        self, net: NeuralNet, training: bool = False, **kwargs: Any
    ) -> None:
        if training or self.raw_ is not None:
            return
        self.raw_ = [p.detach().clone() for p in self.params_]
        self._load(self.average_)

    def on_epoch_begin(self, net: NeuralNet, **kwargs: Any) -> None:
        if self.raw_ is not None:
            self._load(self.raw_)
            self.raw_ = None

    def _load(self, tensors: list[torch.Tensor]) -> None:
        """Copy ``tensors`` into the network's parameters, in place."""
        with torch.no_grad():
            torch._foreach_copy_(self.params_, tensors)

    def on_train_end(self, net: NeuralNet, **kwargs: Any) -> None:
        if self.raw_ is None and self.average_ is not None:
            # Never validated (no validation split): keep the average.
            self._load(self.average_)
        # Whatever early stopping restored, or the averaged weights, stay.
        self.raw_ = None
        self.average_ = None
        self.params_ = []
