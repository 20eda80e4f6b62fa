"""Names of the deep-learning knobs mapped to the torch objects behind them.

Hyperparameters stay plain strings on the estimators, so ``clone``, ``repr``
and ``GridSearchCV`` work unchanged; this module is the one place that turns
those strings into torch classes, in the way scikit-learn's MLP uses its
``ACTIVATIONS`` dict.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from ._validation.describe import describe_value

__all__ = [
    "ACTIVATIONS",
    "LR_SCHEDULES",
    "OPTIMIZERS",
    "make_activation",
    "resolve_optimizer",
]


class _LeakyReLU(nn.LeakyReLU):
    """Leaky ReLU whose default negative slope is the usual 0.01."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__(negative_slope=negative_slope)


#: Hidden-layer activations by name. The output layer never uses these: it
#: follows the task (sigmoid, softmax or linear).
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": _LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "silu": nn.SiLU,
    "mish": nn.Mish,
    "softplus": nn.Softplus,
    "prelu": nn.PReLU,
    "identity": nn.Identity,
}


def make_activation(activation: str | type[nn.Module]) -> Callable[[], nn.Module]:
    """Return a zero-argument factory for the hidden activation.

    Parameters
    ----------
    activation : str or subclass of torch.nn.Module
        A key of :data:`ACTIVATIONS`, or a module class that can be built
        without arguments.

    Returns
    -------
    factory : callable
        Calling it returns a fresh activation module.
    """
    if isinstance(activation, str):
        return ACTIVATIONS[activation]
    if inspect.isclass(activation) and issubclass(activation, nn.Module):
        try:
            activation()
        except TypeError as exc:
            raise ValueError(
                f"activation={activation.__name__} must be constructible without "
                f"arguments; wrap it, e.g. functools.partial is not a class, so "
                f"define a small subclass with defaults instead ({exc})."
            ) from exc
        return activation
    raise ValueError(
        f"activation must be one of {sorted(ACTIVATIONS)} or a torch.nn.Module "
        f"subclass, got {describe_value(activation)}."
    )


#: Optimizers by name, each with the keyword arguments skdl adds by default.
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": partial(torch.optim.SGD, momentum=0.9, nesterov=True),
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
}

#: Optimizer classes skdl's training loop cannot drive, and why.
_UNSUPPORTED_OPTIMIZERS = {
    torch.optim.LBFGS: (
        "it takes a single parameter group and needs a closure that re-evaluates "
        "the loss at every step"
    ),
    torch.optim.SparseAdam: "it only handles sparse gradients",
}


def resolve_optimizer(
    optimizer: str | type[torch.optim.Optimizer],
) -> Callable[..., torch.optim.Optimizer]:
    """Return the optimizer factory for a name or an Optimizer subclass."""
    if isinstance(optimizer, str):
        return OPTIMIZERS[optimizer]
    if inspect.isclass(optimizer) and issubclass(optimizer, torch.optim.Optimizer):
        for unsupported, why in _UNSUPPORTED_OPTIMIZERS.items():
            if issubclass(optimizer, unsupported):
                raise ValueError(
                    f"optimizer={optimizer.__name__} is not supported: {why}. Use "
                    f"one of {sorted(OPTIMIZERS)} or another torch.optim.Optimizer."
                )
        return optimizer
    raise ValueError(
        f"optimizer must be one of {sorted(OPTIMIZERS)} or a torch.optim.Optimizer "
        f"subclass, got {describe_value(optimizer)}."
    )


class _WarmupCosine:
    """Linear warm-up over the first steps, then cosine decay to zero.

    A class rather than a closure so that fitted nets stay picklable.
    """

    def __init__(self, total_steps: int, warmup_fraction: float = 0.05) -> None:
        self.total_steps = total_steps
        self.warmup = max(1, int(round(total_steps * warmup_fraction)))

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        span = max(1, self.total_steps - self.warmup)
        progress = min(1.0, (step - self.warmup) / span)
        return 0.5 * (1.0 + math.cos(math.pi * progress))


