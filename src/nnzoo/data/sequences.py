"""Token sequences and their padded batches: pairs (source, target), and sequences with a class label."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor
from torch.utils.data import Dataset


class PairBatch(NamedTuple):
    src: Tensor  # (B, S) source ids, padded
    src_lengths: Tensor  # (B,)
    tgt_in: Tensor  # (B, T) <s> y_1 … y_n, padded: the decoder's inputs (teacher forcing)
    tgt_out: Tensor  # (B, T) y_1 … y_n </s>, padded: what it must predict


class SequencePairs(Dataset):
    """Source and target id sequences; ``lengths`` (source + target) let the sampler batch similar lengths.

    Targets are stored without the start/end markers; :meth:`collate` adds them. Evaluation splits also keep, per
    pair, every acceptable target (``references``) and the item it came from (``keys``, e.g. the word).
    """

    def __init__(
        self,
        sources: Sequence[Sequence[int]],
        targets: Sequence[Sequence[int]],
        pad: int,
        bos: int,
        eos: int,
        references: Sequence[Sequence[Sequence[int]]] | None = None,
        keys: Sequence[str] | None = None,
    ):
        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} sources but {len(targets)} targets")
        self.sources, self.targets = [list(s) for s in sources], [list(t) for t in targets]
        self.pad, self.bos, self.eos = pad, bos, eos
        self.lengths = [len(s) + len(t) for s, t in zip(self.sources, self.targets)]
        self.references = [[t] for t in self.targets] if references is None else [list(r) for r in references]
        self.keys = [str(i) for i in range(len(self.sources))] if keys is None else list(keys)

    def __len__(self) -> int:
        return len(self.sources)

    def head(self, n: int) -> SequencePairs:
        """The first ``n`` pairs (all of them if there are fewer), with their references and keys."""
        return SequencePairs(self.sources[:n], self.targets[:n], self.pad, self.bos, self.eos, self.references[:n],
                             self.keys[:n])  # fmt: skip

    def __getitem__(self, index: int) -> tuple[list[int], list[int]]:
        return self.sources[index], self.targets[index]

    def __getitems__(self, indices: Sequence[int]) -> PairBatch:
        return self.collate([self[i] for i in indices])

    def collate(self, items) -> PairBatch:
        if isinstance(items, PairBatch):  # already collated by __getitems__
            return items
        sources, targets = zip(*items)
        src = pad_sequences(sources, self.pad)
        tgt_in = pad_sequences([[self.bos, *t] for t in targets], self.pad)
        tgt_out = pad_sequences([[*t, self.eos] for t in targets], self.pad)
        return PairBatch(src, torch.tensor([len(s) for s in sources]), tgt_in, tgt_out)


def pad_sequences(sequences: Sequence[Sequence[int]], pad: int) -> Tensor:
    """(B, max length) long tensor, right-padded with ``pad``."""
    out = torch.full((len(sequences), max(len(s) for s in sequences)), pad, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        out[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
    return out


class LabelledBatch(NamedTuple):
    tokens: Tensor  # (B, T) ids, padded
    lengths: Tensor  # (B,)
    labels: Tensor  # (B,) class ids


class LabelledSequences(Dataset):
    """Token id sequences with one class label each; ``lengths`` lets the sampler batch similar lengths."""

    def __init__(self, sequences: Sequence[Sequence[int]], labels: Sequence[int], pad: int):
        if len(sequences) != len(labels):
            raise ValueError(f"{len(sequences)} sequences but {len(labels)} labels")
        if any(len(s) == 0 for s in sequences):
            raise ValueError("every sequence needs at least one token")
        self.sequences, self.labels, self.pad = [list(s) for s in sequences], list(labels), pad
        self.lengths = [len(s) for s in self.sequences]

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitems__(self, indices: Sequence[int]) -> LabelledBatch:
        return LabelledBatch(
            pad_sequences([self.sequences[i] for i in indices], self.pad),
            torch.tensor([self.lengths[i] for i in indices]),
            torch.tensor([self.labels[i] for i in indices]),
        )

    @staticmethod
    def collate(batch: LabelledBatch) -> LabelledBatch:
        return batch
