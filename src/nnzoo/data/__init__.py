"""Offline data sets, deterministic splits and batching."""

from nnzoo.data.datasets import TensorData
from nnzoo.data.splits import split_indices

__all__ = ["TensorData", "split_indices"]
