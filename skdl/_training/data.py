"""Whole-batch iteration over pre-built tensors.

skorch's default ``DataLoader`` collates one sample at a time, which costs
more than the forward pass for small tabular networks. skdl gives skorch an
iterator that slices pre-built tensors one batch at a time instead; skorch
still runs the loop, the callbacks and the history.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["AugmentTransform", "BatchDataset", "BatchIterator", "TensorDataset"]

Batch = tuple[dict[str, torch.Tensor], "torch.Tensor | None"]


@runtime_checkable
class BatchDataset(Protocol):
    """The batch data protocol: what the engine needs from a dataset.

    :class:`TensorDataset` (tables, in-memory images) and
    :class:`skdl.vision._files.FileImageDataset` (image files) provide it; a
    new input kind's datasets provide it too, and the engine trains on them
    unchanged.
    """

    def __len__(self) -> int:
        """Number of rows."""

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        rng: np.random.Generator | None = None,
        transform: Callable[[dict, torch.Tensor | None], Batch] | None = None,
        **kwargs: object,
    ) -> Iterator[Batch]:
        """Yield ``(inputs, y)`` batches: a dict of named tensors, the target."""

    def n_batches(self, batch_size: int) -> int:
        """Number of batches of ``batch_size`` in one pass."""

    def subset(self, index: np.ndarray) -> BatchDataset:
        """The rows ``index``, as a dataset of the same kind."""

    def close(self) -> None:
        """Release workers or files, if any."""


class TensorDataset(Dataset):
    """Named feature tensors of equal length, an optional target and weights.

    Parameters
    ----------
    features : dict of str to torch.Tensor
        Model inputs, passed to the module's ``forward`` by keyword.
    y : torch.Tensor or None
        Encoded target.
    sample_weight : torch.Tensor or None
        Per-sample loss weights. They travel with the batch under the key
        ``"sample_weight"`` and are removed before the module is called.
    prepare : callable or None
        Applied to every batch's feature dict (training, validation and
        prediction alike) before any augmentation, e.g. to turn stored uint8
        images into floats in [0, 1] at the network's input size.
    """

    def __init__(
        self,
        features: dict[str, torch.Tensor],
        y: torch.Tensor | None = None,
        sample_weight: torch.Tensor | None = None,
        prepare: Callable[[dict], dict] | None = None,
    ) -> None:
        self.features = features
        self.y = y
        self.sample_weight = sample_weight
        self.prepare = prepare
        self._n = len(next(iter(features.values())))

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        # Only for generic consumers such as a plain DataLoader; skdl itself
        # iterates with ``batches``.
        x = {k: v[i] for k, v in self._all_inputs().items()}
        return x, (self.y[i] if self.y is not None else torch.zeros(()))

    def _all_inputs(self) -> dict[str, torch.Tensor]:
        if self.sample_weight is None:
            return self.features
        return {**self.features, "sample_weight": self.sample_weight}

    def subset(self, index: np.ndarray) -> TensorDataset:
        """Return the rows ``index`` as a new dataset."""
        idx = torch.as_tensor(index, dtype=torch.long)
        return TensorDataset(
            {k: v[idx] for k, v in self.features.items()},
            None if self.y is None else self.y[idx],
            None if self.sample_weight is None else self.sample_weight[idx],
            self.prepare,
        )

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        rng: np.random.Generator | None = None,
        transform: Callable[[dict, torch.Tensor | None], Batch] | None = None,
        **_: object,
    ) -> Iterator[Batch]:
        """Yield ``(inputs, y)`` batches by slicing the stored tensors."""
        inputs = self._all_inputs()
        n = self._n
        order = None
        if shuffle:
            rng = rng if rng is not None else np.random.default_rng()
            order = torch.from_numpy(rng.permutation(n))
        for start in range(0, n, batch_size):
            if order is None:
                sl = slice(start, start + batch_size)
                xb = {k: v[sl] for k, v in inputs.items()}
                yb = None if self.y is None else self.y[sl]
            else:
                idx = order[start : start + batch_size]
                xb = {k: v[idx] for k, v in inputs.items()}
                yb = None if self.y is None else self.y[idx]
            if self.prepare is not None:
                xb = self.prepare(xb)
            if transform is not None:
                xb, yb = transform(xb, yb)
            yield xb, yb

    def n_batches(self, batch_size: int) -> int:
        """Number of batches of ``batch_size`` in one pass."""
        return math.ceil(self._n / batch_size)

    def close(self) -> None:
        """Nothing to release; image-file datasets stop their workers here."""
        return None


class BatchIterator:
    """The iterator skorch builds each epoch (``iterator_train``/``_valid``).

    It delegates to the dataset's own ``batches`` method, so tensor datasets
    are sliced whole-batch and file datasets can decode in worker processes.

    Parameters
    ----------
    dataset : TensorDataset or another dataset with a ``batches`` method
        The data to iterate over.
    batch_size : int
        Rows per batch.
    shuffle : bool, default=False
        Draw a new permutation on every pass.
    rng : numpy.random.Generator or None
        Source of the permutations. The same generator is reused across
        epochs, so every epoch is shuffled afresh and reproducibly.
    transform : callable or None
        Applied to each batch (augmentation on training batches only).
    num_workers : int, default=0
        Worker processes for datasets that decode lazily.
    """

    def __init__(
        self,
        dataset: BatchDataset,
        batch_size: int,
        shuffle: bool = False,
        rng: np.random.Generator | None = None,
        transform: Callable | None = None,
        num_workers: int = 0,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = rng
        self.transform = transform
        self.num_workers = num_workers

    def __iter__(self) -> Iterator[Batch]:
        return self.dataset.batches(
            self.batch_size,
            shuffle=self.shuffle,
            rng=self.rng,
            transform=self.transform,
            num_workers=self.num_workers,
        )

    def __len__(self) -> int:
        return self.dataset.n_batches(self.batch_size)


class AugmentTransform:
    """Training-batch transform that calls an augmenter's ``augment_batch``.

    Parameters
    ----------
    augmenter : object
        Has ``augment_batch(X, y, *, n_classes)`` (see :mod:`skdl.augment`).
    n_classes : int or None
        Number of classes (2 for binary), or None for regression.
    """

    def __init__(self, augmenter: object, n_classes: int | None) -> None:
        self.augmenter = augmenter
        self.n_classes = n_classes

    def __call__(self, xb: dict, yb: torch.Tensor | None) -> Batch:
        return self.augmenter.augment_batch(xb, yb, n_classes=self.n_classes)
