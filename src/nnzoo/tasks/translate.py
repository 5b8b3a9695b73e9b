"""Task ``translate``: English to Chinese or French and back, trained on the message catalogs of Debian packages.

The direction is ``data.source`` → ``data.target``: ``en`` → ``zh`` (the default), ``en`` → ``fr``, ``zh`` → ``en``
(the lecture notes' direction) or ``fr`` → ``en``, all from the same catalogs.

Tokens, chosen per language:

* English and French — subwords: a sentencepiece BPE model trained on the training split only (vocabulary
  ``data.vocab_size``). Words as tokens would leave most of this vocabulary (option names, commands, error
  jargon) unseen; characters make sequences five times longer.
* Chinese — characters: a character carries a word or a morpheme, and word segmentation of technical Chinese
  would need another model.

Format placeholders (``%s``, ``%-10d``, ``%1$s``, ``{0}``) are single tokens on every side, so a translation can
carry them over intact. Whitespace is normalised (stripped, runs collapsed to one space) on both sides: in these
catalogs leading and trailing newlines and aligned columns are layout, not translation. The tokenizer models are
saved in the run (``info.json``) for ``nnzoo predict``.

The split is by a hash of the source message, so no test source is seen in training. From English, a message's
reference is its (first) translation; into English, a message's references are all the English messages it
translates (catalogs often translate several English wordings the same way).

Metrics: BLEU and chrF of ``sacrebleu`` on detokenised text, against every reference (BLEU with sacrebleu's ``zh``
tokenizer for Chinese).
"""

from __future__ import annotations

import base64
import functools
import io
import shutil
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from nnzoo.config import DataConfig, check_split_fractions
from nnzoo.data.gettext_catalogs import LOCALES, PLACEHOLDER, fetch_catalogs, load_pairs
from nnzoo.data.sources import data_set
from nnzoo.data.splits import hash_fraction, hash_split
from nnzoo.data.vocab import Vocabulary
from nnzoo.errors import ConfigError
from nnzoo.optional import require
from nnzoo.registry import register_task
from nnzoo.tasks.base import Splits
from nnzoo.tasks.seq2seq_base import Seq2SeqTask, pairs_with_references, register_seq2seq_models

SPACE = "▁"  # how a Chinese-side space is shown as a token


DIRECTIONS = ("en→zh", "en→fr", "zh→en", "fr→en")


@dataclass
class TranslateData(DataConfig):
    source: Literal["en", "zh", "fr"] = "en"  # the language translated from
    target: Literal["en", "zh", "fr"] = "zh"  # the language translated into (zh: the zh_CN catalogs)
    max_chars: int = 160  # leave out pairs with a longer source or target (long help texts)
    max_pairs: int = 0  # 0: every pair; N: a fixed subset of N pairs (chosen by hash), for quick runs
    vocab_size: int = 4000  # subword vocabulary of the English (and French) sentencepiece models
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    ADDED: ClassVar[dict[str, Any]] = {"source": "en"}  # keys added since, at the value of earlier runs

    def __post_init__(self) -> None:
        if f"{self.source}→{self.target}" not in DIRECTIONS:
            raise ConfigError(
                f"cannot translate data.source={self.source} into data.target={self.target}; "
                f"the catalogs pair English with one other language: {', '.join(DIRECTIONS)}"
            )
        if self.max_chars < 10 or self.max_pairs < 0 or self.vocab_size < 100:
            raise ConfigError("need data.max_chars >= 10, data.max_pairs >= 0 and data.vocab_size >= 100")
        check_split_fractions(self.val_fraction, self.test_fraction)

    @property
    def language(self) -> str:
        """The catalogs' language: the side that is not English."""
        return self.target if self.source == "en" else self.source


def train_subwords(texts: list[str], vocab_size: int, placeholders: list[str]) -> bytes:
    """A sentencepiece BPE model (serialized) of ``texts``; single-threaded, so the same texts give the same bytes."""
    sentencepiece = require("sentencepiece", "the translate task's subword vocabulary")

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        character_coverage=1.0,
        num_threads=1,
        user_defined_symbols=placeholders,
        hard_vocab_limit=False,  # a small corpus may not have vocab_size pieces
        minloglevel=2,
    )
    return model.getvalue()


def normalize(text: str) -> str:
    """Whitespace as layout, not content: strip it and collapse runs to one space (as sentencepiece does)."""
    return " ".join(text.split())


def characters(text: str) -> list[str]:
    """Placeholders whole, every other character on its own; spaces shown as ▁."""
    tokens, position = [], 0
    for match in PLACEHOLDER.finditer(text):
        tokens += list(text[position : match.start()])
        tokens.append(match.group())
        position = match.end()
    tokens += list(text[position:])
    return [SPACE if t == " " else t for t in tokens]


