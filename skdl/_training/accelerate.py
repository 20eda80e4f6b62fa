"""Data-parallel training through Hugging Face Accelerate.

:func:`use_accelerator` is a context: every skdl fit inside it trains with
skorch's :class:`~skorch.hf.AccelerateMixin` on the given
``accelerate.Accelerator``, so a script started with ``accelerate launch``
trains on all of its processes (GPUs). How to train is an execution setting,
like joblib's ``parallel_config``, not a hyperparameter: estimators keep
their parameters, and clone and pickle as usual.

What skdl adds to skorch's mixin, and why:

* every process trains on its own shard of each epoch's shuffled training
  rows (skdl's batch iterator is not a ``DataLoader``, which Accelerate would
  otherwise shard), all shards of equal size so that no process waits on
  another;
* every process evaluates the whole validation split, and the epoch's
  losses are averaged over the processes, so early stopping and
  loss-driven schedules decide the same on every process;
* a seed drawn with ``random_state=None`` comes from the main process, so
  all processes split and shuffle alike;
* after training the net is an ordinary :class:`~skdl._training.net.SkdlNet` again:
  the fitted estimator pickles and predicts without the accelerator.
"""

from __future__ import annotations

import contextvars
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.hf import AccelerateMixin

from .net import NetChoice, SkdlNet

if TYPE_CHECKING:
    from accelerate import Accelerator
    from skorch import NeuralNet

    from .data import Batch, BatchDataset

__all__ = [
    "AcceleratedSkdlNet",
    "MeanLosses",
    "active_accelerator",
    "shared_seed",
    "train_net",
    "use_accelerator",
]

_accelerator: contextvars.ContextVar = contextvars.ContextVar(
    "skdl_accelerator", default=None
)


@contextmanager
def use_accelerator(accelerator: Accelerator) -> Iterator[Accelerator]:
    """Train every skdl estimator fitted in this context with ``accelerator``.

    The estimators then train through skorch's
    :class:`~skorch.hf.AccelerateMixin`: the accelerator places the model
    (the estimator's ``device`` is not used), wraps it for distributed data
    parallel training when the script runs on several processes, and applies
    its own mixed precision (``Accelerator(mixed_precision="bf16")``; leave
    the estimator's ``precision="32"``). Each process trains on its share of
    every epoch's training rows. After ``fit`` the estimator is an ordinary
    fitted estimator: it predicts, pickles and loads without the accelerator.

    See :doc:`/user_guide/scaling` for a multi-GPU script and what has been
    verified.

    Parameters
    ----------
    accelerator : accelerate.Accelerator
        The accelerator to train with, created once per process.

    Yields
    ------
    accelerator : accelerate.Accelerator
        The same accelerator.

    Examples
    --------
    >>> from accelerate import Accelerator  # doctest: +SKIP
    >>> from skdl import TabularClassifier, use_accelerator  # doctest: +SKIP
    >>> accelerator = Accelerator()  # doctest: +SKIP
    >>> with use_accelerator(accelerator):  # doctest: +SKIP
    ...     clf = TabularClassifier(random_state=0).fit(X, y)
    """
    if not hasattr(accelerator, "prepare") or not hasattr(accelerator, "device"):
        raise TypeError(
            f"use_accelerator expects an accelerate.Accelerator, got "
            f"{type(accelerator).__name__}."
        )
    token = _accelerator.set(accelerator)
    try:
        yield accelerator
    finally:
        _accelerator.reset(token)


def active_accelerator() -> Accelerator | None:
    """The accelerator of the enclosing :func:`use_accelerator`, or None."""
    return _accelerator.get()


def shared_seed(
    random_state: int | np.random.RandomState | None,
) -> int | np.random.RandomState | None:
    """``random_state``, with None replaced by a seed all processes share."""
    accelerator = active_accelerator()
    if random_state is not None or accelerator is None:
        return random_state
    if accelerator.num_processes == 1:
        return random_state
    from accelerate.utils import broadcast_object_list

    seed = [int(np.random.default_rng().integers(np.iinfo(np.int32).max))]
    return broadcast_object_list(seed, from_process=0)[0]


