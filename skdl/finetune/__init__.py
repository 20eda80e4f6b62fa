"""Fine-tuning: pretrained weights, frozen blocks, staged thawing.

Every step of fine-tuning is a hyperparameter of the estimators:

* ``weights`` says where the starting weights come from: a torchvision
  weights name (loaded through torchvision's weights API and the torch hub
  cache), timm's pretrained weights or a local file for a ``"timm:<name>"``
  backbone (loaded by timm), a saved state dict (of any module), or a
  fitted skdl estimator. The head is always rebuilt for the new task.
* ``freeze`` stops gradients for part of the network: ``"backbone"`` (all
  but the head), an int ``k`` (the first ``k`` blocks, see
  :func:`block_prefixes`), or glob patterns on parameter names.
* ``unfreeze_at`` thaws the frozen part at the start of that epoch.
* ``backbone_lr_scale`` gives everything outside the head a smaller
  learning rate.

Frozen parameters get no gradient, hence neither updates nor weight decay.
Batch normalization layers whose parameters are all frozen are kept in
evaluation mode, so their running statistics stay those of the pretrained
network; they return to training mode when thawed. With everything but the
head frozen, the whole backbone runs in evaluation mode, and
:class:`~skdl.ImageClassifier` computes its features once per image and
trains the head on them (``skdl/vision/_features.py``).
"""

from __future__ import annotations

from ._freeze import (
    Unfreeze,
    block_prefixes,
    freeze_parameters,
    frozen_norm_layers,
)
from ._transfer import (
    TransferReport,
    WeightsMismatchWarning,
    cpu_state_dict,
    load_state_dict,
    load_state_dict_strict,
    read_weights_file,
    transfer_weights,
)

__all__ = [
    "TransferReport",
    "Unfreeze",
    "WeightsMismatchWarning",
    "block_prefixes",
    "cpu_state_dict",
    "freeze_parameters",
    "frozen_norm_layers",
    "hub_checkpoint_path",
    "load_state_dict",
    "load_state_dict_strict",
    "read_weights_file",
    "torchvision_weights",
    "transfer_weights",
]


def __getattr__(name: str):
    # torchvision's weights names belong to skdl.vision; they are served from
    # here, on first use, for the public API, so that this module (the generic
    # half of fine-tuning) imports no model library.
    if name in ("torchvision_weights", "hub_checkpoint_path"):
        from ..vision import _weights

        return getattr(_weights, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
