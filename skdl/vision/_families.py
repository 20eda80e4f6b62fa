"""Backbone families of torchvision: how :func:`skdl.finetune.block_prefixes`
splits them into blocks.

A new backbone family whose blocks the generic rules (a ``blocks`` or
``features`` sequence, else the top-level children) get wrong is one
registered rule here.
"""

from __future__ import annotations

import torchvision
from torch import nn

from ..finetune._freeze import register_block_rule

__all__ = ["resnet_blocks"]


@register_block_rule
def resnet_blocks(backbone: nn.Module, base: str) -> list[tuple[str, ...]] | None:
    """torchvision ResNets: the stem (conv1, bn1), then ``layer1`` to ``layer4``."""
    if not isinstance(backbone, torchvision.models.ResNet):
        return None
    stem = (base + "conv1", base + "bn1")
    return [stem] + [(f"{base}layer{i}",) for i in range(1, 5)]
