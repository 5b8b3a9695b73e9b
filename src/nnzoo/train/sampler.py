"""Reproducible batch order that can restart in the middle of an epoch."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochBatchSampler(Sampler[list[int]]):
    """Yields the batches of one epoch; the order depends only on ``(seed, epoch)``.

    Because no global random state is used, a resumed run that calls ``set_epoch(epoch, start)`` gets exactly
    the batches an uninterrupted run would have seen from batch ``start`` on.
    """

    def __init__(self, n: int, batch_size: int, *, shuffle: bool, seed: int):
        if n < 1:
            raise ValueError("cannot sample batches from an empty data set")
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=generator)
        else:
            order = torch.arange(self.n)
        for b in range(self.start, len(self)):
            yield order[b * self.batch_size : (b + 1) * self.batch_size].tolist()
