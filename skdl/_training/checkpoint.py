"""Checkpoints after every epoch of a fit, and exact resumption from them.

``checkpoint=<directory>`` makes every fit write, after each epoch, the whole
training state of each network: weights, optimizer, learning-rate schedule,
weight average, early-stopping counters, history, the random generators of
torch and of the batch shuffling, and what is frozen. A fit that finds the
file of its own configuration and data loads it and runs only the remaining
epochs, ending with the same model and history as a fit never interrupted.

skorch's ``Checkpoint`` and ``LoadInitState`` callbacks save the module, the
optimizer and the history, but not the other callbacks' state nor the random
generators, which an exact resumption needs, and they write in place, so a
crash mid-write leaves a broken file. Here each file is written to a
temporary file in the same directory and renamed over the old one
(:func:`os.replace` is atomic), and read back with
``torch.load(weights_only=True)``: tensors and plain containers only.

Files are named by a fingerprint of the estimator's class, its parameters
(less ``verbose``, ``device``, ``warm_start`` and ``checkpoint``), the
network's seed and the training and validation data, so the clones of a
``GridSearchCV`` (other parameters, other folds) never share a file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import torch
from sklearn.base import BaseEstimator
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.history import History

from .data import BatchDataset

__all__ = ["attach_checkpoint", "checkpoint_paths", "fingerprint"]

#: Version of the file layout; files of another version are not resumed.
FORMAT = 1

#: Parameters that change how a fit reports or where it runs, not its result.
_NOT_CONFIG = ("verbose", "device", "warm_start", "checkpoint")


# ------------------------------------------------------------- fingerprint
def _plain(obj: object, depth: int = 0) -> object:
    """``obj`` with tensors as arrays and objects as their state, for hashing.

    Pickled tensors and estimators do not hash alike in two processes (a
    resumed fit runs in a new one); their values do.
    """
    if depth > 6:
        return repr(type(obj))
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy()
    if isinstance(obj, torch.nn.Module):
        return (type(obj).__qualname__, _plain(obj.state_dict(), depth + 1))
    if isinstance(obj, dict):
        return {str(k): _plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v, depth + 1) for v in obj]
    if isinstance(obj, BaseEstimator):
        nets = getattr(obj, "nets_", None)
        state = [_plain(n.module_, depth + 1) for n in nets] if nets else None
        return (type(obj).__qualname__, _plain(obj.get_params(deep=False)), state)
    if isinstance(obj, np.ndarray | str | int | float | bool | type(None) | type):
        return obj
    if hasattr(obj, "__dict__"):  # datasets, augmenters, generators
        return (type(obj).__qualname__, _plain(vars(obj), depth + 1))
    return obj


def fingerprint(
    estimator: BaseEstimator,
    seed: int,
    train_ds: BatchDataset,
    valid_ds: BatchDataset | None,
    start: torch.nn.Module | None = None,
) -> str:
    """Hex digest naming one network's checkpoint files.

    Parameters
    ----------
    estimator : BaseDLEstimator
        The estimator being fitted.
    seed : int
        The network's seed (initialization and shuffling).
    train_ds, valid_ds : dataset
        Its training and validation data (``valid_ds`` may be None).
    start : torch.nn.Module or None, default=None
        The network a ``warm_start`` fit continues from.

    Returns
    -------
    digest : str
        20 hexadecimal characters.
    """
    params = {
        k: v
        for k, v in estimator.get_params(deep=False).items()
        if k not in _NOT_CONFIG
    }
    parts = (FORMAT, type(estimator).__qualname__, params, seed, train_ds, valid_ds)
    return joblib.hash(_plain((*parts, start)))[:20]


def checkpoint_paths(directory: str | os.PathLike, key: str) -> tuple[Path, Path]:
    """The ``(last, best)`` checkpoint files of fingerprint ``key``.

    Parameters
    ----------
    directory : str or path-like
        The estimator's ``checkpoint`` directory.
    key : str
        The fingerprint.

    Returns
    -------
    last, best : pathlib.Path
        ``<key>-last.pt`` and ``<key>-best.pt`` in ``directory``.
    """
    directory = Path(directory)
    return directory / f"{key}-last.pt", directory / f"{key}-best.pt"


# ------------------------------------------------------------ file writing
def _atomic_write(data: bytes, path: Path) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file.

    The bytes go to a temporary file in the same directory, are flushed to
    disk and renamed over ``path``; an interruption removes the temporary
    file and leaves ``path`` as it was.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def _scalar(value: object) -> bool:
    return isinstance(value, bool | int | float | str | np.number | np.bool_)


def _callback_scalars(net: NeuralNet) -> dict:
    """Every callback's fitted scalars (counters, best scores, thresholds)."""
    return {
        name: {
            k: v
            for k, v in vars(cb).items()
            if k.endswith("_") and not k.startswith("_") and _scalar(v)
        }
        for name, cb in net.callbacks_
    }


