"""Plain ``torch.nn.Module`` networks, free of scikit-learn imports."""

from .mlp import TabularMLP

__all__ = ["TabularMLP"]
