"""Task ``tagging``: a word's label from its context — the notes' "apple" example, and part-of-speech tagging of
the People's Daily.

"I like eating apple" and "Apple is a great company": the same word, two labels, and only the context tells them
apart. The task measures that claim. Besides the token accuracy it reports the accuracy on *ambiguous* words (seen
with more than one tag in training; on the apple corpus, exactly the word apple) and on *unknown* words (never seen
in training). A context-free model — the most frequent training tag of each word (a baseline, no training), or the
``mlp`` on the word's embedding alone — cannot do better on ambiguous words than their most frequent tag; the
``bilstm`` and the ``transformer`` read the sentence.

Splits: whole sentences by a hash of their text (duplicates stay together). Rare training words (below
``data.min_count``) become ``<unk>``; during training ``data.word_dropout`` of the known words are replaced by
``<unk>`` too, so that every model learns what to do with a word it does not know.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo.config import DataConfig, check_split_fractions
from nnzoo.data.splits import hash_fraction, hash_split
from nnzoo.data.tagged_sentences import (
    IGNORE,
    NOTES_APPLE_SENTENCES,
    Sentence,
    TaggedBatch,
    TaggedSentences,
    apple_sentences,
    english_words,
    peoples_daily,
)
from nnzoo.data.vocab import Vocabulary
from nnzoo.errors import ConfigError, UserError
from nnzoo.nn.text_models import (
    ContextFreeTagger,
    ContextFreeTaggerConfig,
    ConvolutionalTagger,
    ConvolutionalTaggerConfig,
    RecurrentTagger,
    RecurrentTaggerConfig,
    TransformerTagger,
)
from nnzoo.nn.transformer import TransformerEncoderConfig
from nnzoo.registry import register_model, register_task
from nnzoo.tasks.base import Splits, Task

UNAMBIGUOUS, AMBIGUOUS, UNKNOWN = range(3)


@dataclass
class TaggingData(DataConfig):
    corpus: Literal["peoples-daily", "apple"] = "peoples-daily"
    min_count: int = 1  # training words seen fewer times become <unk>
    word_dropout: float = 0.05  # training only: the share of known words replaced by <unk>
    max_sentences: int = 0  # keep N sentences (chosen by hash) for quick runs; 0: all
    val_fraction: float = 0.1
    test_fraction: float = 0.1

    def __post_init__(self) -> None:
        check_split_fractions(self.val_fraction, self.test_fraction)
        if self.min_count < 1 or self.max_sentences < 0 or not 0 <= self.word_dropout < 1:
            raise ConfigError("need data.min_count >= 1, data.max_sentences >= 0 and 0 <= data.word_dropout < 1")


def _sizes(info: dict) -> tuple[int, int]:
    return len(info["words"]) + len(Vocabulary.SPECIALS), len(info["tags"])


@register_model("tagging", "mlp", config=ContextFreeTaggerConfig)
def build_mlp(cfg: ContextFreeTaggerConfig, info: dict) -> nn.Module:
    """Context-free: an MLP on the word's embedding alone (the baseline a context model must beat)."""
    return ContextFreeTagger(*_sizes(info), cfg)


@register_model("tagging", "bilstm", config=RecurrentTaggerConfig)
def build_bilstm(cfg: RecurrentTaggerConfig, info: dict) -> nn.Module:
    """Bidirectional LSTM (or model.cell = gru/rnn; model.bidirectional=false: left to right), a tag per step."""
    return RecurrentTagger(*_sizes(info), cfg)


@register_model("tagging", "transformer", config=TransformerEncoderConfig)
def build_transformer(cfg: TransformerEncoderConfig, info: dict) -> nn.Module:
    """Transformer encoder over the sentence (self-attention both ways), a tag per word."""
    return TransformerTagger(*_sizes(info), info["longest"] + 1, cfg)


@register_model("tagging", "tcn", config=ConvolutionalTaggerConfig)
def build_tcn(cfg: ConvolutionalTaggerConfig, info: dict) -> nn.Module:
    """Temporal convolutional networks (causal dilated convolutions), left to right and right to left, a tag per
    word."""
    return ConvolutionalTagger(*_sizes(info), cfg)


