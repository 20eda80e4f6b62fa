"""The resolved training plan: every hyperparameter of one fit, decided once.

The estimator resolves its parameters (``"auto"`` values, the device, the
batch size for this many rows) into one frozen :class:`TrainingPlan`
(:func:`skdl._estimator.plan.resolve_plan`); :func:`skdl._training.net.build_net`
builds the skorch net from the plan alone and knows no estimator parameter
names. The same plan drives ``fit``, ``warm_start`` and ``partial_fit``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["TrainingPlan"]


@dataclass(frozen=True)
class TrainingPlan:
    """What one network's training does, with nothing left to decide.

    Parameters
    ----------
    device : str
        The resolved torch device, such as ``"cpu"`` or ``"cuda:0"``.
    precision : {"32", "bf16-mixed", "16-mixed"}
        Floating-point precision of the forward and backward passes.
    compile : bool
        Whether the network is compiled with ``torch.compile``.
    optimizer : callable
        The optimizer class (or partial), already resolved from its name.
    lr : float
        The base learning rate.
    weight_decay, l1 : float
        Penalties on the weights.
    backbone_lr_scale : float
        Learning-rate factor for everything outside the head.
    max_epochs : int
        Most epochs to train.
    batch_size : int
        Training rows per batch.
    patience : int
        Epochs without improvement before early stopping.
    tol : float
        Least decrease of the validation loss that counts as improvement.
    lr_schedule : str or None
        A key of :data:`skdl._registry.LR_SCHEDULES`; None: constant rate.
    ema_epochs : float or None
        Horizon of the weight average in epochs; None: no averaging.
    callbacks : tuple
        The user's callbacks (the estimator's ``callbacks``), as given.
    verbose : int
        0: silent; 1: a line per epoch.
    """

    device: str
    precision: str
    compile: bool
    optimizer: Callable
    lr: float
    weight_decay: float
    l1: float
    backbone_lr_scale: float
    max_epochs: int
    batch_size: int
    patience: int
    tol: float
    lr_schedule: str | None
    ema_epochs: float | None
    callbacks: object
    verbose: int

    def replace(self, **changes: Any) -> TrainingPlan:
        """A copy with ``changes``, for the per-call variations of a fit."""
        return dataclasses.replace(self, **changes)
