"""Starting weights from saved state dicts and fitted estimators, and transfer.

The implementation behind :mod:`skdl.finetune`'s weight loading and
transfer; see that module for the user-facing description.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .._validation.describe import describe_error, describe_value

__all__ = [
    "StartingWeights",
    "TransferReport",
    "WeightsMismatchWarning",
    "cpu_state_dict",
    "fitted_source",
    "load_state_dict",
    "load_state_dict_strict",
    "read_weights_file",
    "transfer_weights",
]


class WeightsMismatchWarning(UserWarning):
    """Some pretrained tensors did not fit the network and were not loaded.

    Raised for tensors whose shapes differ from the network's, and when a
    sizable share of the source matches no tensor of the network.
    """


@dataclass
class TransferReport:
    """What happened when pretrained weights were loaded.

    Attributes
    ----------
    source : str
        Where the weights came from.
    loaded : list of str
        Parameter and buffer names copied from the source.
    skipped_head : list of str
        Source tensors of the old head, left out on purpose.
    mismatched : list of str
        ``"name: source shape -> network shape"`` for tensors whose shapes
        differ; these keep their fresh initialization.
    missing : list of str
        Network tensors the source did not provide (besides the head).
    unused : list of str
        Source tensors that match no tensor of the network and were ignored
        (e.g. the extra blocks of a deeper architecture).
    """

    source: str
    loaded: list[str] = field(default_factory=list)
    skipped_head: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"weights from {self.source}: {len(self.loaded)} tensors loaded, "
            f"{len(self.skipped_head)} head tensors replaced"
        ]
        if self.mismatched:
            lines.append("shape mismatches (left freshly initialized):")
            lines.extend(f"  {m}" for m in self.mismatched)
        if self.missing:
            lines.append(f"not in the source: {_some(self.missing, 20)}")
        if self.unused:
            lines.append(
                f"not in the network (ignored): {len(self.unused)} source "
                f"tensors: {_some(self.unused, 20)}"
            )
        return "\n".join(lines)


def cpu_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """A module's state dict, detached and copied to the CPU.

    The form :meth:`~skdl.TabularClassifier.save_weights` writes and a
    fitted estimator given as ``weights`` transfers.

    Parameters
    ----------
    module : torch.nn.Module
        Any module, on any device.

    Returns
    -------
    state : dict of str to torch.Tensor
        Parameter and buffer names to CPU tensors.
    """
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def read_weights_file(path) -> object:
    """Read a file written by ``torch.save`` onto the CPU, safely.

    Only tensors and plain containers are unpickled (``weights_only=True``).

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    saved : object
        What the file holds, usually a state dict.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file cannot be read as a PyTorch weights file (truncated,
        corrupt, not written by ``torch.save``, or holding pickled objects
        other than tensors); the error of ``torch.load`` is chained.
    """
    path = Path(path)
    if path.is_dir():
        raise FileNotFoundError(
            f"weights file {str(path)!r} is a directory; pass the path of a "
            f"file saved with torch.save(module.state_dict()) or an "
            f"estimator's save_weights()."
        )
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch.load fails in many ways
        raise ValueError(
            f"{str(path)!r} is not a readable PyTorch state dict "
            f"({describe_error(exc)}). The file may be truncated or corrupt, not "
            f"written by torch.save, or hold Python objects other than tensors "
            f"(such as a whole pickled module). Save weights with "
            f"torch.save(module.state_dict(), path) or an estimator's "
            f"save_weights()."
        ) from exc


def _check_state(state, where: str) -> dict[str, torch.Tensor]:
    if not isinstance(state, dict) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise ValueError(
            f"{where} does not hold a state dict (a mapping of names "
            f"to tensors), e.g. as written by torch.save(module.state_dict())"
            f" or an estimator's save_weights()."
        )
    return state


def fitted_source(weights):
    """The estimator a ``weights`` value holds, unwrapped.

    :class:`sklearn.frozen.FrozenEstimator` wraps a fitted estimator to
    survive ``clone``; its ``estimator`` is the one whose network counts.
    Values that are no estimator (None, names, paths) come back as given.
    """
    return getattr(weights, "estimator", weights)


@dataclass(frozen=True)
class StartingWeights:
    """What an estimator's ``weights`` parameter means for one fit.

    Decided once per fit (``BaseDLEstimator._resolve_weights``; the image
    estimators tell their model libraries' names apart) and passed to the
    steps that need it: the data adapter, building the network and the
    transfer of a state dict.

    Parameters
    ----------
    library : str, path-like or None, default=None
        Weights that the network's builder loads itself through a model
        library (a torchvision weights name, timm's pretrained weights or
        file); None when there are none.
    state : str, path-like, fitted estimator or None, default=None
        A saved state dict or a fitted estimator whose tensors are
        transferred into the built network (:func:`load_state_dict`).
    """

    library: str | os.PathLike | None = None
    state: object = None

    @property
    def estimator(self):
        """The fitted estimator ``state`` holds (unwrapped), else None."""
        source = fitted_source(self.state)
        if source is None or isinstance(source, str | os.PathLike):
            return None
        return source


def load_state_dict(weights) -> tuple[dict[str, torch.Tensor], str]:
    """State dict and a description from a path or a fitted skdl estimator.

    Parameters
    ----------
    weights : str, path-like, fitted estimator or FrozenEstimator
        A file written by ``torch.save`` or an estimator's ``save_weights``,
        or a fitted skdl estimator, possibly wrapped in
        :class:`sklearn.frozen.FrozenEstimator` (which ``clone``, hence
        grid search, keeps fitted).

    Returns
    -------
    state : dict of str to torch.Tensor
        The tensors, on the CPU.
    source : str
        A description for messages.
    """
    weights = fitted_source(weights)
    net = getattr(weights, "net_", None)
    if net is not None:
        return cpu_state_dict(net.module_), f"fitted {type(weights).__name__}"
    if isinstance(weights, str | os.PathLike):
        path = Path(weights)
        state = read_weights_file(path)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        source = f"file {str(path)!r}"
        return _check_state(state, source), source
    if hasattr(weights, "get_params") and not hasattr(weights, "net_"):
        raise ValueError(
            f"weights={type(weights).__name__}(...) is not fitted; fit it first "
            f"to transfer its trained body. If it was fitted, it was cloned on "
            f"the way: GridSearchCV, cross_val_score and other tools that "
            f"clone an estimator (or a Pipeline holding it) copy its parameters "
            f"with sklearn.base.clone(), which drops fitted state. Pass "
            f"weights=sklearn.frozen.FrozenEstimator(fitted), "
            f"which clone() keeps as is, or save it with save_weights(path) "
            f"and pass weights=path."
        )
    raise ValueError(
        f"weights must be None, a torchvision weights name, a path to a saved "
        f"state dict, or a fitted skdl estimator; got {describe_value(weights)}."
    )


def _some(names, n: int = 5) -> str:
    shown = ", ".join(names[:n])
    return shown + (f", ... ({len(names) - n} more)" if len(names) > n else "")


def load_state_dict_strict(
    module: nn.Module, state: dict[str, torch.Tensor], source: str
) -> None:
    """Load ``state`` into ``module`` exactly, or say briefly why it does not fit.

    Unlike :func:`transfer_weights`, every tensor must match: same names,
    same shapes, nothing left over (as for
    :meth:`~skdl.TabularClassifier.load_weights`).

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    state : dict of str to torch.Tensor
        A state dict saved from a network of the same architecture.
    source : str
        Where ``state`` comes from, for the message.

    Raises
    ------
    ValueError
        If ``state`` is not a mapping of names to tensors, or if its names or
        shapes differ from the network's; the message gives the counts and
        the first few names of each kind.
    """
    state = _check_state(state, source)
    own = module.state_dict()
    unexpected = [k for k in state if k not in own]
    missing = [k for k in own if k not in state]
    mismatched = [
        f"{k}: {tuple(state[k].shape)} -> {tuple(own[k].shape)}"
        for k in state
        if k in own and state[k].shape != own[k].shape
    ]
    if unexpected or missing or mismatched:
        problems = []
        if missing:
            problems.append(
                f"{len(missing)} of the network's {len(own)} tensors are not in "
                f"it ({_some(missing)})"
            )
        if unexpected:
            problems.append(
                f"{len(unexpected)} of its {len(state)} tensors are not in the "
                f"network ({_some(unexpected)})"
            )
        if mismatched:
            problems.append(
                f"{len(mismatched)} tensors differ in shape ({_some(mismatched, 3)})"
            )
        raise ValueError(
            f"The weights in {source} were saved from a different network: "
            + "; ".join(problems)
            + ". Load weights into an estimator fitted with the same backbone "
            "and settings they were saved from, or start a new estimator from "
            "them with weights=path, which loads the tensors that fit."
        )
    module.load_state_dict(state)


# Warn when more than this share of the source's tensors fit nowhere.
_UNUSED_WARN_SHARE = 0.1


def _is_under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def transfer_weights(
    module: nn.Module, state: dict[str, torch.Tensor], source: str, *, prefix: str = ""
) -> TransferReport:
    """Copy matching tensors of ``state`` into ``module``, except its head.

    Parameters
    ----------
    module : torch.nn.Module
        The new network; ``module.head_prefixes`` names its head.
    state : dict
        Source tensors. Keys without ``prefix`` get it prepended when the
        network's own names carry it (a bare torchvision state dict loaded
        into skdl's wrapper).
    source : str
        Description for messages.
    prefix : str, default=""
        Prefix of the backbone inside ``module``.

    Returns
    -------
    report : TransferReport
    """
    own = module.state_dict()
    if prefix and not any(k.startswith(prefix) for k in state):
        state = {prefix + k: v for k, v in state.items()}
    head = tuple(getattr(module, "head_prefixes", ("head",)))
    report = TransferReport(source)
    update = {}
    for name, tensor in state.items():
        if _is_under(name, head):
            report.skipped_head.append(name)
        elif name not in own:
            report.unused.append(name)
        elif own[name].shape != tensor.shape:
            report.mismatched.append(
                f"{name}: {tuple(tensor.shape)} -> {tuple(own[name].shape)}"
            )
        else:
            update[name] = tensor
            report.loaded.append(name)
    report.missing = [
        k
        for k in own
        if k not in update
        and not _is_under(k, head)
        and not k.endswith("num_batches_tracked")
    ]
    if not any(k in dict(module.named_parameters()) for k in update):
        raise ValueError(
            f"None of the parameters from {source} fit this network. Details:\n{report}"
        )
    module.load_state_dict(update, strict=False)
    # Only tensors that carry weights count (not batch-norm step counters).
    counted = [k for k in state if not k.endswith("num_batches_tracked")]
    unused = [k for k in report.unused if not k.endswith("num_batches_tracked")]
    if counted and len(unused) > _UNUSED_WARN_SHARE * len(counted):
        warnings.warn(
            f"{len(unused)} of the {len(counted)} tensors from {source} match "
            f"no tensor of the network and were ignored ({_some(unused)}); the "
            f"weights probably come from another architecture. "
            f"transfer_report_.unused lists them all.",
            WeightsMismatchWarning,
            stacklevel=3,
        )
    if report.mismatched:
        warnings.warn(
            f"{len(report.mismatched)} tensor(s) from {source} do not fit the "
            f"network and keep their fresh initialization: "
            + "; ".join(report.mismatched[:5]),
            WeightsMismatchWarning,
            stacklevel=3,
        )
    return report
