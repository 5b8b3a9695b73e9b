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


def compute_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The dtype autocast computes in under ``train.precision``, or None for float32 throughout.

    ``auto`` is bfloat16 on a CUDA GPU that computes it natively (compute capability 8.0 and later: A100, H100,
    RTX 30xx on), float16 on older GPUs (T4, V100: their bf16 is emulated, slower than fp32) and float32 on the CPU
    and MPS; ``bf16`` and ``fp16`` ask for that dtype on any device."""
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.get_device_capability(device)[0] >= 8 else torch.float16
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """Mixed precision as ``train.precision`` says (:func:`compute_dtype`); a no-op context for float32."""
    dtype = compute_dtype(device, precision)
    return torch.autocast(device_type=device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)
