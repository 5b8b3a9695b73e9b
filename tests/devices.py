"""The device of the equivalence tests: the CPU, or the one named by NNZOO_TEST_DEVICE, which conftest makes the
default device (scripts/gpu_check.sh runs them with NNZOO_TEST_DEVICE=cuda)."""

from __future__ import annotations

import torch


def seeded(seed: int) -> torch.Generator:
    """A seeded random generator on the default device, where the tests' tensors are made."""
    return torch.Generator(torch.get_default_device()).manual_seed(seed)
