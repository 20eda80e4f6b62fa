"""Shared fixtures: the real-data directory and the CUDA marker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """The real datasets: ``$SKDL_DATA``, else ``../shared/data`` from the repo."""
    return Path(os.environ.get("SKDL_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = data_root()
    if not root.is_dir():
        pytest.skip(
            f"real datasets not found at {root}; set SKDL_DATA to the folder "
            f"holding images/ and tabular/ (see shared/data/README.md)"
        )
    return root


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; none is available here")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)
