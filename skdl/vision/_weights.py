"""Torchvision's pretrained weights: names, the hub cache, offline errors.

The generic half of fine-tuning (state dicts, transfer, freezing) lives in
:mod:`skdl.finetune`, which imports no torchvision; this module is the
torchvision half, used by :mod:`skdl.vision._backbones`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torchvision
from torch import nn

from .._validation.describe import describe_error, describe_value

__all__ = [
    "build_pretrained",
    "check_weights_path",
    "hub_checkpoint_path",
    "torchvision_weights",
]


def hub_checkpoint_path(url: str) -> Path:
    """Where the torch hub cache keeps the file downloaded from ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


_WEIGHTS_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors")


def check_weights_path(weights: str, model_name: str | None = None) -> None:
    """Raise when ``weights`` reads as a file path but there is no such file.

    A string with a path separator or a weights-file suffix (``.pt``,
    ``.pth``, ``.bin``, ``.ckpt``, ``.safetensors``) was meant as a file, so
    a missing file is reported as such rather than as an unknown torchvision
    weights name.

    Parameters
    ----------
    weights : str
        The ``weights`` parameter, known not to be an existing file.
    model_name : str or None, default=None
        The torchvision backbone, to list its weights names.

    Raises
    ------
    FileNotFoundError
        If ``weights`` looks like a path.
    """
    separators = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    if not (
        any(sep in weights for sep in separators)
        or weights.lower().endswith(_WEIGHTS_SUFFIXES)
    ):
        return
    if model_name is None:
        names = "with a torchvision backbone, a weights name such as 'DEFAULT'"
    else:
        enum = torchvision.models.get_model_weights(model_name)
        names = f"a weights name of {model_name}: {sorted(enum.__members__)}"
    raise FileNotFoundError(
        f"weights={describe_value(weights)} looks like a file path, but no such "
        f"file exists "
        f"(relative paths start from the working directory {os.getcwd()!r}). "
        f"Check the path; weights also accepts {names}."
    )


def torchvision_weights(model_name: str, weights: str):
    """Resolve a weights name such as ``"DEFAULT"`` for a torchvision model.

    Parameters
    ----------
    model_name : str
        A torchvision classification model, e.g. ``"resnet18"``.
    weights : str
        A member of the model's weights enum (``"IMAGENET1K_V1"``,
        ``"DEFAULT"``, ...) or a full name like ``"ResNet18_Weights.DEFAULT"``.

    Returns
    -------
    weights : torchvision.models.WeightsEnum

    Raises
    ------
    FileNotFoundError
        If ``weights`` looks like a file path (see :func:`check_weights_path`).
    ValueError
        If ``weights`` is not a weights name of the model.
    """
    check_weights_path(weights, model_name)
    enum = torchvision.models.get_model_weights(model_name)
    member = weights.rsplit(".", 1)[-1]
    if member not in enum.__members__:
        raise ValueError(
            f"weights={describe_value(weights)} is not a weights name of {model_name}; "
            f"available: {sorted(enum.__members__)}."
        )
    return enum[member]


def build_pretrained(model_name: str, weights: str) -> tuple[nn.Module, object]:
    """Build a torchvision model with its pretrained weights, offline-aware.

    The weights come through torchvision's own API (``get_model``), which
    reads the torch hub cache and downloads only when the file is missing.
    Without network access the error says which file to put where.
    """
    resolved = torchvision_weights(model_name, weights)
    path = hub_checkpoint_path(resolved.url)
    try:
        model = torchvision.models.get_model(model_name, weights=resolved)
    except Exception as exc:  # noqa: BLE001 - any download failure is re-raised
        if path.exists():
            raise ValueError(
                f"The cached file {path} of the pretrained weights {resolved} "
                f"could not be loaded ({describe_error(exc)}); it is probably "
                f"truncated or corrupt, or holds another model's weights. Delete "
                f"it so that it is downloaded again, or replace it with the file "
                f"from {resolved.url}."
            ) from exc
        raise FileNotFoundError(
            f"The pretrained weights {resolved} are not in the torch hub cache and "
            f"could not be downloaded ({type(exc).__name__}: {exc}). Download "
            f"{resolved.url} on a machine with internet access and save it as "
            f"{path} (set TORCH_HOME to move the cache), or pass weights= a "
            f"path to a saved state dict."
        ) from exc
    return model, resolved
