"""A multilayer perceptron over numeric features and categorical embeddings."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .embeddings import PeriodicEmbedding, PiecewiseLinearEmbedding

__all__ = ["TabularMLP"]


class _BatchNorm1d(nn.BatchNorm1d):
    """Batch normalization that tolerates a training batch of one row.

    The statistics of a single row are undefined, and plain ``BatchNorm1d``
    raises on it; a batch of one (a last, ragged batch, or a one-row training
    set) is normalized with the running estimates instead, as in evaluation.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] == 1:
            return nn.functional.batch_norm(
                x,
                self.running_mean,
                self.running_var,
                self.weight,
                self.bias,
                training=False,
                eps=self.eps,
            )
        return super().forward(x)


class TabularMLP(nn.Module):
    """MLP whose hidden layers are the "blocks" that ``freeze=k`` counts.

    Parameters
    ----------
    n_numeric : int
        Width of the numeric input ``x_num``.
    cardinalities : sequence of int
        Embedding table size of each categorical column of ``x_cat``.
    embedding_dims : sequence of int
        Embedding width of each categorical column.
    hidden_layer_sizes : sequence of int
        Width of each hidden layer.
    activation : callable
        Zero-argument factory of the hidden activation module.
    dropout : float
        Dropout probability after each hidden activation.
    normalization : {"batch", "layer"} or None
        Normalization between each hidden linear layer and its activation.
    n_outputs : int
        Width of the linear output (logits or regression outputs).
    numeric_embedding : {"periodic", "piecewise"} or None, default=None
        Embed each numeric feature with :class:`PeriodicEmbedding` or
        :class:`PiecewiseLinearEmbedding` before the first hidden layer; None
        feeds the numeric features as they are.
    bin_edges : sequence of array-like, optional
        Bin edges of each numeric feature, required by
        ``numeric_embedding="piecewise"``.
    feature_scale : bool, default=False
        Multiply every input of the first hidden layer (numeric features or
        their embeddings, and the categorical embeddings) by its own
        learnable scale, initialized at 1, which trains ``lr_factors``
        times faster than the other weights: RealMLP's "scaling layer"
        (Holzmüller et al., 2024), a soft, learned feature selection.

    Attributes
    ----------
    embeddings : torch.nn.ModuleList
        One embedding table per categorical column.
    numeric_embedding : PeriodicEmbedding, PiecewiseLinearEmbedding or None
        The numeric-feature embedding, if any.
    blocks : torch.nn.ModuleList
        The hidden layers, each ``Linear -> [Norm] -> activation -> [Dropout]``.
    head : torch.nn.Linear
        The task-specific output layer.
    feature_scale : torch.nn.Parameter or None
        The per-input scales (``feature_scale=True``).
    """

    head_prefixes = ("head",)
    #: Learning-rate multipliers by parameter-name prefix (read by the
    #: optimizer's parameter groups). RealMLP trains its scaling layer with
    #: 6 times the base rate.
    lr_factors = {"feature_scale": 6.0}

    def __init__(
        self,
        n_numeric: int,
        cardinalities: Sequence[int],
        embedding_dims: Sequence[int],
        hidden_layer_sizes: Sequence[int],
        activation: Callable[[], nn.Module],
        dropout: float,
        normalization: str | None,
        n_outputs: int,
        numeric_embedding: str | None = None,
        bin_edges: Sequence | None = None,
        feature_scale: bool = False,
    ) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(
            nn.Embedding(card, dim) for card, dim in zip(cardinalities, embedding_dims)
        )
        for emb in self.embeddings:
            # Row 0 is the "unknown category" slot: it starts (and, since no
            # training row maps to it, stays) at the neutral zero vector.
            with torch.no_grad():
                emb.weight[0].zero_()
        if numeric_embedding not in ("periodic", "piecewise", None):
            raise ValueError(
                f"numeric_embedding must be 'periodic', 'piecewise' or None, got "
                f"{numeric_embedding!r}."
            )
        self.numeric_embedding = None
        if numeric_embedding == "periodic" and n_numeric:
            self.numeric_embedding = PeriodicEmbedding(n_numeric)
        elif numeric_embedding == "piecewise" and n_numeric:
            if bin_edges is None or len(bin_edges) != n_numeric:
                raise ValueError(
                    f"numeric_embedding='piecewise' needs bin_edges for each of "
                    f"the {n_numeric} numeric features."
                )
            self.numeric_embedding = PiecewiseLinearEmbedding(bin_edges)
        if self.numeric_embedding is not None:
            n_numeric = self.numeric_embedding.out_features
        width = n_numeric + sum(embedding_dims)
        if width == 0:
            raise ValueError("TabularMLP needs at least one input feature.")
        self.feature_scale = nn.Parameter(torch.ones(width)) if feature_scale else None
        blocks = []
        for size in hidden_layer_sizes:
            layers: list[nn.Module] = [nn.Linear(width, size)]
            if normalization == "batch":
                layers.append(_BatchNorm1d(size))
            elif normalization == "layer":
                layers.append(nn.LayerNorm(size))
            layers.append(activation())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            blocks.append(nn.Sequential(*layers))
            width = size
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(width, n_outputs)

    def block_prefixes(self) -> list[tuple[str, ...]]:
        """The blocks ``freeze=k`` counts: hidden layers, embeddings in the first."""
        blocks = [(f"blocks.{i}",) for i in range(len(self.blocks))]
        if blocks and len(self.embeddings):
            blocks[0] = ("embeddings", *blocks[0])
        if blocks and self.numeric_embedding is not None:
            blocks[0] = ("numeric_embedding", *blocks[0])
        if blocks and self.feature_scale is not None:
            blocks[0] = ("feature_scale", *blocks[0])
        return blocks

    def features(
        self, x_num: torch.Tensor, x_cat: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The representation before the head (the transferable body)."""
        if self.numeric_embedding is not None:
            x_num = self.numeric_embedding(x_num)
        if len(self.embeddings):
            parts = [x_num] if x_num.shape[1] else []
            parts.extend(emb(x_cat[:, j]) for j, emb in enumerate(self.embeddings))
            h = torch.cat(parts, dim=1)
        else:
            h = x_num
        if self.feature_scale is not None:
            h = h * self.feature_scale
        for block in self.blocks:
            h = block(h)
        return h

    def forward(
        self, x_num: torch.Tensor, x_cat: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Outputs of the head for a batch."""
        return self.head(self.features(x_num, x_cat))
