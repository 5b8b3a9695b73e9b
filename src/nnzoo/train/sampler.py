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

    With ``lengths`` (one per example), shuffled examples are cut into pools of ``pool`` batches, each pool is
    sorted by length and cut into batches, and the batches are shuffled: batches hold examples of similar length,
    so padding wastes little, while every epoch still mixes differently.
    """

    def __init__(self, n: int, batch_size: int, *, shuffle: bool, seed: int, lengths=None, pool: int = 50):
        if n < 1:
            raise ValueError("cannot sample batches from an empty data set")
        if lengths is not None and len(lengths) != n:
            raise ValueError(f"{len(lengths)} lengths for {n} examples")
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.lengths = None if lengths is None else torch.as_tensor(lengths)
        self.pool = pool
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        if self.lengths is None:
            return math.ceil(self.n / self.batch_size)
        pool = self.batch_size * self.pool
        full, rest = divmod(self.n, pool)
        return full * self.pool + math.ceil(rest / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._batches()[self.start :]:
            yield batch.tolist()

    def _batches(self) -> list[torch.Tensor]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.n, generator=generator) if self.shuffle else torch.arange(self.n)
        if self.lengths is None:
            return list(order.split(self.batch_size))
        batches = []
        for pool in order.split(self.batch_size * self.pool):
            by_length = pool[torch.argsort(self.lengths[pool], stable=True)]
            batches += list(by_length.split(self.batch_size))
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        return batches
