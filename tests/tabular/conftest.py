"""Fixtures for the tabular behaviour tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Run torch on one thread while these tests run.

    The networks here are tiny: intra-op threads buy nothing, and on a shared
    machine their synchronization makes each step many times slower.
    """
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)