def _cpu(
    tensors: dict[str, torch.Tensor] | list[torch.Tensor] | None,
) -> dict[str, torch.Tensor] | list[torch.Tensor] | None:
    if tensors is None:
        return None
    if isinstance(tensors, dict):
        return {k: v.detach().cpu().clone() for k, v in tensors.items()}
    return [t.detach().cpu().clone() for t in tensors]


def capture(net: NeuralNet, key: str, rows: list, *, finished: bool) -> dict:
    """The training state of ``net`` after the epochs in ``rows``.

    Parameters
    ----------
    net : SkdlNet
        A net between two epochs (or at the end of training).
    key : str
        Its fingerprint, stored to check on loading.
    rows : list of dict
        The history rows of the finished epochs.
    finished : bool
        Whether training has ended (early stopping or ``max_epochs``).

    Returns
    -------
    state : dict
        Tensors and plain values only, for ``torch.load(weights_only=True)``.
    """
    callbacks = dict(net.callbacks_)
    ema = callbacks.get("weight_ema")
    stopper = callbacks.get("early_stopping")
    scheduler = getattr(callbacks.get("lr_scheduler"), "lr_scheduler_", None)
    scaler = getattr(net, "grad_scaler_", None)
    module = net.plain_module()
    device = torch.device(net.device)
    meta = {
        "history": rows,
        "callbacks": _callback_scalars(net),
        "shuffle": net.iterator_train__rng.bit_generator.state,
        "trainable": [n for n, p in module.named_parameters() if p.requires_grad],
        "frozen_norm": list(getattr(net, "frozen_norm_", [])),
    }
    return {
        "format": FORMAT,
        "key": key,
        "epoch": len(rows),
        "finished": bool(finished),
        "state_dict": _cpu(module.state_dict()),
        "optimizer": net.optimizer_.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "ema_average": None if ema is None else _cpu(ema.average_),
        "ema_raw": None if ema is None else _cpu(ema.raw_),
        "best_weights": None if stopper is None else _cpu(stopper.best_model_weights_),
        "grad_scaler": None if scaler is None else scaler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "meta": json.dumps(meta, default=_json_default),
    }


def restore(net: NeuralNet, saved: dict) -> None:
    """Put ``net`` (initialized, training begun) in the state ``saved``."""
    meta = json.loads(saved["meta"])
    callbacks = dict(net.callbacks_)
    module = net.plain_module()
    module.load_state_dict(saved["state_dict"])
    trainable = set(meta["trainable"])
    for name, p in module.named_parameters():
        p.requires_grad_(name in trainable)
    net.frozen_norm_ = list(meta["frozen_norm"])
    net._mode_ = None  # the next batch sets every layer's mode afresh
    net.optimizer_.load_state_dict(saved["optimizer"])
    scheduler = getattr(callbacks.get("lr_scheduler"), "lr_scheduler_", None)
    if scheduler is not None and saved["scheduler"] is not None:
        scheduler.load_state_dict(saved["scheduler"])
    ema = callbacks.get("weight_ema")
    if ema is not None:
        params = list(module.parameters())

        def placed(tensors: list | None) -> list | None:
            if tensors is None:
                return None
            return [t.to(p.device) for t, p in zip(tensors, params)]

        ema.average_ = placed(saved["ema_average"])
        ema.raw_ = placed(saved["ema_raw"])
    stopper = callbacks.get("early_stopping")
    if stopper is not None:
        stopper.best_model_weights_ = saved["best_weights"]
    for name, values in meta["callbacks"].items():
        if name in callbacks:
            for attr, value in values.items():
                setattr(callbacks[name], attr, value)
    scaler = getattr(net, "grad_scaler_", None)
    if scaler is not None and saved["grad_scaler"] is not None:
        scaler.load_state_dict(saved["grad_scaler"])
    net.history_ = History(meta["history"])
    net.iterator_train__rng.bit_generator.state = meta["shuffle"]
    torch.set_rng_state(saved["torch_rng"])
    device = torch.device(net.device)
    # A fit checkpointed on a GPU may resume on the CPU (device is not part
    # of the fingerprint), and vice versa.
    if saved["cuda_rng"] is not None and device.type == "cuda":
        torch.cuda.set_rng_state(saved["cuda_rng"], device)


