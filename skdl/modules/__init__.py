"""Plain ``torch.nn.Module`` networks, free of scikit-learn imports."""

from .embeddings import PeriodicEmbedding, PiecewiseLinearEmbedding, quantile_bin_edges
from .mlp import TabularMLP

__all__ = [
    "PeriodicEmbedding",
    "PiecewiseLinearEmbedding",
    "TabularMLP",
    "quantile_bin_edges",
]
