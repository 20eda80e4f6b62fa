"""Plain ``torch.nn.Module`` networks, free of scikit-learn imports."""

from .embeddings import PeriodicEmbedding
from .mlp import TabularMLP

__all__ = ["PeriodicEmbedding", "TabularMLP"]
