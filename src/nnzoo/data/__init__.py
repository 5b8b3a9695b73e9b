"""Offline data sets, deterministic splits and batching."""

import os
from pathlib import Path

from nnzoo.data.datasets import TensorData
from nnzoo.data.splits import split_indices


def cache_folder() -> Path:
    """Where data prepared once is kept (fetched catalogs, fitted baselines): ``$NNZOO_CACHE`` or ``~/.cache/nnzoo``."""
    return Path(os.environ.get("NNZOO_CACHE", Path.home() / ".cache" / "nnzoo"))


__all__ = ["TensorData", "cache_folder", "split_indices"]
