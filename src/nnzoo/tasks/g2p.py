"""Task ``g2p``: spelling to pronunciation on the CMU Pronouncing Dictionary — the notes' translation example on
real data. Letters in, ARPAbet phonemes out (stress removed by default).

Split by *word*, from a hash of the word: all pronunciations of a word stay in one split, 90/5/5. Metrics as in the
G2P literature: PER, the phoneme edit distance to the closest reference over its length, and WER, the share of
words whose prediction matches none of their references. WER on long words alone shows the context-vector
bottleneck: a model without attention must squeeze the whole spelling through one vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from nnzoo import metrics
from nnzoo.config import DataConfig, check_split_fractions
from nnzoo.data.cmudict import load_pronunciations
from nnzoo.data.splits import hash_fraction, hash_split
from nnzoo.data.vocab import Vocabulary
from nnzoo.errors import ConfigError
from nnzoo.registry import register_task
from nnzoo.tasks.base import Published, Splits
from nnzoo.tasks.seq2seq_base import Seq2SeqTask, pairs_with_references, register_seq2seq_models

LONG_WORD_PHONEMES = 9  # a "long" word's primary pronunciation has at least this many phonemes (15 % of words)


def g2p_scores(hypotheses: list[list[str]], references: list[list[list[str]]]) -> dict[str, float]:
    """PER and WER (``metrics.error_rates``), and ``wer_long``: the WER of the long words only (NaN if none)."""
    rates = metrics.error_rates(hypotheses, references)
    long = [i for i, options in enumerate(references) if len(options[0]) >= LONG_WORD_PHONEMES]
    long_rates = metrics.error_rates([hypotheses[i] for i in long], [references[i] for i in long]) if long else {}
    return {**rates, "wer_long": long_rates.get("wer", float("nan"))}


@dataclass
class G2PData(DataConfig):
    keep_stress: bool = False  # keep the vowels' stress digits (AH0, AH1, AH2): 69 phonemes instead of 39
    max_words: int = 0  # 0: the whole dictionary; N: a fixed subset of N words (chosen by hash), for quick runs
    # Training pairs: every pronunciation of a word ("all"), or only its first, primary one ("primary": one pair per
    # word). The evaluation splits keep every pronunciation as a reference either way.
    train_pronunciations: Literal["all", "primary"] = "all"
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    ADDED: ClassVar[dict[str, Any]] = {"train_pronunciations": "all"}  # keys added since, at the value of earlier runs

    def __post_init__(self) -> None:
        if self.max_words < 0:
            raise ConfigError("data.max_words must be >= 0 (0 means every word)")
        check_split_fractions(self.val_fraction, self.test_fraction)


@register_task("g2p")
class G2P(Seq2SeqTask):
    """Spelling -> pronunciation on the CMU Pronouncing Dictionary (letters in, ARPAbet phonemes out)."""

    DataConfig = G2PData
    metric_names = ("loss", "per", "wer", "wer_long")
    published = tuple(  # other splits, often with stress: for context, not directly comparable (docs/g2p.md)
        Published(system, metrics, "as listed in docs/g2p.md")
        for system, metrics in (
            ("best published result on CMUdict", {"wer": 0.199, "per": 0.046}),
            ("LSTM encoder-decoder with attention, ensemble", {"wer": 0.2024, "per": 0.0469}),
            ("CMU Sphinx g2p-seq2seq, Transformer 3x256 (older PRONALSYL split)", {"wer": 0.206}),
            ("Phonetisaurus, joint-sequence n-gram (older PRONALSYL split)", {"wer": 0.244}),
        )
    )
    train_defaults: ClassVar[dict] = {**Seq2SeqTask.train_defaults, "epochs": 20, "monitor": "per"}
    max_source_length = 64  # the dictionary's longest word has 28 letters

    def source_symbols(self, text: str) -> list[str]:
        return list(text.strip().lower())

    def score(self, hypotheses, references) -> dict[str, float]:
        return g2p_scores(hypotheses, references)

    def build_data(self) -> Splits:
        cfg = self.cfg.data
        pronunciations = load_pronunciations(cfg.keep_stress)
        words = sorted(pronunciations)
        if cfg.max_words:
            words = sorted(sorted(words, key=lambda w: hash_fraction(w, "subset"))[: cfg.max_words])
        split = hash_split(words, cfg.val_fraction, cfg.test_fraction)
        train = split["train"]
        if cfg.train_pronunciations == "primary":  # cmudict lists a word's pronunciations primary first
            pronunciations = {**pronunciations, **{w: pronunciations[w][:1] for w in train}}  # the shared one stays
        letters = Vocabulary.from_corpus(self.source_symbols(w) for w in train)
        phonemes = Vocabulary.from_corpus(p for w in train for p in pronunciations[w])
        self.info = {
            "source_symbols": letters.to_list(),
            "target_symbols": phonemes.to_list(),
            "longest_source": max(len(w) for w in words),
            "longest_target": max(len(p) for w in words for p in pronunciations[w]),
            "words": {name: len(keys) for name, keys in split.items()},
            "pronunciations": {name: sum(len(pronunciations[w]) for w in keys) for name, keys in split.items()},
        }
        return {
            name: pairs_with_references(
                [(w, pronunciations[w]) for w in keys], self.source_symbols, letters, phonemes, name == "train"
            )
            for name, keys in split.items()
        }

    @classmethod
    def prepare_data(cls) -> str:
        pronunciations = load_pronunciations()
        total = sum(len(p) for p in pronunciations.values())
        return f"CMU Pronouncing Dictionary: {len(pronunciations):,} words, {total:,} pronunciations without stress"


register_seq2seq_models("g2p", "Letters to phonemes")