class _OneCycleLR(torch.optim.lr_scheduler.OneCycleLR):
    """One-cycle policy that cycles momentum only where the optimizer has one.

    torch's ``OneCycleLR`` refuses optimizers without ``momentum`` or
    ``betas`` (Adagrad, many custom ones) unless ``cycle_momentum=False``;
    those optimizers get the learning-rate cycle alone.

    A single ``max_lr`` is the peak of the first parameter group; the other
    groups peak in proportion to their own rates, so ``backbone_lr_scale``
    and a module's ``lr_factors`` hold through the cycle (torch would give
    every group the same peak).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, **kwargs) -> None:
        defaults = optimizer.defaults
        peak = kwargs.get("max_lr")
        groups = optimizer.param_groups
        if isinstance(peak, (int, float)) and groups and groups[0]["lr"] > 0:
            base = groups[0].get("initial_lr", groups[0]["lr"])
            kwargs["max_lr"] = [
                peak * g.get("initial_lr", g["lr"]) / base for g in groups
            ]
        kwargs.setdefault(
            "cycle_momentum", "momentum" in defaults or "betas" in defaults
        )
        super().__init__(optimizer, **kwargs)


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule: how to build it and what it watches.

    Attributes
    ----------
    build : callable
        ``build(lr=, max_epochs=, total_steps=, patience=) -> dict``: the
        scheduler's ``policy`` and its own arguments.
    step_every : {"batch", "epoch"}
        When skorch steps the scheduler.
    monitors_loss : bool, default=False
        Whether it steps on the loss (the validation loss when there is a
        validation split, else the training loss).
    """

    build: Callable[..., dict]
    step_every: str
    monitors_loss: bool = False


#: Learning-rate schedules by name (``None`` keeps the rate constant). A new
#: schedule is one entry here; the estimators' ``lr_schedule`` accepts every
#: key.
LR_SCHEDULES: dict[str, Schedule] = {
    "cosine": Schedule(
        lambda lr, max_epochs, total_steps, patience: {
            "policy": torch.optim.lr_scheduler.CosineAnnealingLR,
            "T_max": total_steps,
        },
        "batch",
    ),
    "cosine_warmup": Schedule(
        lambda lr, max_epochs, total_steps, patience: {
            "policy": torch.optim.lr_scheduler.LambdaLR,
            "lr_lambda": _WarmupCosine(total_steps),
        },
        "batch",
    ),
    "onecycle": Schedule(
        lambda lr, max_epochs, total_steps, patience: {
            "policy": _OneCycleLR,
            "max_lr": lr,
            "total_steps": total_steps,
        },
        "batch",
    ),
    # Waits a third of the early-stopping patience before lowering the
    # rate, so that it acts before training stops.
    "plateau": Schedule(
        lambda lr, max_epochs, total_steps, patience: {
            "policy": torch.optim.lr_scheduler.ReduceLROnPlateau,
            "factor": 0.2,
            "patience": max(1, patience // 3),
        },
        "epoch",
        monitors_loss=True,
    ),
    "step": Schedule(
        lambda lr, max_epochs, total_steps, patience: {
            "policy": torch.optim.lr_scheduler.StepLR,
            "step_size": max(1, max_epochs // 3),
            "gamma": 0.1,
        },
        "epoch",
    ),
    "exponential": Schedule(
        lambda lr, max_epochs, total_steps, patience: {
            "policy": torch.optim.lr_scheduler.ExponentialLR,
            "gamma": 0.95,
        },
        "epoch",
    ),
}


def schedule_spec(
    name: str,
    *,
    lr: float,
    max_epochs: int,
    steps_per_epoch: int,
    patience: int,
    has_valid: bool = True,
) -> dict:
    """Keyword arguments for :class:`skorch.callbacks.LRScheduler`.

    Parameters
    ----------
    name : str
        A key of :data:`LR_SCHEDULES`.
    lr : float
        The base learning rate (the peak for ``"onecycle"``).
    max_epochs : int
        Number of epochs the schedule spans.
    steps_per_epoch : int
        Training batches per epoch, for schedules that step every batch.
    patience : int
        The early-stopping patience.
    has_valid : bool, default=True
        Whether there is a validation split, which a schedule that monitors
        the loss watches (else the training loss).

    Returns
    -------
    spec : dict
        ``policy``, ``step_every``, ``monitor`` where the schedule watches
        the loss, and the scheduler's own arguments.
    """
    schedule = LR_SCHEDULES.get(name)
    if schedule is None:
        raise ValueError(
            f"lr_schedule must be one of {tuple(LR_SCHEDULES)}, got "
            f"{describe_value(name)}."
        )
    total = max(1, max_epochs * steps_per_epoch)
    spec = schedule.build(
        lr=lr, max_epochs=max_epochs, total_steps=total, patience=patience
    )
    spec["step_every"] = schedule.step_every
    if schedule.monitors_loss:
        spec["monitor"] = "valid_loss" if has_valid else "train_loss"
    return spec
