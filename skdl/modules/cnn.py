"""Image networks: the default compact CNN and the normalizing wrapper."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

__all__ = ["CompactCNN", "ImageNetwork"]


class CompactCNN(nn.Module):
    """A small VGG-style CNN: the "blocks" that ``freeze=k`` counts.

    Each block is ``Conv3x3 -> BatchNorm -> activation -> MaxPool``; global
    average pooling and dropout precede the linear head. With the default
    widths a 28x28 image costs about 7.4 million multiply-adds, which keeps
    CPU training practical.

    Parameters
    ----------
    in_channels : int
        Channels of the input images.
    n_outputs : int
        Width of the linear head.
    channels : sequence of int, default=(32, 64, 128)
        Width of each block.
    activation : callable, default=torch.nn.ReLU
        Zero-argument factory of the activation module.
    dropout : float, default=0.0
        Dropout probability before the head (and, halved, after each block).
    """

    def __init__(
        self,
        in_channels: int,
        n_outputs: int,
        channels: Sequence[int] = (32, 64, 128),
        activation: Callable[[], nn.Module] = nn.ReLU,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        blocks = []
        width = in_channels
        for out in channels:
            layers: list[nn.Module] = [
                nn.Conv2d(width, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                activation(),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            if dropout > 0:
                layers.append(nn.Dropout2d(dropout / 2))
            blocks.append(nn.Sequential(*layers))
            width = out
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(width, n_outputs)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of normalized images."""
        return self.head(self.pool(self.blocks(x)))


class ImageNetwork(nn.Module):
    """Per-channel normalization, channel adaptation, then a backbone.

    Normalization lives inside the network (as buffers), so augmentation
    works on images in [0, 1] and saved weights carry their statistics.

    Parameters
    ----------
    backbone : torch.nn.Module
        Network mapping normalized ``(N, C, H, W)`` images to outputs.
    mean, std : sequence of float
        Per-channel statistics, one value per input channel or per backbone
        channel (e.g. ImageNet's for pretrained torchvision weights).
    backbone_channels : int
        Channels the backbone expects. Grayscale input is repeated to three
        channels for backbones that expect RGB.
    head : str
        Dotted name of the backbone's output layer, relative to ``backbone``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        mean: Sequence[float],
        std: Sequence[float],
        backbone_channels: int,
        head: str,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        shape = (1, len(mean), 1, 1)
        self.register_buffer(
            "mean", torch.tensor(mean, dtype=torch.float32).view(shape)
        )
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(shape))
        self.backbone_channels = backbone_channels
        self.head_prefixes = ("backbone." + head,)

    def forward(
        self, x: torch.Tensor | None = None, features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Outputs for a batch of images with values in [0, 1].

        ``features`` instead of ``x`` are the head's inputs, computed once
        by a frozen backbone (see ``skdl/vision/_features.py``); only the
        head runs on them.
        """
        if features is not None:
            return self.get_submodule(self.head_prefixes[0])(features)
        if x.shape[1] == 1 and self.backbone_channels == 3:
            x = x.expand(-1, 3, -1, -1)
        out = self.backbone((x - self.mean) / self.std)
        if not isinstance(out, torch.Tensor):
            # torchvision's Inception/GoogLeNet return named tuples in training.
            out = out[0]
        return out