def net_choice(
    accelerator: Accelerator | None, train_dataset: Sized, batch_size: int
) -> NetChoice | None:
    """The net to build for ``accelerator`` (None: a plain ``SkdlNet``)."""
    if accelerator is None:
        return None
    steps = shard_batches(len(train_dataset), batch_size, accelerator)
    return NetChoice(AcceleratedSkdlNet, {"accelerator": accelerator}, steps)


def shard_batches(n_rows: int, batch_size: int, accelerator: Accelerator) -> int:
    """Training batches per epoch on each process."""
    return math.ceil((n_rows // accelerator.num_processes) / batch_size)


class AcceleratedSkdlNet(AccelerateMixin, SkdlNet):
    """:class:`SkdlNet` trained through an ``accelerate.Accelerator``.

    skdl's own steps (L1 penalty, divergence check, float32 loss) run inside
    the accelerator's autocast, with its ``backward`` for loss scaling and
    gradient synchronization.
    """

    def _validate_params(self) -> None:
        # The mixin wants device=None when the accelerator places the model;
        # skdl sets device to the accelerator's device, which is where
        # SkdlNet.infer puts each batch.
        SkdlNet._validate_params(self)

    def _initialize_accelerator(self) -> AcceleratedSkdlNet:
        """Prepare the module and optimizer; leave parameter-free losses be.

        skorch's mixin prepares the criterion too, and Accelerate wraps it in
        ``DistributedDataParallel`` on multi-process CPU runs, which refuses
        modules without trainable parameters.
        """
        if self._wrapped_with_accelerator:
            return self
        for kind, names in (("module", self._modules), ("criterion", self._criteria)):
            with self._current_init_context(kind):
                for name in names:
                    module = getattr(self, name + "_")
                    if isinstance(module, torch.nn.Module) and any(
                        p.requires_grad for p in module.parameters()
                    ):
                        setattr(self, name + "_", self.accelerator.prepare(module))
        with self._current_init_context("optimizer"):
            for name in self._optimizers:
                optimizer = self.accelerator.prepare(getattr(self, name + "_"))
                setattr(self, name + "_", optimizer)
        self._wrapped_with_accelerator = True
        return self

    def plain_module(self) -> torch.nn.Module:
        return self.accelerator.unwrap_model(self.module_)

    def train_step_single(self, batch: Batch, **fit_params: Any) -> dict:
        with self.accelerator.autocast():
            return SkdlNet.train_step_single(self, batch, **fit_params)

    def backward(self, loss: torch.Tensor) -> None:
        self.accelerator.backward(loss)

    def evaluation_step(self, batch: Batch, training: bool = False) -> torch.Tensor:
        # Every process evaluates all rows (see get_iterator): nothing to
        # gather from the others.
        return SkdlNet.evaluation_step(self, batch, training=training)

    def get_default_callbacks(self) -> list[tuple[str, Callback]]:
        # Right after skorch's loss callbacks, before anything that decides
        # on the losses (early stopping, schedules).
        return [*super().get_default_callbacks(), ("mean_losses", MeanLosses())]

    def get_iterator(self, dataset: BatchDataset, training: bool = False) -> Iterable:
        if training and self.accelerator.num_processes > 1:
            return _EpochShards(self, dataset)
        return SkdlNet.get_iterator(self, dataset, training=training)

    def _shard(self, dataset: BatchDataset) -> BatchDataset:
        """This process's rows of a fresh permutation of the training set.

        Every process draws the same permutation (same seed, same number of
        draws), takes its own equal-sized slice, and drops the remainder.
        """
        n_proc = self.accelerator.num_processes
        rank = self.accelerator.process_index
        per = len(dataset) // n_proc
        if per == 0:
            raise ValueError(
                f"{len(dataset)} training rows cannot be shared among {n_proc} "
                f"processes; train on fewer processes or more data."
            )
        order = self.iterator_train__rng.permutation(len(dataset))
        return dataset.subset(np.sort(order[rank * per : (rank + 1) * per]))

    def release_from_accelerator(self) -> None:
        """Drop this net's module and optimizer from the accelerator's lists.

        Accelerate keeps every prepared model and optimizer (for its
        ``save_state``), so the networks of finished fits, and their
        optimizer state, would stay in memory for as long as the
        accelerator: a long search inside one ``use_accelerator`` block
        would grow until the GPU runs out of memory. Objects the user
        prepared themselves stay.
        """
        names = (*self._modules, *self._criteria, *self._optimizers)
        mine = set()
        for name in names:
            obj = getattr(self, name + "_", None)
            # Prepared objects may be wrappers (DDP, AcceleratedOptimizer)
            # around what Accelerate listed, or the other way round.
            inner = (getattr(obj, attr, None) for attr in ("module", "optimizer"))
            mine |= {id(o) for o in (obj, *inner) if o is not None}
        for attr in ("_models", "_optimizers"):
            registry = getattr(self.accelerator, attr, None)
            if isinstance(registry, list):
                registry[:] = [obj for obj in registry if id(obj) not in mine]

    def to_plain_net(self) -> SkdlNet:
        """The trained net as a plain :class:`SkdlNet`, free of the accelerator.

        The module, criterion and optimizer are unwrapped; the accelerator,
        which cannot be pickled and belongs to the training processes, is
        dropped.
        """
        self.release_from_accelerator()
        self._unwrap_accelerator()
        state = dict(self.__dict__)
        for key in ("accelerator", "unwrap_after_train", "_wrapped_with_accelerator"):
            state.pop(key, None)
        state["callbacks__print_log__sink"] = print
        wrapped = state.get("optimizer_")
        optimizer = getattr(wrapped, "optimizer", wrapped)
        state["optimizer_"] = optimizer
        # Learning-rate schedulers hold the wrapper, whose patched ``step``
        # cannot be pickled.
        for _, callback in state.get("callbacks_", ()):
            scheduler = getattr(callback, "lr_scheduler_", None)
            if getattr(scheduler, "optimizer", None) is wrapped:
                scheduler.optimizer = optimizer
        plain = SkdlNet.__new__(SkdlNet)
        plain.__dict__.update(state)
        return plain


class _EpochShards:
    """This process's shard of a fresh permutation, on every pass."""

    def __init__(self, net: AcceleratedSkdlNet, dataset: BatchDataset) -> None:
        self.net = net
        self.dataset = dataset

    def __iter__(self) -> Iterator:
        shard = self.net._shard(self.dataset)
        return iter(SkdlNet.get_iterator(self.net, shard, training=True))


class MeanLosses(Callback):
    """Replace the epoch's losses by their mean over the processes.

    Each process saw different training rows, so the mean is the epoch's
    training loss, and it is identical on every process. Validation losses
    agree already, up to floating-point noise that could still make early
    stopping stop one process and not the others, which would then wait
    forever.
    """

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        accelerator = net.accelerator
        if accelerator.num_processes == 1:
            return
        for key in ("train_loss", "valid_loss"):
            if key in net.history[-1]:
                value = torch.tensor(
                    float(net.history[-1, key]), device=accelerator.device
                )
                mean = accelerator.reduce(value, reduction="mean")
                net.history.record(key, float(mean))


def train_net(net: SkdlNet, accelerator: Any, train: Callable[[], None]) -> SkdlNet:
    """Run ``train()``, which trains ``net``; return the trained net, plain.

    skorch's warning that a module instance is re-initialized in place is
    silenced: skdl builds a fresh module for every fit. Under an
    accelerator, a failure drops the net from the accelerator's lists
    before it propagates, and a trained net comes back unwrapped
    (:meth:`AcceleratedSkdlNet.to_plain_net`), as fit and continued fits
    both need.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*re-initializ.*")
            train()
    except BaseException:
        if accelerator is not None:
            net.release_from_accelerator()
        raise
    return net if accelerator is None else net.to_plain_net()
