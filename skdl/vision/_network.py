"""From ``backbone``, ``image_size`` and ``weights`` to the image network.

The network side of :class:`~skdl.ImageClassifier`, as functions of the
values they need: what ``weights`` means for a backbone (a model library's
pretrained weights or a state dict to transfer), the input size a backbone
asks for, and the :class:`~skdl.modules.cnn.ImageNetwork` around a built
backbone with the normalization statistics it takes. Each parameter is
resolved here once and the estimator passes the resolved value on.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .._validation.describe import describe_value
from ..finetune._transfer import StartingWeights, TransferReport
from ..modules.cnn import ImageNetwork
from ._arrays import image_size_tuple
from ._backbones import build_backbone, check_input_size
from ._normalization import fit_channels
from ._timm import holds_skdl_network, is_timm, is_timm_file, timm_input_size

__all__ = [
    "adopt_state_statistics",
    "build_image_network",
    "resolve_image_size",
    "resolve_weights",
    "statistics_after_transfer",
    "weights_bring_statistics",
]


def resolve_image_size(image_size, backbone) -> tuple[int, int] | None:
    """The ``(H, W)`` that training images are resized to, if any.

    ``image_size`` as given (an int is a square); None keeps the images'
    own size, except for a timm backbone, whose pretrained configuration
    names its input size.
    """
    size = image_size_tuple(image_size)
    if size is None and is_timm(backbone):
        size = timm_input_size(backbone)
    return size


def resolve_weights(weights, backbone) -> StartingWeights:
    """What ``weights`` means for ``backbone``.

    A string that names no file is a weights name for the backbone's library
    (torchvision or timm); a local timm weights file (not one saved from a
    skdl network) is loaded by timm too. Everything else (a path to a saved
    state dict, a fitted estimator) is a state dict to transfer.
    """
    if weights is None:
        return StartingWeights()
    if isinstance(weights, str) and not os.path.exists(weights):
        return StartingWeights(library=weights)
    if is_timm(backbone) and is_timm_file(weights) and not holds_skdl_network(weights):
        return StartingWeights(library=Path(weights))
    return StartingWeights(state=weights)


def weights_bring_statistics(starting: StartingWeights, backbone) -> bool:
    """Whether the starting weights come with the normalization they expect."""
    if starting.library is None:
        return False
    return is_timm(backbone) or (isinstance(backbone, str) and backbone != "cnn")


def build_image_network(
    backbone,
    *,
    n_channels: int,
    n_outputs: int,
    activation: Callable[[], torch.nn.Module],
    activation_is_default: bool,
    dropout: float,
    library,
    statistics: tuple,
    prefer_pretrained: bool,
    image_shape: tuple[int, int],
    float_scale: float | None,
    weights_param=None,
) -> tuple[ImageNetwork, TransferReport | None, tuple[np.ndarray, np.ndarray]]:
    """Build the backbone and the network that normalizes its input.

    Parameters
    ----------
    backbone : str, torch.nn.Module or type
        The ``backbone`` parameter.
    n_channels : int
        Channels of the training images.
    n_outputs : int
        Outputs of the head.
    activation : callable
        Builds the hidden activation.
    activation_is_default : bool
        Whether ``activation`` is the default ReLU (torchvision backbones
        keep theirs then).
    dropout : float
        Dropout before the head.
    library : str, path-like or None
        Weights the backbone's library loads
        (:attr:`~skdl.finetune._transfer.StartingWeights.library`); None
        builds a randomly initialized backbone.
    statistics : (mean, std)
        The input normalization the data adapter decided (``(None, None)``
        when the pretrained weights are to bring it).
    prefer_pretrained : bool
        Whether statistics that come with pretrained weights replace
        ``statistics`` (``input_normalization="auto"``).
    image_shape : (int, int)
        Height and width of the input, checked against the backbone.
    float_scale : float or None
        ``float_scale_`` of the training images; None: they hold no pixels.
    weights_param : object, default=None
        The ``weights`` parameter, named in a warning.

    Returns
    -------
    network : ImageNetwork
    pretrained : TransferReport or None
        What the library loaded (None without ``library``).
    statistics : (mean, std)
        The per-channel statistics the network normalizes with, as float64
        arrays with one value per backbone input channel.
    """
    built = build_backbone(
        backbone,
        in_channels=n_channels,
        n_outputs=n_outputs,
        activation=activation,
        activation_is_default=activation_is_default,
        dropout=dropout,
        weights=library,
    )
    if n_channels not in (1, built.in_channels):
        raise ValueError(
            f"The images have {n_channels} channels but the backbone "
            f"expects {built.in_channels}."
        )
    if built.mean is not None and prefer_pretrained:
        # Pretrained weights expect the normalization they were trained with.
        statistics = (
            np.asarray(built.mean, dtype=np.float64),
            np.asarray(built.std, dtype=np.float64),
        )
        if float_scale is None:
            warnings.warn(
                f"weights={describe_value(weights_param)} expect pixels in "
                f"[0, 1] with "
                f"their own normalization, but the training images hold "
                f"floats outside [0, 255] (standardized beforehand?); pass "
                f"the images unstandardized.",
                UserWarning,
                stacklevel=2,
            )
    mean, std = fit_channels(*statistics, n_channels, built.in_channels)
    network = ImageNetwork(
        built.module,
        mean=mean.tolist(),
        std=std.tolist(),
        backbone_channels=built.in_channels,
        head=built.head,
    )
    check_input_size(network, backbone, n_channels, image_shape)
    return network, built.pretrained, (mean, std)


def adopt_state_statistics(module: ImageNetwork, state: dict) -> None:
    """Take the input normalization of a state dict saved on RGB-expanded input.

    A network trained on RGB-expanded input (e.g. grayscale images on a
    pretrained torchvision backbone) brings the normalization of the
    channels its backbone sees; keep it rather than this data's.
    """
    mean, std = state.get("mean"), state.get("std")
    if (
        isinstance(mean, torch.Tensor)
        and isinstance(std, torch.Tensor)
        and mean.shape != module.mean.shape
        and mean.numel() == std.numel() == module.backbone_channels
    ):
        module.mean = mean.detach().float().reshape(1, -1, 1, 1).clone()
        module.std = std.detach().float().reshape(1, -1, 1, 1).clone()


def statistics_after_transfer(
    module: ImageNetwork, statistics: tuple, input_normalization
) -> tuple[np.ndarray, np.ndarray]:
    """The statistics ``module`` normalizes with once a state dict is in it.

    With ``input_normalization="auto"``, a transferred skdl network brings
    the statistics it was trained on; otherwise the ones asked for
    (``statistics``) replace those the state dict brought.
    """
    if input_normalization != "auto":
        shape = (1, -1, 1, 1)
        module.mean = torch.tensor(statistics[0], dtype=torch.float32).view(shape)
        module.std = torch.tensor(statistics[1], dtype=torch.float32).view(shape)
        return statistics
    return (
        module.mean.flatten().numpy().astype(np.float64),
        module.std.flatten().numpy().astype(np.float64),
    )
