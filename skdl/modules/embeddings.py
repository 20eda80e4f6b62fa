"""Embeddings of numeric features for tabular networks."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["PeriodicEmbedding"]


class PeriodicEmbedding(nn.Module):
    """Periodic embeddings of numeric features ("PLR", Gorishniy et al. 2022).

    Each scalar feature ``x_j`` becomes ``ReLU(W_j [cos(2 pi c_j x_j),
    sin(2 pi c_j x_j)] + b_j)``, with trainable frequencies ``c_j`` and a
    linear map per feature. A plain MLP sees each feature through one weight
    per hidden unit, which makes sharp or oscillating dependencies on a
    single feature hard to fit; the periodic basis gives it many views of
    each value at little cost ("On Embeddings for Numerical Features in
    Tabular Deep Learning", NeurIPS 2022; RealMLP uses a variant).

    Parameters
    ----------
    n_features : int
        Number of numeric input columns.
    n_frequencies : int, default=16
        Frequencies per feature; the cos/sin basis has twice as many terms.
    d_embedding : int, default=8
        Output width per feature.
    sigma : float, default=0.1
        Standard deviation of the initial frequencies, for inputs scaled to
        unit spread. Small values start close to a linear embedding.
    include_raw : bool, default=True
        Also pass each feature's value on unchanged, next to its embedding
        (as RealMLP's "PBLD" embedding does), so that the network keeps the
        plain linear view of the feature that a standard MLP has.

    Attributes
    ----------
    frequencies : torch.nn.Parameter of shape (n_features, n_frequencies)
    weight : torch.nn.Parameter of shape (n_features, 2 * n_frequencies, d_embedding)
    bias : torch.nn.Parameter of shape (n_features, d_embedding)
    """

    def __init__(
        self,
        n_features: int,
        n_frequencies: int = 16,
        d_embedding: int = 8,
        sigma: float = 0.1,
        include_raw: bool = True,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.d_embedding = d_embedding
        self.include_raw = include_raw
        frequencies = torch.empty(n_features, n_frequencies)
        nn.init.trunc_normal_(frequencies, std=sigma, a=-3 * sigma, b=3 * sigma)
        self.frequencies = nn.Parameter(frequencies)
        bound = 1 / math.sqrt(2 * n_frequencies)  # nn.Linear's default init
        self.weight = nn.Parameter(
            torch.empty(n_features, 2 * n_frequencies, d_embedding).uniform_(
                -bound, bound
            )
        )
        self.bias = nn.Parameter(
            torch.empty(n_features, d_embedding).uniform_(-bound, bound)
        )

    @property
    def out_features(self) -> int:
        """Width of the flattened output."""
        return self.n_features * (self.d_embedding + self.include_raw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``x`` of shape (batch, n_features) -> (batch, out_features)."""
        z = (2 * math.pi) * self.frequencies * x.unsqueeze(-1)
        z = torch.cat([torch.cos(z), torch.sin(z)], dim=-1)
        out = torch.einsum("bfk,fkd->bfd", z, self.weight) + self.bias
        out = torch.relu(out).flatten(1)
        return torch.cat([x, out], dim=1) if self.include_raw else out
