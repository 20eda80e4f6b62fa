"""Backbones for ImageClassifier: the default CNN, torchvision models, modules.

torchvision models are built through torchvision's own registry
(``torchvision.models.get_model``); skdl only swaps in a task-sized head:
the last ``nn.Linear`` or, for networks without one (SqueezeNet), a final
1x1 convolution.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torchvision
from torch import nn

from .._validation.describe import describe_error, describe_value
from ..finetune import TransferReport
from ..modules.cnn import CompactCNN
from ._timm import build_timm, is_timm
from ._weights import build_pretrained, check_weights_path

__all__ = [
    "Backbone",
    "build_backbone",
    "check_input_size",
    "classification_models",
]


@dataclass
class Backbone:
    """A network ready for training, with where its head is.

    Attributes
    ----------
    module : torch.nn.Module
        Maps normalized images to ``n_outputs`` values.
    head : str
        Dotted name of the output layer inside ``module``.
    in_channels : int
        Channels the module expects (grayscale input is repeated to 3).
    family : str
        ``"cnn"``, ``"torchvision"``, ``"timm"`` or ``"custom"``.
    pretrained : TransferReport or None
        What was loaded, when built with torchvision or timm weights.
    mean, std : list of float or None
        The normalization the pretrained weights expect.
    """

    module: nn.Module
    head: str
    in_channels: int
    family: str
    pretrained: TransferReport | None = None
    mean: list | None = None
    std: list | None = None


def classification_models() -> list[str]:
    """Names of torchvision's classification models (for ``backbone=``)."""
    return sorted(torchvision.models.list_models(module=torchvision.models))


def _last_linear(module: nn.Module) -> tuple[str, nn.Linear] | None:
    found = None
    for name, sub in module.named_modules():
        if isinstance(sub, nn.Linear):
            found = (name, sub)
    return found


def _output_layer(module: nn.Module) -> tuple[str, nn.Module] | None:
    """The layer to replace by the head: the last ``nn.Linear``, else a 1x1
    convolution that is the network's last layer with parameters (the
    classifier of SqueezeNet, followed only by activation and pooling)."""
    found = _last_linear(module)
    if found is not None:
        return found
    last = None
    for name, sub in module.named_modules():
        if any(True for _ in sub.parameters(recurse=False)):
            last = (name, sub)
    if (
        last is not None
        and isinstance(last[1], nn.Conv2d)
        and last[1].kernel_size == (1, 1)
        and last[1].groups == 1
    ):
        return last
    return None


