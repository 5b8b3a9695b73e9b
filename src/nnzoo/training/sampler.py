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

    With ``world_size`` W > 1 (data-parallel training), ``batch_size`` is the global batch B: every rank computes
    the same batches and yields its own shard of each, examples ``rank, rank + W, …`` (B/W of them; strided rather
    than contiguous so that, in a batch sorted by length, every rank gets short and long examples alike). The
    shards of a step are disjoint and together make the batch one process would take; the number of steps per
    epoch does not change with W. The epoch's last batch may be short: if its size is not a multiple of W it is
    padded with its own first examples (at most W - 1 of them, seen twice in that step) so that every rank gets
    an equal shard, which makes the mean of the ranks' mean losses the mean over the whole batch.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int,
        lengths=None,
        pool: int = 50,
        rank: int = 0,
        world_size: int = 1,
    ):
        if n < 1:
            raise ValueError("cannot sample batches from an empty data set")
        if lengths is not None and len(lengths) != n:
            raise ValueError(f"{len(lengths)} lengths for {n} examples")
        if not 0 <= rank < world_size or batch_size % world_size:
            raise ValueError(f"rank {rank} of {world_size} processes, global batch {batch_size}")
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.rank, self.world_size = rank, world_size
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
            yield self._shard(batch).tolist()

    def _shard(self, batch: torch.Tensor) -> torch.Tensor:
        if self.world_size == 1:
            return batch
        padded = -len(batch) % self.world_size + len(batch)
        return batch[torch.arange(padded) % len(batch)][self.rank :: self.world_size]

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
