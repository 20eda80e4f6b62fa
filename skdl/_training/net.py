"""The one place that turns a resolved training plan into a skorch net.

Estimators never build optimizers, callbacks or schedulers themselves: they
resolve their parameters into a :class:`~skdl._training.plan.TrainingPlan`,
call :func:`build_net` with it, a module and the datasets, and keep the
returned net as ``net_``. Nothing here reads an estimator parameter.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EpochScoring,
    LRScheduler,
    ProgressBar,
)
from skorch.dataset import unpack_data
from skorch.exceptions import DeviceWarning
from skorch.helper import predefined_split
from skorch.utils import TeeGenerator, to_tensor
from torch import nn

from .._registry import schedule_spec
from ..exceptions import TrainingDivergedError
from .averaging import WeightEMA, ema_decay

# Imported here too so that nets pickled when the callbacks lived in this
# module still load.
from .callbacks import (
    LowestLossEarlyStopping,
    ProgressLog,
    RecordLR,
    _Scoring,
    _silent,
    user_callbacks,
)
from .data import Batch, BatchDataset, BatchIterator
from .interrupt import InterruptibleNetMixin
from .parallel import ShareThreads
from .plan import TrainingPlan

__all__ = ["AUTOCAST_DTYPES", "NetConfig", "SkdlNet", "build_net", "param_groups"]

#: What a training or validation step returns: the loss and the outputs.
StepResult = dict[str, torch.Tensor]

#: ``precision`` -> the dtype its forward passes run in under autocast.
AUTOCAST_DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


class SkdlNet(InterruptibleNetMixin, NeuralNet):
    """skorch ``NeuralNet`` with weighted losses and an L1 penalty.

    Small departures from the plain net, each for a named reason:

    * ``get_loss`` averages a per-sample loss with the batch's
      ``sample_weight`` (class weights and user weights arrive that way);
    * ``train_step_single`` adds the L1 penalty to what is back-propagated
      but records the data loss alone, so training and validation losses
      stay comparable in ``history_``;
    * a non-finite loss stops training with :class:`TrainingDivergedError`
      instead of silently producing NaN weights;
    * with ``precision="bf16-mixed"`` or ``"16-mixed"`` the forward pass
      runs under :func:`torch.autocast` and returns float32 outputs, so
      losses, scores and predictions are computed in float32; ``"16-mixed"``
      on a GPU also scales the loss with a :class:`torch.amp.GradScaler`;
    * early stopping ends training without a ``KeyboardInterrupt``, so a
      real Ctrl-C reaches the caller (see :mod:`skdl._training.interrupt`).

    Parameters
    ----------
    module, criterion, optimizer, ... :
        As for :class:`skorch.NeuralNet`.
    l1 : float, default=0.0
        Strength of the L1 penalty on weight matrices and kernels.
    weight_decay : float, default=0.0
        L2 penalty, applied through the optimizer to weights only.
    backbone_lr_scale : float, default=1.0
        Learning-rate multiplier for parameters outside the module's head.
    precision : {"32", "bf16-mixed", "16-mixed"}, default="32"
        Autocast dtype of the forward pass (see :data:`AUTOCAST_DTYPES`).
    """

    def __init__(
        self,
        module: nn.Module | type[nn.Module],
        *args: Any,
        l1: float = 0.0,
        weight_decay: float = 0.0,
        backbone_lr_scale: float = 1.0,
        precision: str = "32",
        **kwargs: Any,
    ) -> None:
        super().__init__(module, *args, **kwargs)
        self.l1 = l1
        self.weight_decay = weight_decay
        self.backbone_lr_scale = backbone_lr_scale
        self.precision = precision

    def plain_module(self) -> nn.Module:
        """The trained module itself, outside any distributed wrapper."""
        return self.module_

    def autocast(self) -> contextlib.AbstractContextManager:
        """Context of the forward pass: autocast for mixed precision.

        float16 autocast is used on CUDA only: a ``"16-mixed"`` model
        unpickled on a CPU-only machine predicts in float32.
        """
        dtype = AUTOCAST_DTYPES.get(self.precision)
        kind = torch.device(self.device).type
        if dtype is None or (dtype is torch.float16 and kind != "cuda"):
            return contextlib.nullcontext()
        return torch.autocast(kind, dtype=dtype)

    def torch_compile(self, module: nn.Module, name: str) -> nn.Module:
        """Compile the network in place (``nn.Module.compile``), not the loss.

        Compiling in place keeps the module's class, parameter names and state
        dict, so weights transfer, freezing and pickling work unchanged. A
        pickled net stores the plain module and predicts uncompiled after
        loading.
        """
        if not self.compile or name != "module":
            return module
        module.compile(**self.get_params_for("compile"))
        return module

    def _set_training(self, training: bool = True) -> None:
        """Train/eval mode; batch norm of frozen blocks stays in eval mode.

        skorch calls this for every batch; walking the whole module each time
        is measurable for small networks, so the mode is only switched when
        it changes. Anything else that changes modes (thawing) resets
        ``_mode_``.
        """
        if getattr(self, "_mode_", None) == training:
            return
        super()._set_training(training)
        if training:
            for name in getattr(self, "frozen_norm_", ()):
                self.plain_module().get_submodule(name).eval()
        self._mode_ = training

    def get_default_callbacks(self) -> list[tuple[str, Callback]]:
        """skorch's defaults less ``PrintLog``: skdl prints only when verbose."""
        return [cb for cb in super().get_default_callbacks() if cb[0] != "print_log"]

    def initialize_optimizer(self, triggered_directly: bool | None = None) -> SkdlNet:
        """Build the optimizer over skdl's parameter groups."""
        kwargs = self.get_params_for("optimizer")
        groups = param_groups(
            self.module_,
            lr=self.lr,
            weight_decay=self.weight_decay,
            backbone_lr_scale=self.backbone_lr_scale,
        )
        if "fused" not in kwargs and _accepts_fused(self.optimizer, self.device):
            # The fused kernels update all of a group's tensors at once; the
            # default per-tensor loop cost about twice as much per step for
            # skdl's MLPs (benchmarks/tabular_speed.py).
            kwargs["fused"] = True
        self.optimizer_ = self.optimizer(groups, lr=self.lr, **kwargs)
        # float16 gradients underflow without loss scaling; bfloat16 has
        # float32's range and needs none.
        self.grad_scaler_ = (
            torch.amp.GradScaler(torch.device(self.device).type)
            if self.precision == "16-mixed"
            else None
        )
        return self

    def __getstate__(self) -> dict[str, Any]:
        # The scaler only matters during training; it may hold CUDA tensors
        # that a CPU-only machine could not unpickle.
        state = super().__getstate__()
        state["grad_scaler_"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A net trained on a GPU and loaded where there is none is mapped to
        # the CPU by skorch, which then warns twice that it did so. Predicting
        # on the CPU is the documented behaviour, not a problem to flag.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeviceWarning)
            super().__setstate__(state)
        if isinstance(self.device, torch.device):  # skorch's fallback
            self.device = str(self.device)

    def infer(self, x: dict[str, torch.Tensor], **fit_params: Any) -> torch.Tensor:
        """Run the module on a batch, leaving out the sample weights.

        Under mixed precision the outputs come back as float32.
        """
        x = {
            k: to_tensor(v, device=self.device)
            for k, v in x.items()
            if k != "sample_weight"
        }
        with self.autocast():
            out = self.module_(**x, **fit_params)
        if self.precision != "32" and out.is_floating_point():
            out = out.float()
        return out

    def get_loss(
        self,
        y_pred: torch.Tensor,
        y_true: torch.Tensor,
        X: dict[str, torch.Tensor] | None = None,
        training: bool = False,
    ) -> torch.Tensor:
        """Weighted mean of the per-sample loss."""
        y_true = to_tensor(y_true, device=self.device)
        loss = self.criterion_(y_pred, y_true)
        if loss.ndim > 1:
            loss = loss.reshape(loss.shape[0], -1).mean(dim=1)
        weight = X.get("sample_weight") if isinstance(X, dict) else None
        if weight is None:
            return loss.mean()
        weight = to_tensor(weight, device=self.device)
        return (loss * weight).sum() / weight.sum().clamp_min(1e-12)

    def l1_penalty(self) -> torch.Tensor:
        """L1 norm of the trainable weight matrices and kernels, times ``l1``."""
        params = [
            p for p in self.module_.parameters() if p.requires_grad and p.ndim > 1
        ]
        return self.l1 * sum(p.abs().sum() for p in params)

    def train_step_single(self, batch: Batch, **fit_params: Any) -> StepResult:
        """Forward, loss, backward; raise if the loss is not finite."""
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        if not math.isfinite(loss.item()):
            self._raise_diverged("training")
        total = loss + self.l1_penalty() if self.l1 > 0 else loss
        self.backward(total)
        return {"loss": loss, "y_pred": y_pred}

    def backward(self, loss: torch.Tensor) -> None:
        """Back-propagate ``loss``, scaled when a gradient scaler is in use."""
        scaler = getattr(self, "grad_scaler_", None)
        if scaler is None:
            loss.backward()
        else:
            scaler.scale(loss).backward()

    def train_step(self, batch: Batch, **fit_params: Any) -> StepResult:
        """One optimizer step; with a gradient scaler, the scaler steps.

        ``GradScaler.step`` takes no closure, so the step is spelled out. The
        gradients are unscaled before ``on_grad_computed``, so callbacks such
        as gradient clipping see their true values.
        """
        scaler = getattr(self, "grad_scaler_", None)
        if scaler is None:
            return super().train_step(batch, **fit_params)
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        scaler.unscale_(self.optimizer_)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        scaler.step(self.optimizer_)
        scaler.update()
        return step

    def validation_step(self, batch: Batch, **fit_params: Any) -> StepResult:
        """Score one validation batch; raise if the loss is not finite."""
        step = super().validation_step(batch, **fit_params)
        if not math.isfinite(step["loss"].item()):
            self._raise_diverged("validation")
        return step

    def _raise_diverged(self, where: str) -> NoReturn:
        epoch = len(self.history)
        raise TrainingDivergedError(
            f"Training diverged: the {where} loss became NaN or infinite in "
            f"epoch {epoch} (lr={self.lr:g}). Try a lower `lr` (e.g. "
            f"{self.lr / 10:g}), gradient-friendlier `activation`, "
            f"`normalization='batch'`, or check the inputs for extreme values."
        )


def _accepts_fused(optimizer: type[torch.optim.Optimizer], device: str) -> bool:
    """Whether the optimizer takes ``fused=True`` on this device."""
    try:
        params = inspect.signature(optimizer).parameters
    except (TypeError, ValueError):
        return False
    kind = torch.device(device).type
    return "fused" in params and kind in ("cpu", "cuda")


def _is_head(name: str, head_prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in head_prefixes)


def param_groups(
    module: nn.Module,
    *,
    lr: float,
    weight_decay: float,
    backbone_lr_scale: float = 1.0,
) -> list[dict]:
    """Split a module's parameters into optimizer groups.

    Weights (two or more dimensions) get ``weight_decay``; biases and
    normalization parameters do not, as is standard practice. Parameters
    outside the head (``module.head_prefixes``, default ``("head",)``) get
    ``lr * backbone_lr_scale``. Frozen parameters belong to their groups from
    the start but have no gradient, so the optimizer gives them neither
    updates nor weight decay until they are thawed (see
    :class:`skdl.finetune.Unfreeze`). A module may declare ``lr_factors``, a
    dict from parameter-name prefix to a multiplier of its group's rate;
    those parameters get groups of their own, named after the prefix.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    lr : float
        Learning rate of the head.
    weight_decay : float
        L2 penalty for weights.
    backbone_lr_scale : float, default=1.0
        Multiplier of ``lr`` for the non-head parameters.

    Returns
    -------
    groups : list of dict
        Named ``"head"``, ``"head_no_decay"``, ``"backbone"`` and
        ``"backbone_no_decay"``, then ``"<part>:<prefix>"`` for the
        ``lr_factors`` (empty ones left out); the head groups come first, so
        ``groups[0]["lr"]`` is the base rate.
    """
    head_prefixes = tuple(getattr(module, "head_prefixes", ("head",)))
    factors = dict(getattr(module, "lr_factors", {}) or {})
    buckets: dict[str, list[torch.nn.Parameter]] = {
        "head": [],
        "head_no_decay": [],
        "backbone": [],
        "backbone_no_decay": [],
    }
    scale: dict[str, float] = {}
    for name, p in module.named_parameters():
        part = "head" if _is_head(name, head_prefixes) else "backbone"
        bucket = part if p.ndim > 1 else part + "_no_decay"
        prefix = next((f for f in factors if _is_head(name, (f,))), None)
        if prefix is not None:
            bucket = f"{bucket}:{prefix}"
            scale[bucket] = float(factors[prefix])
        buckets.setdefault(bucket, []).append(p)
    if not any(p.requires_grad for p in module.parameters()):
        raise ValueError(
            "Every parameter of the network is frozen, so there is nothing to "
            "train; freeze less (e.g. freeze='backbone' keeps the head trainable)."
        )
    return [
        {
            "params": params,
            "name": name,
            "lr": (lr if name.startswith("head") else lr * backbone_lr_scale)
            * scale.get(name, 1.0),
            "weight_decay": 0.0
            if name.split(":")[0].endswith("no_decay")
            else weight_decay,
        }
        for name, params in buckets.items()
        if params
    ]


@dataclass
class NetConfig:
    """Everything :func:`build_net` needs besides the training plan.

    Attributes
    ----------
    criterion : torch.nn.Module
        Per-sample loss (``reduction="none"``).
    score : callable
        ``score(logits, y_true) -> float`` for the validation score.
    train_dataset : BatchDataset
        Training data (the batch data protocol of ``data.py``).
    valid_dataset : BatchDataset or None
        Validation data, scored every epoch; None trains on everything.
    transform : callable or None
        Augmentation applied to training batches only.
    num_workers : int
        Worker processes for lazily decoded datasets.
    extra_callbacks : list
        Further ``(name, callback)`` pairs, e.g. for staged unfreezing.
    frozen_norm : list of str
        Batch-norm layers to keep in evaluation mode while frozen.
    """

    criterion: nn.Module
    score: Callable[[torch.Tensor, torch.Tensor], float]
    train_dataset: BatchDataset
    valid_dataset: BatchDataset | None
    transform: Callable | None = None
    num_workers: int = 0
    extra_callbacks: list = field(default_factory=list)
    frozen_norm: list = field(default_factory=list)


@dataclass(frozen=True)
class NetChoice:
    """A net class other than ``SkdlNet``, chosen by the caller of build_net."""

    net_class: type
    net_kwargs: dict
    steps_per_epoch: int


def build_net(
    plan: TrainingPlan,
    module: nn.Module,
    config: NetConfig,
    rng: np.random.Generator,
    choice: NetChoice | None = None,
) -> SkdlNet:
    """Build (not fit) the skorch net that carries out ``plan``.

    Parameters
    ----------
    plan : TrainingPlan
        Every hyperparameter of the fit, resolved.
    module : torch.nn.Module
        The network to train.
    config : NetConfig
        Task and data specifics.
    rng : numpy.random.Generator
        Shuffling randomness for the training batches.
    choice : NetChoice or None, default=None
        Another net class to build, such as the accelerator-aware net of
        :func:`skdl._training.accelerate.net_choice`; None builds a
        ``SkdlNet``.

    Returns
    -------
    net : SkdlNet
        Ready for ``net.fit(config.train_dataset, None)``.
    """
    # The caller picks the net class (see ``accelerate.net_choice``), so the
    # engine's core never imports the accelerator layer built on top of it.
    net_class, extra = SkdlNet, {}
    steps_per_epoch = config.train_dataset.n_batches(plan.batch_size)
    if choice is not None:
        net_class, extra = choice.net_class, dict(choice.net_kwargs)
        steps_per_epoch = choice.steps_per_epoch
    verbose = plan.verbose
    sink = print if verbose else _silent
    has_valid = config.valid_dataset is not None
    callbacks: list = [("record_lr", RecordLR()), ("share_threads", ShareThreads())]
    if has_valid:
        # The training score is the running score of the epoch's training
        # batches (dropout and augmentation on), from the cached predictions:
        # no extra forward pass.
        for name, on_train in (("train_score", True), ("valid_score", False)):
            scoring = EpochScoring(
                _Scoring(config.score),
                lower_is_better=False,
                on_train=on_train,
                name=name,
                use_caching=True,
            )
            callbacks.append((name, scoring))
        callbacks.append(
            (
                "early_stopping",
                LowestLossEarlyStopping(
                    monitor="valid_loss",
                    patience=plan.patience,
                    threshold=plan.tol,
                    threshold_mode="abs",
                    load_best=True,
                    sink=sink,
                ),
            )
        )
    if plan.ema_epochs:
        decay = ema_decay(plan.ema_epochs, steps_per_epoch)
        callbacks.append(("weight_ema", WeightEMA(decay)))
    if plan.lr_schedule is not None:
        spec = schedule_spec(
            plan.lr_schedule,
            lr=plan.lr,
            max_epochs=plan.max_epochs,
            steps_per_epoch=steps_per_epoch,
            patience=plan.patience,
            has_valid=has_valid,
        )
        callbacks.append(("lr_scheduler", LRScheduler(**spec)))
    callbacks.extend(config.extra_callbacks)
    callbacks.extend(user_callbacks(plan.callbacks))
    if verbose:
        # A table row per epoch with the fit's progress (stdout) and, on a
        # terminal, a bar over each epoch's batches (tqdm, on stderr), whose
        # redrawn lines would only clutter a log file.
        if sys.stderr is not None and sys.stderr.isatty():
            callbacks.append(("progress_bar", ProgressBar(batches_per_epoch="auto")))
        log = ProgressLog(plan.max_epochs, may_stop_early=has_valid)
        callbacks.append(("print_log", log))

    net = net_class(
        module,
        criterion=config.criterion,
        optimizer=plan.optimizer,
        lr=plan.lr,
        max_epochs=plan.max_epochs,
        batch_size=plan.batch_size,
        iterator_train=BatchIterator,
        iterator_valid=BatchIterator,
        iterator_train__shuffle=True,
        iterator_train__rng=rng,
        iterator_train__transform=config.transform,
        iterator_train__num_workers=config.num_workers,
        iterator_valid__num_workers=config.num_workers,
        train_split=predefined_split(config.valid_dataset) if has_valid else None,
        callbacks=callbacks,
        l1=plan.l1,
        weight_decay=plan.weight_decay,
        backbone_lr_scale=plan.backbone_lr_scale,
        precision=plan.precision,
        compile=plan.compile,
        device=plan.device,
        verbose=verbose,
        **extra,
    )
    net.frozen_norm_ = list(config.frozen_norm)
    return net