def _replace(module: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    setattr(parent, child, new)


def _first_conv_channels(module: nn.Module) -> int | None:
    for sub in module.modules():
        if isinstance(sub, nn.Conv2d):
            return sub.in_channels
    return None


def _swap_relu(module: nn.Module, activation: Callable[[], nn.Module]) -> None:
    for name, sub in list(module.named_modules()):
        if type(sub) is nn.ReLU:
            _replace(module, name, activation())


def build_backbone(
    backbone,
    *,
    in_channels: int,
    n_outputs: int,
    activation: Callable[[], nn.Module],
    activation_is_default: bool,
    dropout: float,
    weights: str | None = None,
) -> Backbone:
    """Build the network named by ``backbone`` with a head of ``n_outputs``.

    Parameters
    ----------
    backbone : str, torch.nn.Module or subclass of torch.nn.Module
        ``"cnn"``, a torchvision classification model name,
        ``"timm:<model name>"``, or a module.
    in_channels : int
        Channels of the input images.
    n_outputs : int
        Width of the new head.
    activation : callable
        Zero-argument factory of the hidden activation.
    activation_is_default : bool
        Whether ``activation`` is the default ReLU. For torchvision models a
        non-default activation replaces every ``nn.ReLU`` in the backbone.
    dropout : float
        Dropout before the head.
    weights : str, path-like or None, default=None
        torchvision weights name for a torchvision backbone, loaded through
        torchvision's weights API and the torch hub cache; for a timm
        backbone, ``"DEFAULT"``, a pretrained tag or a path-like to a local
        file, loaded by timm (see ``skdl/vision/_timm.py``).

    Returns
    -------
    backbone : Backbone
    """
    if isinstance(backbone, str) and backbone == "cnn":
        if weights is not None:
            check_weights_path(weights)
            raise ValueError(
                f"weights={describe_value(weights)} is neither an existing "
                f"state-dict file nor "
                f"usable with backbone='cnn'; torchvision weights names need a "
                f"torchvision backbone such as 'resnet18'."
            )
        module = CompactCNN(
            in_channels, n_outputs, activation=activation, dropout=dropout
        )
        return Backbone(module, "head", in_channels, "cnn")
    if is_timm(backbone):
        module, source, stats = build_timm(backbone, weights)
        built = _with_head(module, n_outputs, dropout, "timm", 3)
        if not activation_is_default:
            _swap_relu(module, activation)
        if source is not None:
            head = built.head + "."
            names = [n for n, _ in module.named_parameters()]
            built.pretrained = TransferReport(
                source=source,
                loaded=["backbone." + n for n in names if not n.startswith(head)],
                skipped_head=["backbone." + n for n in names if n.startswith(head)],
            )
            built.mean, built.std = stats
        return built
    if isinstance(backbone, str):
        names = classification_models()
        if backbone not in names:
            raise ValueError(
                f"backbone={describe_value(backbone)} is neither 'cnn' nor a "
                f"torchvision "
                f"classification model. Examples: 'resnet18', "
                f"'mobilenet_v3_small', 'efficientnet_b0'; see "
                f"skdl.vision.classification_models() for all {len(names)}."
            )
        if weights is None:
            module = torchvision.models.get_model(backbone, weights=None)
        else:
            module, resolved = build_pretrained(backbone, weights)
        # The head first: SqueezeNet's output layer must be found before a
        # PReLU (which has parameters) could pass for it, and the ReLU after
        # it dropped before it is swapped for another activation.
        built = _with_head(module, n_outputs, dropout, "torchvision", 3)
        if not activation_is_default:
            _swap_relu(module, activation)
        if weights is not None:
            preset = resolved.transforms()
            head = built.head + "."
            names = [n for n, _ in module.named_parameters()]
            built.pretrained = TransferReport(
                source=f"torchvision {resolved}",
                loaded=["backbone." + n for n in names if not n.startswith(head)],
                skipped_head=["backbone." + n for n in names if n.startswith(head)],
            )
            built.mean, built.std = list(preset.mean), list(preset.std)
        return built
    if weights is not None and isinstance(weights, str):
        check_weights_path(weights)
        raise ValueError(
            f"weights={describe_value(weights)} is not an existing file, and "
            f"weights names need a torchvision backbone such as 'resnet18' or a "
            f"timm one such as 'timm:efficientnet_lite0'. For "
            f"backbone={describe_value(backbone)}, pass weights= the path of its "
            f"saved state dict (torch.save(module.state_dict(), path))."
        )
    if inspect.isclass(backbone) and issubclass(backbone, nn.Module):
        try:
            module = backbone(num_classes=n_outputs)
        except TypeError:
            try:
                module = backbone()
            except Exception as exc:  # noqa: BLE001 - the user's constructor
                raise ValueError(
                    f"backbone={backbone.__name__} is a class that could not be "
                    f"built without arguments ({describe_error(exc)}). Pass an "
                    f"instance instead, e.g. backbone={backbone.__name__}(...), "
                    f"built as its documentation says."
                ) from exc
    elif isinstance(backbone, nn.Module):
        module = copy.deepcopy(backbone)
    else:
        raise ValueError(
            f"backbone must be 'cnn', a torchvision model name, or a "
            f"torch.nn.Module instance or class; got {describe_value(backbone)}."
        )
    channels = _first_conv_channels(module) or in_channels
    return _with_head(module, n_outputs, dropout, "custom", channels)


def _with_head(
    module: nn.Module, n_outputs: int, dropout: float, family: str, channels: int
) -> Backbone:
    found = _output_layer(module)
    if found is None:
        raise ValueError(
            f"Cannot find the output layer of {type(module).__name__}: skdl "
            f"replaces a network's last nn.Linear (or, without one, a final 1x1 "
            f"nn.Conv2d) with a head sized for the task, and this network has "
            f"neither. Give it a final nn.Linear (e.g. after global pooling "
            f"and flattening)."
        )
    name, layer = found
    linear = isinstance(layer, nn.Linear)
    n_out = layer.out_features if linear else layer.out_channels
    if family == "custom" and n_out == n_outputs and dropout == 0:
        return Backbone(module, name, channels, family)
    if linear:
        new = nn.Linear(layer.in_features, n_outputs)
    else:
        new = nn.Conv2d(layer.in_channels, n_outputs, kernel_size=1)
        _drop_activations_after(module, name)
    _replace(module, name, nn.Sequential(nn.Dropout(dropout), new))
    return Backbone(module, name, channels, family)


#: Layers that may follow a convolutional head: they pass logits on as such.
_AFTER_CONV_HEAD = (
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
    nn.AvgPool2d,
    nn.MaxPool2d,
    nn.Flatten,
    nn.Dropout,
    nn.Identity,
)


def _drop_activations_after(module: nn.Module, name: str) -> None:
    """Replace what follows layer ``name`` in its parent, but pooling, by Identity.

    SqueezeNet's classifier is ``Dropout, Conv2d(1x1), ReLU, pooling``: kept,
    the ReLU would make every logit non-negative (and a logit stuck at zero
    gets no gradient), so the new head's outputs must reach the pooling as
    they are.
    """
    parent_name, _, child = name.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    if not isinstance(parent, nn.Sequential):
        return
    names = list(parent._modules)
    for sibling in names[names.index(child) + 1 :]:
        if not isinstance(parent._modules[sibling], _AFTER_CONV_HEAD):
            parent._modules[sibling] = nn.Identity()


def check_input_size(network: nn.Module, backbone, n_channels: int, size) -> None:
    """Refuse an image size the backbone cannot take, before training.

    Deep torchvision models downsample by 32 or more (and ViT and Inception
    need exact or minimum sizes); too small an input fails deep inside torch
    at the first batch. One forward pass of a blank image in evaluation
    mode, which leaves the weights, the batch-norm statistics and the random
    state as they are, finds out now.
    """
    height, width = size
    training = network.training
    network.eval()
    try:
        with torch.no_grad():
            network(torch.zeros(1, n_channels, height, width))
    except (RuntimeError, AssertionError, ValueError) as exc:
        name = backbone if isinstance(backbone, str) else "the backbone"
        raise ValueError(
            f"backbone={describe_value(name)} cannot take {height}x{width} images "
            f"({describe_error(exc)}). Set image_size to a size it accepts, "
            f"e.g. image_size=224 for torchvision models, or choose a "
            f"backbone for small images such as 'cnn' or 'resnet18'."
        ) from exc
    finally:
        network.train(training)