# --------------------------------------------------------------- callbacks
class EpochCheckpoint(Callback):
    """Write the last (and best) training state between epochs.

    Registered first among the callbacks, so that it sees the state every
    other callback left at the end of an epoch: it writes when the next
    epoch begins (history less the new row) and when training ends, before
    other callbacks restore the best or averaged weights.

    Parameters
    ----------
    last, best : pathlib.Path
        Destination files.
    key : str
        The fingerprint stored in the files.
    max_epochs : int
        Epochs of the whole fit, to tell a finished fit from an interrupted
        one.
    """

    def __init__(self, last: Path, best: Path, key: str, max_epochs: int) -> None:
        self.last = last
        self.best = best
        self.key = key
        self.max_epochs = max_epochs

    def initialize(self) -> EpochCheckpoint:
        self.written_ = 0
        self.resumed_max_epochs_ = None
        return self

    def on_epoch_begin(self, net: NeuralNet, **kwargs: Any) -> None:
        rows = list(net.history)[:-1]
        if len(rows) > self.written_:
            self._write(net, rows, finished=False)

    def on_train_end(self, net: NeuralNet, **kwargs: Any) -> None:
        if self.resumed_max_epochs_ is not None:
            net.max_epochs = self.resumed_max_epochs_
        rows = list(net.history)
        if len(rows) <= self.written_ or "dur" not in rows[-1]:
            return  # nothing new, or an epoch cut short (Ctrl-C)
        stopper = dict(net.callbacks_).get("early_stopping")
        stopped = stopper is not None and stopper.misses_ >= stopper.patience
        self._write(net, rows, finished=stopped or len(rows) >= self.max_epochs)

    def _write(self, net: NeuralNet, rows: list, *, finished: bool) -> None:
        buffer = io.BytesIO()
        torch.save(capture(net, self.key, rows, finished=finished), buffer)
        data = buffer.getvalue()
        _atomic_write(data, self.last)
        stopper = dict(net.callbacks_).get("early_stopping")
        if stopper is not None and stopper.best_epoch_ == len(rows):
            _atomic_write(data, self.best)
        self.written_ = len(rows)


class ResumeCheckpoint(Callback):
    """Load a saved training state once every callback has begun training.

    Registered last among the callbacks, so that the weight average, the
    early-stopping counters and the schedule that other callbacks set up in
    ``on_train_begin`` are then overwritten with the saved ones. Only the
    remaining epochs run (none for a finished fit).

    Parameters
    ----------
    saved : dict
        What :func:`capture` returned.
    writer : EpochCheckpoint
        The net's writer, told which epochs the file already holds.
    """

    def __init__(self, saved: dict, writer: EpochCheckpoint) -> None:
        self.saved = saved
        self.writer = writer

    def on_train_begin(self, net: NeuralNet, **kwargs: Any) -> None:
        if self.saved is None:
            return
        restore(net, self.saved)
        done = int(self.saved["epoch"])
        self.writer.written_ = done
        self.writer.resumed_max_epochs_ = net.max_epochs
        net.max_epochs = 0 if self.saved["finished"] else max(0, net.max_epochs - done)
        self.saved = None  # resume once; the tensors are no longer needed


def _read(path: Path, key: str) -> dict | None:
    """The checkpoint at ``path`` if it is a readable one of ``key``."""
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is skipped
        warnings.warn(
            f"The checkpoint {str(path)!r} cannot be read ({type(exc).__name__}); "
            f"training starts afresh and overwrites it.",
            UserWarning,
            stacklevel=5,
        )
        return None
    if (
        not isinstance(saved, dict)
        or saved.get("format") != FORMAT
        or saved.get("key") != key
    ):
        warnings.warn(
            f"The checkpoint {str(path)!r} was written for another configuration "
            f"or data (or by another skdl version), so it is not resumed; "
            f"training starts afresh and overwrites it.",
            UserWarning,
            stacklevel=5,
        )
        return None
    return saved


def attach_checkpoint(
    estimator: BaseEstimator,
    net: NeuralNet,
    seed: int,
    train_ds: BatchDataset,
    valid_ds: BatchDataset | None,
    start: torch.nn.Module | None = None,
) -> NeuralNet:
    """Give ``net`` (built, not yet fitted) checkpoints, resuming if one fits.

    Does nothing when the estimator's ``checkpoint`` is None.

    Parameters
    ----------
    estimator : BaseDLEstimator
        The estimator being fitted.
    net : SkdlNet
        The net from :func:`skdl._training.net.build_net`.
    seed : int
        The network's seed.
    train_ds, valid_ds : dataset
        Its training and validation data.
    start : torch.nn.Module or None, default=None
        The network a ``warm_start`` fit continues from.

    Returns
    -------
    net : SkdlNet
        The same net, with the two checkpoint callbacks added.
    """
    directory = getattr(estimator, "checkpoint", None)
    if directory is None:
        return net
    if estimator.random_state is None:
        warnings.warn(
            "checkpoint is set but random_state=None: every fit draws a new "
            "validation split and initialization, so a new fit cannot resume "
            "these checkpoints. Set random_state to an int to resume.",
            UserWarning,
            stacklevel=4,
        )
    Path(directory).mkdir(parents=True, exist_ok=True)
    key = fingerprint(estimator, seed, train_ds, valid_ds, start)
    last, best = checkpoint_paths(directory, key)
    writer = EpochCheckpoint(last, best, key, int(net.max_epochs))
    resume = ResumeCheckpoint(_read(last, key), writer)
    # The writer first and the loader last; see their docstrings.
    net.callbacks = [
        ("skdl_checkpoint", writer),
        *net.callbacks,
        ("skdl_resume", resume),
    ]
    return net