@register_task("tagging")
class Tagging(Task):
    """A tag for every word from its context: the "apple" corpus, or part of speech in the People's Daily."""

    DataConfig = TaggingData
    default_model = "bilstm"
    metric_names = ("loss", "accuracy", "ambiguous_accuracy", "unknown_accuracy")
    train_defaults: ClassVar[dict] = {
        "batch_size": 16,
        "epochs": 5,
        "lr": 1e-2,  # embeddings of words seen a few times need large steps; 2e-3 learned 3x slower
        "optimizer": "adamw",
        "weight_decay": 0.01,
        "grad_clip": 1.0,
        "schedule": "cosine",
        "monitor": "accuracy",
        "monitor_mode": "max",
    }

    # --- data ----------------------------------------------------------------------------------------------------
    def sentences(self) -> list[Sentence]:
        cfg = self.cfg.data
        return apple_sentences() if cfg.corpus == "apple" else peoples_daily()

    def split(self, sentences: list[Sentence]) -> dict[str, list[Sentence]]:
        cfg = self.cfg.data
        by_text: dict[str, list[Sentence]] = {}
        for sentence in sentences:
            by_text.setdefault(" ".join(f"{w}/{t}" for w, t in sentence), []).append(sentence)
        keys = sorted(by_text)
        if cfg.max_sentences:
            keys = sorted(sorted(keys, key=lambda k: hash_fraction(k, "subset"))[: cfg.max_sentences])
        held_out = set()
        if cfg.corpus == "apple":  # the notes' two sentences are test sentences, whatever their hash
            notes = [english_words(text) for text in NOTES_APPLE_SENTENCES]
            held_out = {key for key in keys if [w for w, _ in by_text[key][0]] in notes}
        split = hash_split([k for k in keys if k not in held_out], cfg.val_fraction, cfg.test_fraction)
        split["test"] = sorted([*split["test"], *held_out])
        return {name: [s for key in part for s in by_text[key]] for name, part in split.items()}

    def build_data(self) -> Splits:
        cfg = self.cfg.data
        parts = self.split(self.sentences())
        train = parts["train"]
        words = Vocabulary.from_corpus([[w for w, _ in s] for s in train], cfg.min_count)
        tag_counts = Counter(t for s in train for _, t in s)
        tags = sorted(tag_counts, key=lambda t: (-tag_counts[t], t))
        per_word: dict[str, Counter] = {}
        for sentence in train:
            for word, tag in sentence:
                per_word.setdefault(word, Counter())[tag] += 1
        self.info = {
            "corpus": cfg.corpus,
            "words": words.to_list(),
            "tags": tags,
            "ambiguous": sorted(w for w, c in per_word.items() if len(c) > 1 and w in words),
            "most_frequent_tag": {w: max(sorted(c), key=c.__getitem__) for w, c in per_word.items()},
            "longest": max(len(s) for part in parts.values() for s in part),
            "sentences": {name: len(part) for name, part in parts.items()},
            "words_per_split": {name: sum(map(len, part)) for name, part in parts.items()},
        }
        return {name: self.encode(part) for name, part in parts.items()}

    @property
    def word_vocab(self) -> Vocabulary:
        if not hasattr(self, "_word_vocab"):
            self._word_vocab = Vocabulary(self.info["words"])
            self._tag_index = {t: i for i, t in enumerate(self.info["tags"])}
            self._ambiguous = set(self.info["ambiguous"])
        return self._word_vocab

    def kind(self, word: str) -> int:
        if word not in self.word_vocab:
            return UNKNOWN
        return AMBIGUOUS if word in self._ambiguous else UNAMBIGUOUS

    def encode(self, sentences: list[Sentence]) -> TaggedSentences:
        vocab = self.word_vocab
        unknown_tag = [t for s in sentences for _, t in s if t not in self._tag_index]
        if unknown_tag:
            raise UserError(f"tags never seen in training: {sorted(set(unknown_tag))}; use a larger training split")
        return TaggedSentences(
            sentences,
            [vocab.encode([w for w, _ in s]) for s in sentences],
            [[self._tag_index[t] for _, t in s] for s in sentences],
            [[self.kind(w) for w, _ in s] for s in sentences],
            vocab.pad,
        )

    @classmethod
    def prepare_data(cls) -> str:
        daily, apple = peoples_daily(), apple_sentences()
        return (
            f"People's Daily: {len(daily):,} sentences, {sum(map(len, daily)):,} words; apple: {len(apple)} sentences"
        )

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: TaggedBatch) -> Tensor:
        words = batch.words
        dropout = self.cfg.data.word_dropout
        if dropout:
            drop = (torch.rand(words.shape, device=words.device) < dropout) & (words != self.word_vocab.pad)
            words = words.masked_fill(drop, self.word_vocab.unk)
        logits = model(words, batch.lengths)
        return F.cross_entropy(
            logits.flatten(0, 1),
            batch.tags.flatten(),
            ignore_index=IGNORE,
            label_smoothing=self.cfg.train.label_smoothing,
        )

    def predictions(self, model: nn.Module, dataset: TaggedSentences) -> tuple[Tensor, Tensor, Tensor, float]:
        """Predicted and true tag ids and the kinds of every word of a split (flat), and the mean loss."""
        predicted, truth, kinds, total = [], [], [], 0.0
        for batch in self.batches(dataset):
            logits = model(batch.words, batch.lengths)
            real = batch.tags != IGNORE
            total += float(F.cross_entropy(logits[real].float(), batch.tags[real], reduction="sum"))
            predicted.append(logits.argmax(-1)[real].cpu())
            truth.append(batch.tags[real].cpu())
            kinds.append(batch.kinds[real].cpu())
        truth_all = torch.cat(truth)
        return torch.cat(predicted), truth_all, torch.cat(kinds), total / max(1, len(truth_all))

    def evaluate(self, model: nn.Module, dataset: TaggedSentences) -> dict[str, float]:
        predicted, truth, kinds, loss = self.predictions(model, dataset)
        return {"loss": loss, **accuracies(predicted, truth, kinds)}

    def baselines(self, data: Splits, split: str) -> dict[str, dict[str, float]]:
        """The most frequent training tag of each word; for unknown words, the most frequent tag overall."""
        dataset = data[split]
        most_frequent = self.info["most_frequent_tag"]
        fallback = self.info["tags"][0]
        index = {t: i for i, t in enumerate(self.info["tags"])}
        words = [w for s in dataset.sentences for w, _ in s]
        predicted = torch.tensor([index[most_frequent.get(w, fallback)] for w in words])
        truth = torch.tensor([t for s in dataset.tags for t in s])
        kinds = torch.tensor([k for s in dataset.kinds for k in s])
        return {"most frequent tag of the word": {"loss": float("nan"), **accuracies(predicted, truth, kinds)}}

    def figures(self, model: nn.Module, data: Splits, split: str, folder: Path) -> list[Path]:
        """``context_{split}.txt``: sentences where the model's tag of an ambiguous word differs from the word's
        most frequent training tag, marked right or wrong — the context at work."""
        folder.mkdir(parents=True, exist_ok=True)
        lines, shown = [], 0
        dataset = data[split]
        tags = self.info["tags"]
        most_frequent = self.info["most_frequent_tag"]
        for index, sentence in enumerate(dataset.sentences):
            batch = dataset.__getitems__([index])
            with torch.no_grad():
                predicted = model(batch.words.to(self.device), batch.lengths.to(self.device)).argmax(-1)[0].tolist()
            marks = []
            for (word, tag), guess in zip(sentence, predicted):
                if self.kind(word) == AMBIGUOUS and tags[guess] != most_frequent[word]:
                    marks.append(
                        f"{word}: {tags[guess]} ({'right' if tags[guess] == tag else 'wrong, ' + tag}), "
                        f"most frequent {most_frequent[word]}"
                    )
            if marks:
                lines += [" ".join(f"{w}/{tags[g]}" for (w, _), g in zip(sentence, predicted)), *marks, ""]
                shown += 1
            if shown >= 50:
                break
        path = folder / f"context_{split}.txt"
        path.write_text("\n".join(lines) + "\n", "utf-8")
        return [path]

    # --- prediction --------------------------------------------------------------------------------------------
    def predict(self, model: nn.Module, inputs: list, **options) -> list[list[TaggedWord]]:
        """The tag of every word of each sentence: a list of words, or a text (People's Daily: words separated by
        spaces; the apple corpus: English, split into words as in training)."""
        if options:
            raise UserError(f"tagging's predict takes no options, got {', '.join(options)}")
        tags, out = self.info["tags"], []
        for sentence in inputs:
            if isinstance(sentence, str):
                words = english_words(sentence) if self.info["corpus"] == "apple" else sentence.split()
            else:
                words = [str(word) for word in sentence]
            if not words:
                raise UserError(f"nothing to tag in {sentence!r}")
            ids = torch.tensor([self.word_vocab.encode(words)], device=self.device)
            predicted = model(ids, torch.tensor([len(words)], device=self.device)).argmax(-1)[0].tolist()
            out.append([TaggedWord(w, tags[g], self.kind(w) != UNKNOWN) for w, g in zip(words, predicted)])
        return out


class TaggedWord(NamedTuple):
    """A word, its predicted tag, and whether the model saw the word in training (``known``)."""

    word: str
    tag: str
    known: bool


def accuracies(predicted: Tensor, truth: Tensor, kinds: Tensor) -> dict[str, float]:
    """Accuracy over all words, over the ambiguous ones and over the unknown ones (NaN where there are none)."""
    right = (predicted == truth).double()

    def mean(mask: Tensor) -> float:
        return float(right[mask].mean()) if bool(mask.any()) else float("nan")

    return {
        "accuracy": float(right.mean()),
        "ambiguous_accuracy": mean(kinds == AMBIGUOUS),
        "unknown_accuracy": mean(kinds == UNKNOWN),
    }
