"""timm backbones by name: ``backbone="timm:efficientnet_lite0"``.

Models come from timm's own registry (``timm.create_model``) and pretrained
weights through timm's own loading code: ``weights="DEFAULT"`` (or a
pretrained tag such as ``"ra_in1k"``) reads timm's cache and downloads only
when the file is missing; ``weights=<path>`` loads a local file through
timm's pretrained-config override (``pretrained_cfg_overlay=dict(file=...)``),
which works offline and applies timm's own key conversions. The model's
data config gives the normalization and the default input size.
timm is an optional dependency (``pip install skdl[timm]``).
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from .._validation.describe import describe_error

__all__ = [
    "TIMM_PREFIX",
    "build_timm",
    "holds_skdl_network",
    "is_timm",
    "is_timm_file",
    "timm_input_size",
]

TIMM_PREFIX = "timm:"


def is_timm(backbone) -> bool:
    """Whether ``backbone`` names a timm model (``"timm:<name>"``)."""
    return isinstance(backbone, str) and backbone.startswith(TIMM_PREFIX)


def _import_timm():
    try:
        import timm
    except ImportError:
        raise ImportError(
            "backbone='timm:...' needs the timm package; install it with "
            "pip install 'skdl[timm]' (or pip install timm)."
        ) from None
    return timm


def _model_name(backbone: str):
    timm = _import_timm()
    name = backbone[len(TIMM_PREFIX) :]
    if not timm.is_model(name.split(".", 1)[0]):
        raise ValueError(
            f"backbone={backbone[:80]!r} is not a timm model name; list them with "
            f"timm.list_models('*efficientnet*') (pattern as you like)."
        )
    return timm, name


def timm_input_size(backbone: str) -> tuple[int, int] | None:
    """The (height, width) the timm model was pretrained on, if known."""
    timm, name = _model_name(backbone)
    cfg = timm.get_pretrained_cfg(name.split(".", 1)[0])
    size = getattr(cfg, "input_size", None)
    return None if size is None else (int(size[1]), int(size[2]))


def build_timm(backbone: str, weights) -> tuple[nn.Module, str | None, tuple | None]:
    """Build a timm model, pretrained as ``weights`` says.

    Parameters
    ----------
    backbone : str
        ``"timm:<model name>"``, optionally ``"timm:<name>.<tag>"``.
    weights : None, str or path-like
        None for random initialization; ``"DEFAULT"`` for timm's default
        pretrained weights, another string for a pretrained tag; a path for
        a local weights file loaded through timm's pretrained-config
        override.

    Returns
    -------
    module : torch.nn.Module
    source : str or None
        Where the weights came from, None without weights.
    stats : (mean, std) or None
        The normalization of the pretrained weights (timm's data config).
    """
    timm, name = _model_name(backbone)
    if weights is None:
        return timm.create_model(name, pretrained=False), None, None
    kwargs = {}
    if isinstance(weights, os.PathLike):
        kwargs["pretrained_cfg_overlay"] = {"file": os.fspath(weights)}
        source = f"file {os.fspath(weights)!r} (through timm)"
    elif weights == "DEFAULT":
        source = f"timm {name}"
    else:
        name = f"{name.split('.', 1)[0]}.{weights}"
        source = f"timm {name}"
    try:
        module = timm.create_model(name, pretrained=True, **kwargs)
    except Exception as exc:  # noqa: BLE001 - download and load fail in many ways
        where = (
            "the file could not be loaded as its weights"
            if kwargs
            else "they are not in timm's cache (HF_HOME) and could not be downloaded"
        )
        raise ValueError(
            f"The pretrained weights of timm model {name!r} could not be "
            f"loaded: {where} ({describe_error(exc)}). Without internet access, "
            f"pass weights= the path of a local weights file for this model."
        ) from exc
    config = timm.data.resolve_data_config({}, model=module)
    return module, source, (list(config["mean"]), list(config["std"]))


def is_timm_file(weights) -> bool:
    """Whether ``weights`` is an existing file (for timm to load)."""
    return isinstance(weights, str | os.PathLike) and Path(weights).is_file()


def holds_skdl_network(path) -> bool:
    """Whether the file holds a whole skdl network (saved by ``save_weights``),
    which skdl transfers itself, rather than a bare model for timm to load."""
    from ..finetune import read_weights_file

    state = read_weights_file(path)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    return isinstance(state, dict) and any(
        isinstance(k, str) and k.startswith("backbone.") for k in state
    )
