"""Task ``classify-text``: is a Chinese review positive or negative? The notes' many-to-one pattern on real text.

A review is read character by character (Chinese needs no word segmentation for this) and the model emits one
label. The recurrent models summarise the review by their final states (``model.pooling = "last"``, the notes'
many-to-one) or by the mean of their outputs (``"mean"``); the Transformer encoder by the mean of its outputs.
Metrics: accuracy and the F1 score of each class, averaged (macro F1). Baselines in the same table: the majority
class, and a logistic regression on TF-IDF-weighted character unigrams and bigrams (scikit-learn), the classic
strong baseline of text classification.

Splits: distinct reviews by a hash of their text. Reviews are cut to their first ``data.max_chars`` characters.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo import metrics
from nnzoo.config import DataConfig, check_split_fractions
from nnzoo.data.reviews import LABELS, sentiment_reviews
from nnzoo.data.sequences import LabelledBatch, LabelledSequences
from nnzoo.data.splits import hash_fraction, hash_split
from nnzoo.data.vocab import Vocabulary
from nnzoo.errors import ConfigError, UserError
from nnzoo.nn.text_models import RecurrentClassifier, RecurrentClassifierConfig, TransformerClassifier
from nnzoo.nn.transformer import TransformerEncoderConfig
from nnzoo.optional import require
from nnzoo.registry import register_model, register_task
from nnzoo.tasks.base import Classification, Splits, Task


@dataclass
class ClassifyTextData(DataConfig):
    max_chars: int = 200  # reviews are cut to their first N characters
    min_count: int = 2  # rarer training characters become <unk>
    max_reviews: int = 0  # keep N reviews (chosen by hash) for quick runs; 0: all
    val_fraction: float = 0.1
    test_fraction: float = 0.1

    def __post_init__(self) -> None:
        check_split_fractions(self.val_fraction, self.test_fraction)
        if self.max_chars < 1 or self.min_count < 1 or self.max_reviews < 0:
            raise ConfigError("need data.max_chars >= 1, data.min_count >= 1 and data.max_reviews >= 0")


def _vocab_size(info: dict) -> int:
    return len(info["symbols"]) + len(Vocabulary.SPECIALS)


def _register_recurrent(cell: str, title: str) -> None:
    def build(cfg: RecurrentClassifierConfig, info: dict) -> nn.Module:
        return RecurrentClassifier(_vocab_size(info), len(LABELS), cell, cfg)

    build.__doc__ = f"{title} over the characters, final states (or mean of the outputs) to a linear layer."
    register_model("classify-text", cell, config=RecurrentClassifierConfig)(build)


for _cell, _title in (("lstm", "Bidirectional LSTM"), ("gru", "Bidirectional GRU")):
    _register_recurrent(_cell, _title)


@register_model("classify-text", "transformer", config=TransformerEncoderConfig)
def build_transformer(cfg: TransformerEncoderConfig, info: dict) -> nn.Module:
    """Transformer encoder over the characters, the mean of its outputs to a linear layer."""
    return TransformerClassifier(_vocab_size(info), len(LABELS), info["max_chars"], cfg)


@register_task("classify-text")
class ClassifyText(Task):
    """Sentiment of Chinese product reviews (positive/negative), read character by character (accuracy, F1)."""

    DataConfig = ClassifyTextData
    default_model = "lstm"
    metric_names = ("loss", "accuracy", "f1")
    train_defaults: ClassVar[dict] = {
        "batch_size": 64,
        "epochs": 4,
        "lr": 2e-3,
        "optimizer": "adamw",
        "weight_decay": 0.01,
        "grad_clip": 1.0,
        "schedule": "cosine",
        "monitor": "accuracy",
        "monitor_mode": "max",
    }

    # --- data ----------------------------------------------------------------------------------------------------
    def split(self) -> dict[str, list[tuple[str, int]]]:
        cfg = self.cfg.data
        label_of = dict(sentiment_reviews())
        texts = sorted(label_of)
        if cfg.max_reviews:
            texts = sorted(sorted(texts, key=lambda t: hash_fraction(t, "subset"))[: cfg.max_reviews])
        parts = hash_split(texts, cfg.val_fraction, cfg.test_fraction)
        return {name: [(text, label_of[text]) for text in part] for name, part in parts.items()}

    def characters(self, text: str) -> list[str]:
        return [c for c in text if not c.isspace()][: self.cfg.data.max_chars]

    def build_data(self) -> Splits:
        cfg = self.cfg.data
        parts = self.split()
        vocabulary = Vocabulary.from_corpus([self.characters(t) for t, _ in parts["train"]], cfg.min_count)
        self.info = {
            "symbols": vocabulary.to_list(),
            "max_chars": cfg.max_chars,
            "reviews": {name: len(part) for name, part in parts.items()},
            "positive_share": {name: sum(label for _, label in part) / len(part) for name, part in parts.items()},
        }
        self.vocabulary, self.texts = vocabulary, parts
        return {name: self.encode(part) for name, part in parts.items()}

    @property
    def vocab(self) -> Vocabulary:
        if not hasattr(self, "vocabulary"):
            self.vocabulary = Vocabulary(self.info["symbols"])
        return self.vocabulary

    def encode(self, reviews: list[tuple[str, int]]) -> LabelledSequences:
        kept = [(self.characters(text), label) for text, label in reviews if self.characters(text)]
        return LabelledSequences(
            [self.vocab.encode(chars) for chars, _ in kept], [label for _, label in kept], self.vocab.pad
        )

    @classmethod
    def prepare_data(cls) -> str:
        reviews = sentiment_reviews()
        return f"reviews: {len(reviews):,} distinct, {sum(label for _, label in reviews):,} positive"

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: LabelledBatch) -> Tensor:
        logits = model(batch.tokens, batch.lengths)
        return F.cross_entropy(logits, batch.labels, label_smoothing=self.cfg.train.label_smoothing)

    def evaluate(self, model: nn.Module, dataset: LabelledSequences) -> dict[str, float]:
        logits = torch.cat([model(b.tokens, b.lengths).float().cpu() for b in self.batches(dataset)])
        labels = torch.tensor(dataset.labels)
        return {
            "loss": float(F.cross_entropy(logits, labels)),
            **metrics.classification_scores(logits.argmax(-1), labels, len(LABELS)),
        }

    def baselines(self, data: Splits, split: str) -> dict[str, dict[str, float]]:
        labels = torch.tensor(data[split].labels)
        majority = int(torch.tensor(data["train"].labels).double().mean() >= 0.5)
        nan = {"loss": float("nan")}
        return {
            f"majority class ({LABELS[majority]})": {
                **nan,
                **metrics.classification_scores(torch.full_like(labels, majority), labels, len(LABELS)),
            },
            "logistic regression, TF-IDF of character 1-2-grams": {
                **nan,
                **metrics.classification_scores(
                    torch.as_tensor(self.bag_of_ngrams_predictions(split)), labels, len(LABELS)
                ),
            },
        }

    @functools.cache  # noqa: B019 - one task instance per command; the model is fitted once
    def bag_of_ngrams_predictions(self, split: str):
        needed_for = "the classify-text task's bag-of-n-grams baseline"
        TfidfVectorizer = require("sklearn.feature_extraction.text", needed_for).TfidfVectorizer
        LogisticRegression = require("sklearn.linear_model", needed_for).LogisticRegression

        def texts(name: str) -> list[str]:
            return ["".join(self.characters(t)) for t, _ in self.texts[name] if self.characters(t)]

        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        features = vectorizer.fit_transform(texts("train"))
        train_labels = [label for t, label in self.texts["train"] if self.characters(t)]
        classifier = LogisticRegression(C=4.0, max_iter=1000).fit(features, train_labels)
        return classifier.predict(vectorizer.transform(texts(split)))

    def figures(self, model: nn.Module, data: Splits, split: str, folder: Path) -> list[Path]:
        """``mistakes_{split}.txt``: the reviews the model gets wrong most confidently."""
        folder.mkdir(parents=True, exist_ok=True)
        dataset = data[split]
        logits = torch.cat([model(b.tokens, b.lengths).float().cpu() for b in self.batches(dataset)])
        confidence, predicted = torch.softmax(logits, -1).max(-1)
        labels = torch.tensor(dataset.labels)
        wrong = (predicted != labels).nonzero().flatten()
        worst = wrong[confidence[wrong].argsort(descending=True)][:30].tolist()
        texts = [t for t, _ in self.texts[split] if self.characters(t)]
        lines = [
            f"{LABELS[int(predicted[i])]} ({float(confidence[i]):.2f}), truly {LABELS[labels[i]]}: {texts[i]}"
            for i in worst
        ]
        path = folder / f"mistakes_{split}.txt"
        path.write_text("\n".join(lines) + "\n", "utf-8")
        return [path]

    # --- prediction --------------------------------------------------------------------------------------------
    def predict(self, model: nn.Module, inputs: list[str], **options) -> list[Classification]:
        """The sentiment of each review (Chinese text, read character by character as in training)."""
        if options:
            raise UserError(f"classify-text's predict takes no options, got {', '.join(options)}")
        results = []
        for text in inputs:
            chars = self.characters(text)
            if not chars:
                raise UserError(f"nothing to classify in {text!r}")
            tokens = torch.tensor([self.vocab.encode(chars)], device=self.device)
            probability = torch.softmax(model(tokens, torch.tensor([len(chars)], device=self.device)).float(), -1)[0]
            results.append(Classification(LABELS[int(probability.argmax())], dict(zip(LABELS, probability.tolist()))))
        return results
