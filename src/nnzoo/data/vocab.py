"""Vocabularies: symbols <-> integer ids, with the special symbols every sequence model needs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"


class Vocabulary:
    """An ordered list of symbols. Ids 0-3 are ``<pad>``, ``<s>``, ``</s>``, ``<unk>``; the rest follow.

    ``encode`` maps unknown symbols to ``<unk>`` or, with ``strict=True``, raises ``KeyError`` naming them.
    """

    SPECIALS = (PAD, BOS, EOS, UNK)

    def __init__(self, symbols: Iterable[str]):
        symbols = [s for s in symbols if s not in self.SPECIALS]
        if len(set(symbols)) != len(symbols):
            raise ValueError("vocabulary symbols must be unique")
        self.symbols = [*self.SPECIALS, *symbols]
        self.index = {symbol: i for i, symbol in enumerate(self.symbols)}
        self.pad, self.bos, self.eos, self.unk = (self.index[s] for s in self.SPECIALS)

    @classmethod
    def from_corpus(cls, sequences: Iterable[Sequence[str]], min_count: int = 1) -> Vocabulary:
        """Every symbol seen at least ``min_count`` times, most frequent first (ties alphabetical)."""
        counts: dict[str, int] = {}
        for sequence in sequences:
            for symbol in sequence:
                counts[symbol] = counts.get(symbol, 0) + 1
        kept = [s for s, n in counts.items() if n >= min_count]
        return cls(sorted(kept, key=lambda s: (-counts[s], s)))

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self.index

    def encode(self, sequence: Sequence[str], strict: bool = False) -> list[int]:
        if strict:
            unknown = [s for s in sequence if s not in self.index]
            if unknown:
                raise KeyError(unknown)
        return [self.index.get(symbol, self.unk) for symbol in sequence]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Symbols of ``ids``, leaving out padding and the start/end markers."""
        skip = {self.pad, self.bos, self.eos}
        return [self.symbols[i] for i in ids if i not in skip]

    def to_list(self) -> list[str]:
        return list(self.symbols[len(self.SPECIALS) :])
