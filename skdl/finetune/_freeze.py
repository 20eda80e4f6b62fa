"""Freezing blocks of a network and thawing them at an epoch.

The implementation behind :mod:`skdl.finetune`'s ``freeze`` and
``unfreeze_at``; see that module for the user-facing description.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

from skorch.callbacks import Callback
from torch import nn

from ._transfer import _is_under

__all__ = [
    "Unfreeze",
    "backbone_frozen",
    "block_prefixes",
    "freeze_parameters",
    "frozen_norm_layers",
    "register_block_rule",
]

#: Block rules of backbone families that the generic rules of
#: :func:`block_prefixes` do not cover, tried first and in order. A rule takes
#: the backbone and the prefix of its parameter names (``"backbone."`` or
#: ``""``) and returns the blocks, or None when the backbone is not of its
#: family. :mod:`skdl.vision._families` declares torchvision's, so this module
#: knows no model library.
BlockRule = Callable[[nn.Module, str], "list[tuple[str, ...]] | None"]
BLOCK_RULES: list[BlockRule] = []


def register_block_rule(rule: BlockRule) -> BlockRule:
    """Declare the blocks of a backbone family (usable as a decorator)."""
    BLOCK_RULES.append(rule)
    return rule


def block_prefixes(module: nn.Module) -> list[tuple[str, ...]]:
    """The network's blocks, in order, as tuples of module-name prefixes.

    * tabular MLP: each hidden layer (the categorical embeddings belong to
      the first);
    * the default CNN: each convolutional block;
    * torchvision ResNets: the stem (``conv1`` and ``bn1``), then
      ``layer1`` ... ``layer4``;
    * torchvision models with a ``features`` sequence (MobileNet,
      EfficientNet, VGG, DenseNet, ConvNeXt, ...): each of its children;
    * anything else: the backbone's top-level children, head excluded.
    """
    custom = getattr(module, "block_prefixes", None)
    if callable(custom):
        return [tuple(b) for b in custom()]
    backbone = getattr(module, "backbone", module)
    base = "backbone." if backbone is not module else ""
    head = tuple(getattr(module, "head_prefixes", ("head",)))
    for rule in BLOCK_RULES:
        blocks = rule(backbone, base)
        if blocks is not None:
            return blocks
    blocks_attr = getattr(backbone, "blocks", None)
    if isinstance(blocks_attr, nn.Sequential | nn.ModuleList):
        return [(f"{base}blocks.{i}",) for i in range(len(blocks_attr))]
    features = getattr(backbone, "features", None)
    if isinstance(features, nn.Sequential):
        return [(f"{base}features.{name}",) for name, _ in features.named_children()]
    blocks = []
    for name, child in backbone.named_children():
        full = base + name
        if _is_under(full, head) or not any(True for _ in child.parameters()):
            continue
        blocks.append((full,))
    return blocks


def freeze_parameters(module: nn.Module, freeze) -> list[str]:
    """Turn off gradients as ``freeze`` says; return the frozen names.

    Parameters
    ----------
    module : torch.nn.Module
        The network (with ``head_prefixes``).
    freeze : None, "backbone", int or list of str
        See the estimators' ``freeze`` parameter.

    Returns
    -------
    frozen : list of str
        Names of the parameters that no longer require gradients.
    """
    if freeze is None:
        return []
    names = [name for name, _ in module.named_parameters()]
    head = tuple(getattr(module, "head_prefixes", ("head",)))
    if isinstance(freeze, str) and freeze == "backbone":
        chosen = [n for n in names if not _is_under(n, head)]
    elif isinstance(freeze, int):
        blocks = block_prefixes(module)
        if freeze > len(blocks):
            raise ValueError(
                f"freeze={freeze} but the network has only {len(blocks)} blocks "
                f"({', '.join('+'.join(b) for b in blocks)})."
            )
        prefixes = [p for block in blocks[:freeze] for p in block]
        chosen = [n for n in names if _is_under(n, prefixes)]
    else:
        patterns = [freeze] if isinstance(freeze, str) else list(freeze)
        chosen = [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)]
        unmatched = [
            p for p in patterns if not any(fnmatch.fnmatch(n, p) for n in names)
        ]
        if unmatched:
            raise ValueError(
                f"freeze patterns {unmatched} match no parameter; names look like "
                f"{names[:3]} ... {names[-2:]}."
            )
    for name, p in module.named_parameters():
        if name in chosen:
            p.requires_grad_(False)
    return chosen


def frozen_norm_layers(module: nn.Module) -> list[str]:
    """Names of the layers to keep in evaluation mode while frozen.

    Batch-norm layers whose parameters are all frozen keep their running
    statistics. When everything outside the head is frozen, the whole
    backbone runs in evaluation mode: its dropout and stochastic depth are
    off too, so a frozen backbone is a fixed feature extractor, and training
    on features computed once (``skdl/vision/_features.py``) gives the
    same result as running it every batch.
    """
    head = tuple(getattr(module, "head_prefixes", ("head",)))
    if backbone_frozen(module):
        return [
            name
            for name, _ in module.named_modules()
            if name
            and not _is_under(name, head)
            and not _is_ancestor(name, head)
            and _is_ancestor(name.rpartition(".")[0], head)
        ]
    found = []
    for name, sub in module.named_modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm):
            params = list(sub.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                found.append(name)
    return found


def _is_ancestor(name: str, prefixes) -> bool:
    """Whether module ``name`` contains one of ``prefixes`` ("" is the root)."""
    return any(not name or p.startswith(name + ".") for p in prefixes)


def backbone_frozen(module: nn.Module) -> bool:
    """Whether every parameter outside the head is frozen (and some exist)."""
    head = tuple(getattr(module, "head_prefixes", ("head",)))
    body = [p for n, p in module.named_parameters() if not _is_under(n, head)]
    return bool(body) and not any(p.requires_grad for p in body)


class Unfreeze(Callback):
    """Thaw frozen parameters at the start of epoch ``epoch`` (1-based).

    The parameters already sit in the optimizer's backbone groups (with the
    backbone learning rate and weight decay); while frozen they have no
    gradient, so the optimizer skips them. Thawing turns their gradients on
    and hands their batch-norm layers back to training mode, so from this
    epoch on they train with the groups' rates and any schedule.

    Parameters
    ----------
    epoch : int
        First epoch in which everything trains.
    names : list of str
        The frozen parameter names.
    """

    def __init__(self, epoch: int, names: list[str]) -> None:
        self.epoch = epoch
        self.names = names

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) != self.epoch:
            return
        wanted = set(self.names)
        for name, p in net.module_.named_parameters():
            if name in wanted:
                p.requires_grad_(True)
        net.frozen_norm_ = []
        net._mode_ = None  # let the next batch switch every module's mode
        net.history.record("event_unfreeze", True)
