"""Where a run computes and how it is seeded."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from nnzoo.config import DEVICE_PATTERN
from nnzoo.errors import UserError


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The device to compute on: ``auto`` picks CUDA, then Apple's MPS, then the CPU; ``cpu``, ``cuda``,
    ``cuda:N`` and ``mps`` name one, and one that this machine lacks is an error that says what it has."""
    if isinstance(name, torch.device):
        return name
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if mps else "cpu")
    if not DEVICE_PATTERN.fullmatch(name):
        raise UserError(f"unknown device {name!r}; choose auto, cpu, cuda, cuda:N or mps")
    device = torch.device(name)
    present = ["cpu", *(f"cuda:{i}" for i in range(torch.cuda.device_count())), *(["mps"] if mps else [])]
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise UserError(f"--device {name} was asked for, but this machine has {', '.join(present)}")
    if device.type == "mps" and not mps:
        raise UserError(f"--device mps was asked for, but this machine has {', '.join(present)}")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (every CUDA device too)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor in a (nested) batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [to_device(v, device) for v in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
    return batch


def autocast(device: torch.device, enabled: bool) -> torch.autocast:
    """bfloat16 mixed precision on a CUDA device that supports it; a no-op context elsewhere."""
    use = enabled and device.type == "cuda" and torch.cuda.is_bf16_supported()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use)
