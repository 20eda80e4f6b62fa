"""Frozen-feature caching: run a frozen backbone once, train the head on it.

With everything below the head frozen (``freeze="backbone"``, or the first
stage of ``unfreeze_at``) and no augmentation, every epoch would feed the
same images through the same fixed backbone. Instead, the head's inputs are
computed once per image, in evaluation mode, and the epochs train the head
on them. A frozen backbone runs in evaluation mode in the uncached path too
(:func:`skdl.finetune.frozen_norm_layers`), and the cached batches are drawn
in the same shuffled order from the same generator, so both paths give the
same model for the same seed (up to float rounding).

When the backbone thaws (``unfreeze_at``), the datasets switch back to the
images and training runs the whole network. Validation runs on the cached
features while cached; prediction always runs the whole network.

Features are cached only when they take at most :data:`CACHE_LIMIT_BYTES`
(training and validation together); above it, training runs the frozen
backbone every epoch as without caching.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
from skorch.callbacks import Callback
from torch import nn
from torch.utils.data import Dataset

from ..finetune._freeze import backbone_frozen

__all__ = ["CACHE_LIMIT_BYTES", "CachedFeatures", "cache_frozen_features"]

#: Most memory the cached features of one fit may take: 1 GiB, room for
#: about 200,000 images of 1,280 pooled float32 features (EfficientNet,
#: MobileNetV2) or 130,000 of 2,048 (ResNet-50).
CACHE_LIMIT_BYTES = 1 << 30

#: Images per forward pass while computing the features.
_EXTRACT_BATCH = 64


class CachedFeatures(Dataset):
    """A dataset that serves the head's cached inputs instead of images.

    Batches are ``({"features": ...}, y)`` (plus ``"sample_weight"``) in the
    order the source dataset would give, from the same generator. With
    ``use_cache`` off, it is the source dataset again.

    Parameters
    ----------
    source : dataset
        The image dataset (with ``batches``, ``n_batches``, ``y`` and
        ``sample_weight``).
    features : torch.Tensor
        The head's input for every row of ``source``, on the CPU.
    """

    def __init__(self, source, features: torch.Tensor) -> None:
        self.source = source
        self.features = features
        self.use_cache = True

    def __len__(self) -> int:
        return len(self.source)

    def n_batches(self, batch_size: int) -> int:
        """Number of batches of ``batch_size`` in one pass."""
        return math.ceil(len(self) / batch_size)

    def release(self) -> None:
        """Drop the features and serve the source's images from now on."""
        self.use_cache = False
        self.features = None

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        rng: np.random.Generator | None = None,
        transform: Callable | None = None,
        **kwargs: object,
    ) -> Iterator:
        """Yield ``(inputs, y)`` batches of cached features (or of images)."""
        if not self.use_cache:
            yield from self.source.batches(
                batch_size, shuffle=shuffle, rng=rng, transform=transform, **kwargs
            )
            return
        n = len(self)
        if shuffle:  # as TensorDataset and FileImageDataset draw it
            rng = rng if rng is not None else np.random.default_rng()
            order = torch.from_numpy(rng.permutation(n))
        else:
            order = torch.arange(n)
        y, weight = self.source.y, self.source.sample_weight
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            inputs = {"features": self.features[idx]}
            if weight is not None:
                inputs["sample_weight"] = weight[idx]
            yield inputs, None if y is None else y[idx]


class _ThawFeatures(Callback):
    """Serve images again from the epoch the backbone thaws, and after fit."""

    def __init__(self, datasets: list, epoch: int | None) -> None:
        self.datasets = datasets
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if self.epoch is not None and len(net.history) == self.epoch:
            for dataset in self.datasets:
                dataset.release()

    def on_train_end(self, net, **kwargs):
        # The validation dataset stays referenced by the fitted net.
        for dataset in self.datasets:
            dataset.release()


def _extract(module: nn.Module, dataset, device: str, num_workers: int):
    """The head's input for every row of ``dataset``, or None if unusable."""
    head = module.get_submodule(module.head_prefixes[0])
    seen: list = []

    def capture(_, args, output):
        seen.append((args[0], output))

    handle = head.register_forward_hook(capture)
    chunks = []
    try:
        with torch.inference_mode():
            for xb, _ in dataset.batches(_EXTRACT_BATCH, num_workers=num_workers):
                seen.clear()
                # Channels-last convolutions ran about 25% faster on CPU
                # (EfficientNet-Lite0, 96 px); the features are the same.
                x = xb["x"].to(device, memory_format=torch.channels_last)
                out = module(x=x)
                # Only a head whose output is the network's output, called
                # once per batch, can stand in for the whole network.
                if len(seen) != 1 or seen[0][1] is not out:
                    return None
                chunks.append(seen[0][0].cpu())
    finally:
        handle.remove()
    return torch.cat(chunks) if chunks else None


def cache_frozen_features(
    module: nn.Module,
    datasets: list,
    *,
    unfreeze_at: int | None,
    device: str,
    num_workers: int = 0,
) -> tuple[list, list] | None:
    """Datasets of cached head inputs for a frozen backbone, or None.

    Parameters
    ----------
    module : skdl.modules.cnn.ImageNetwork
        The network, frozen as ``freeze`` says.
    datasets : list of dataset or None
        Training and validation datasets (None for no validation).
    unfreeze_at : int or None
        Epoch at which the backbone thaws.
    device : str
        Where to run the backbone.
    num_workers : int, default=0
        Workers decoding image files.

    Returns
    -------
    result : (datasets, callbacks) or None
        The cached datasets (None kept as None) and the callback that
        switches them back to images; None when caching does not apply:
        something below the head trains, the backbone thaws in the first
        epoch, the head is not the network's last layer, or the features
        would exceed :data:`CACHE_LIMIT_BYTES`.
    """
    if not backbone_frozen(module) or unfreeze_at == 1:
        return None
    if not hasattr(module, "head_prefixes"):
        return None
    n_rows = sum(len(d) for d in datasets if d is not None)
    training = module.training
    module.to(device).eval()
    try:
        probe = datasets[0]
        first = next(iter(probe.batches(1, num_workers=0)))[0]["x"][:1]
        sizes = _extract(module, _Rows(first), device, 0)
        if sizes is None or sizes[0].numel() * 4 * n_rows > CACHE_LIMIT_BYTES:
            return None
        cached = [
            None if d is None else _extract(module, d, device, num_workers)
            for d in datasets
        ]
    finally:
        module.train(training)
    if any(c is None and d is not None for c, d in zip(cached, datasets)):
        return None
    wrapped = [
        None if d is None else CachedFeatures(d, c) for d, c in zip(datasets, cached)
    ]
    live = [d for d in wrapped if d is not None]
    return wrapped, [("thaw_features", _ThawFeatures(live, unfreeze_at))]


class _Rows:
    """One batch of images as a dataset, to probe the head's input size."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def batches(self, batch_size, **_):
        yield {"x": self.x}, None
