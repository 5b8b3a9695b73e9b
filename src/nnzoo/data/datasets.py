"""In-memory data sets that batch by fancy indexing instead of stacking items one by one."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset


class TensorData(Dataset):
    """Rows of equally long tensors; a batch is ``tuple(t[indices] for t in tensors)``.

    ``torch.utils.data.DataLoader`` calls ``__getitems__`` with a whole batch of indices, so a batch costs one
    indexing operation per tensor; ``collate`` then has nothing left to do.
    """

    def __init__(self, *tensors: Tensor):
        if not tensors:
            raise ValueError("TensorData needs at least one tensor")
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            raise ValueError(f"TensorData tensors differ in length: {[len(t) for t in tensors]}")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, ...]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return tuple(t[index] for t in self.tensors)

    @staticmethod
    def collate(batch: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return batch