@register_task("translate")
class Translate(Seq2SeqTask):
    """English <-> Chinese or French on the translated messages of Debian packages (gettext catalogs)."""

    DataConfig = TranslateData
    metric_names = ("loss", "bleu", "chrf")
    train_defaults: ClassVar[dict] = {
        **Seq2SeqTask.train_defaults,
        "epochs": 20,
        "monitor": "bleu",
        "monitor_mode": "max",
    }
    strict_input = False  # an unseen character becomes <unk>; the rest of the message still translates

    # --- tokenisation -----------------------------------------------------------------------------------------
    @functools.cached_property
    def _english(self):
        return _processor(self.info["english_model"])

    @functools.cached_property
    def _french(self):
        return _processor(self.info["french_model"])

    def symbols(self, text: str, language: str) -> list[str]:
        """``text`` as tokens of ``language``: Chinese characters, or the language's subwords."""
        if language == "zh":
            return characters(normalize(text))
        return (self._english if language == "en" else self._french).encode(normalize(text), out_type=str)

    def source_symbols(self, text: str) -> list[str]:
        return self.symbols(text, self.cfg.data.source)

    def target_symbols(self, text: str) -> list[str]:
        return self.symbols(text, self.cfg.data.target)

    def render(self, symbols: list[str]) -> str:
        if self.cfg.data.target == "zh":
            return "".join(" " if s == SPACE else s for s in symbols)
        return (self._english if self.cfg.data.target == "en" else self._french).decode_pieces(symbols)

    def score(self, hypotheses, references) -> dict[str, float]:
        sacrebleu = require("sacrebleu", "the translate task's BLEU score")

        hyps = [self.render(h) for h in hypotheses]
        # sacrebleu's reference streams: the j-th reference of every message, None where a message has fewer.
        streams = [
            [self.render(refs[j]) if j < len(refs) else None for refs in references]
            for j in range(max(map(len, references), default=1))
        ]
        tokenize = "zh" if self.cfg.data.target == "zh" else "13a"
        return {
            "bleu": sacrebleu.corpus_bleu(hyps, streams, tokenize=tokenize).score,
            "chrf": sacrebleu.corpus_chrf(hyps, streams).score,
        }

    # --- data ---------------------------------------------------------------------------------------------------
    def build_data(self) -> Splits:
        cfg = self.cfg.data
        references: dict[str, list[str]] = {}  # normalised source message -> its normalised translations
        for english, other in load_pairs(cfg.language):  # one pair per distinct English message
            english, other = normalize(english), normalize(other)
            if english and other and len(english) <= cfg.max_chars and len(other) <= cfg.max_chars:
                if cfg.source == "en":  # the first translation of a (normalised) English message
                    references.setdefault(english, [other])
                elif english not in references.setdefault(other, []):  # every English message it translates
                    references[other].append(english)
        keys = sorted(references)
        if cfg.max_pairs:
            keys = sorted(sorted(keys, key=lambda k: hash_fraction(k, "subset"))[: cfg.max_pairs])
        split = hash_split(keys, cfg.val_fraction, cfg.test_fraction)  # by source message
        train = split["train"]
        texts = {"source": train, "target": [t for s in train for t in references[s]]}
        placeholders = sorted({m for s in train for t in references[s] for m in PLACEHOLDER.findall(s + t)})
        self.info = {}
        for side, language in (("source", cfg.source), ("target", cfg.target)):
            if language != "zh":  # subwords of the training split's side in this language
                model = _encode(train_subwords(texts[side], cfg.vocab_size, placeholders))
                self.info["english_model" if language == "en" else "french_model"] = model
        source = Vocabulary.from_corpus(self.source_symbols(s) for s in train)
        target = Vocabulary.from_corpus(self.target_symbols(t) for t in texts["target"])
        targets = {s: [self.target_symbols(t) for t in references[s]] for s in keys}
        self.info.update(
            source_symbols=source.to_list(),
            target_symbols=target.to_list(),
            longest_source=max(len(self.source_symbols(s)) for s in keys),
            longest_target=max(len(t) for refs in targets.values() for t in refs),
            pairs={name: len(keys) for name, keys in split.items()},
        )
        return {
            name: pairs_with_references(
                [(s, targets[s]) for s in keys], self.source_symbols, source, target, name == "train"
            )
            for name, keys in split.items()
        }

    def figure_samples(self, dataset, count: int = 6) -> list[int]:
        """Short messages, so that the attention maps stay readable."""
        short = [i for i in range(len(dataset)) if 4 <= len(dataset.sources[i]) <= 10 and len(dataset.targets[i]) <= 16]
        step = max(1, len(short) // count)
        return short[::step][:count] or super().figure_samples(dataset, count)

    @classmethod
    def prepare_data(cls) -> str:
        """Fetch the Debian packages' catalogs where apt-get can and the data home lacks a language's catalogs."""
        if any(data_set(f"translations-{k}").find() is None for k in LOCALES) and shutil.which("apt-get"):
            fetch_catalogs()
        counts = {language: len(load_pairs(language)) for language in LOCALES}
        return "gettext catalogs: " + ", ".join(f"en→{k} {n:,} distinct messages" for k, n in counts.items())


def _encode(model: bytes) -> str:
    return base64.b64encode(model).decode("ascii")


def _processor(encoded: str):
    sentencepiece = require("sentencepiece", "the translate task's subword vocabulary")

    return sentencepiece.SentencePieceProcessor(model_proto=base64.b64decode(encoded))


register_seq2seq_models("translate", "English to and from Chinese/French")
