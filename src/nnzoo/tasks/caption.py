"""Task ``caption``: a sentence for an image — the notes' one-to-many example, on scenes whose captions are exact.

The scenes (:mod:`nnzoo.data.captions`) are real Fashion-MNIST garments pasted on crops of real texture
photographs, described by a small grammar: "a sneaker to the left of a shirt on grass", "two bags on brick". A
CNN encodes the image and an LSTM writes the caption, from one context vector (``cnn-lstm``) or attending over
the CNN's grid at every word (``cnn-lstm-attention``); both decode with the project's one greedy/beam search.

Metrics on a split: BLEU-4 (sacrebleu, on the caption's words); ``exact``, the share of captions equal to the
truth; ``objects``, the share naming exactly the scene's garments (how many of which class); ``relation``, among
scenes of two different garments, the share naming both in the right order and relation; ``novel``, the exact
share on scenes whose pair of garments never appeared together in training (held-out compositions).
"""

from __future__ import annotations

import functools
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from nnzoo.config import ImageDataConfig
from nnzoo.data.captions import (
    CAPTIONS,
    NOUNS,
    CaptionedScenes,
    Description,
    compose_captioned_scenes,
    novel_pairs,
    parse_caption,
)
from nnzoo.data.images import image_input, image_splits, read_grey
from nnzoo.data.scenes import TEXTURES, textures
from nnzoo.data.sequences import pad_sequences
from nnzoo.data.vocab import Vocabulary
from nnzoo.decode import Hypothesis, search
from nnzoo.errors import ConfigError, UserError
from nnzoo.nn.captioning import AttentionCaptioner, CaptionerConfig, ContextCaptioner
from nnzoo.optional import require
from nnzoo.registry import register_model, register_task
from nnzoo.tasks.base import Splits, Task
from nnzoo.tasks.seq2seq_base import Seq2SeqEval, Transduction, target_cross_entropy

SPLITS = ("train", "val", "test")
NOVEL_SHARE = 0.5  # of the validation and test scenes with two different garments: a held-out pair


@dataclass
class CaptionData(ImageDataConfig):
    dataset: Literal["fashion-mnist"] = "fashion-mnist"
    size: int = 64  # scenes are size × size pixels (at least 56, to hold two garments)
    train_scenes: int = 60000  # generated: enough that 3 epochs see no scene more than 3 times
    val_scenes: int = 1000
    test_scenes: int = 2000
    novel_pairs: int = 9  # of the 45 pairs of different garments, how many never appear together in training
    scene_seed: int = 0  # the scenes depend on this seed only, not on the training seed

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.size < 56:
            raise ConfigError(f"data.size must be >= 56 (two 28-pixel garments side by side), got {self.size}")
        if min(self.train_scenes, self.val_scenes, self.test_scenes) < 1:
            raise ConfigError("data.train_scenes, data.val_scenes and data.test_scenes must be >= 1")
        if not 0 <= self.novel_pairs <= 40:
            raise ConfigError(
                f"data.novel_pairs must be in [0, 40] (5 of the 45 pairs stay seen), got {self.novel_pairs}"
            )


def image_shape(info: dict) -> tuple[int, int, int]:
    return (1, info["size"], info["size"])


def vocab_size(info: dict) -> int:
    return len(info["words"]) + len(Vocabulary.SPECIALS)


@register_model("caption", "cnn-lstm", config=CaptionerConfig)
def build_context(cfg: CaptionerConfig, info: dict) -> nn.Module:
    """CNN encoder, one context vector, LSTM decoder ("Show and Tell")."""
    return ContextCaptioner(image_shape(info), vocab_size(info), cfg)


@register_model("caption", "cnn-lstm-attention", config=CaptionerConfig)
def build_attention(cfg: CaptionerConfig, info: dict) -> nn.Module:
    """CNN encoder, LSTM decoder attending over the CNN's grid at every word ("Show, Attend and Tell")."""
    return AttentionCaptioner(image_shape(info), vocab_size(info), cfg)


class CaptionBatch(NamedTuple):
    images: Tensor  # (B, 1, H, W)
    tgt_in: Tensor  # (B, T) <s> w_1 … w_n, padded
    tgt_out: Tensor  # (B, T) w_1 … w_n </s>, padded


class CaptionDataset(Dataset):
    """Scenes, their captions as word ids, what each shows, and whether its pair of garments was held out."""

    def __init__(self, scenes: CaptionedScenes, vocab: Vocabulary, held_out: set[tuple[int, int]]):
        self.images, self.descriptions = scenes
        self.captions = [vocab.encode(d.words()) for d in self.descriptions]
        self.novel = [d.pair in held_out for d in self.descriptions]
        self.vocab = vocab

    def __len__(self) -> int:
        return len(self.images)

    def __getitems__(self, indices) -> CaptionBatch:
        index = torch.as_tensor(indices, dtype=torch.long)
        captions = [self.captions[i] for i in index.tolist()]
        vocab = self.vocab
        return CaptionBatch(
            self.images[index],
            pad_sequences([[vocab.bos, *c] for c in captions], vocab.pad),
            pad_sequences([[*c, vocab.eos] for c in captions], vocab.pad),
        )

    @staticmethod
    def collate(batch: CaptionBatch) -> CaptionBatch:
        return batch


def caption_scores(hypotheses: list[list[str]], truths: list[Description], novel: list[bool]) -> dict[str, float]:
    """BLEU-4 (sacrebleu, 0–100) and the shares ``exact``, ``objects``, ``relation`` and ``novel`` (0–1; NaN where
    a split has no scene of the kind) of captions (words) against what each scene shows."""
    sacrebleu = require("sacrebleu", "the caption task's BLEU score")

    references = [t.words() for t in truths]
    parsed = [parse_caption(h) for h in hypotheses]
    exact = [h == r for h, r in zip(hypotheses, references)]
    objects = [p is not None and sorted(p.garments) == sorted(t.garments) for p, t in zip(parsed, truths)]
    relation = [
        p is not None and (p.garments, p.relation) == (t.garments, t.relation)
        for p, t in zip(parsed, truths)
        if t.pair is not None
    ]
    novel_exact = [e for e, n in zip(exact, novel) if n]

    def share(values: list[bool]) -> float:
        return sum(values) / len(values) if values else float("nan")

    bleu = sacrebleu.corpus_bleu([" ".join(h) for h in hypotheses], [[" ".join(r) for r in references]],
                                 tokenize="none")  # fmt: skip
    return {
        "bleu": bleu.score,
        "exact": share(exact),
        "objects": share(objects),
        "relation": share(relation),
        "novel": share(novel_exact),
    }


@register_task("caption")
class Caption(Task):
    """Describe scenes of garments on textures in a sentence (BLEU-4, exact captions, held-out pairs)."""

    DataConfig = CaptionData
    EvalConfig = Seq2SeqEval
    default_model = "cnn-lstm-attention"
    metric_names = ("loss", "bleu", "exact", "objects", "relation", "novel")
    train_defaults: ClassVar[dict] = {
        "batch_size": 64,
        "epochs": 3,
        "lr": 2e-3,
        "optimizer": "adamw",
        "weight_decay": 1e-4,
        "schedule": "cosine",
        "warmup_steps": 100,
        "grad_clip": 1.0,
        "monitor": "exact",
        "monitor_mode": "max",
    }

    @functools.cached_property
    def vocab(self) -> Vocabulary:
        return Vocabulary(self.info["words"])

    def build_data(self) -> Splits:
        cfg = self.cfg.data
        garments = image_splits(cfg.dataset, cfg.val_fraction, cfg.test_fraction, cfg.max_train)
        held_out = novel_pairs(cfg.novel_pairs)
        words = sorted({word for caption in CAPTIONS for word in caption})
        self.info = {
            "size": cfg.size,
            "words": words,
            "classes": [singular for singular, _ in NOUNS],
            "novel_pairs": [[NOUNS[a][0], NOUNS[b][0]] for a, b in held_out],
            "longest_caption": max(len(caption) for caption in CAPTIONS),
        }
        data = {
            split: CaptionDataset(
                compose_captioned_scenes(
                    garments[split],
                    getattr(cfg, f"{split}_scenes"),
                    split,
                    size=cfg.size,
                    held_out=held_out,
                    novel_share=0.0 if split == "train" or not held_out else NOVEL_SHARE,
                    seed=(cfg.scene_seed, number),
                ),
                self.vocab,
                set(held_out),
            )
            for number, split in enumerate(SPLITS)
        }
        self.info["scenes"] = {split: len(data[split]) for split in SPLITS}
        self.info["novel_scenes"] = {split: sum(data[split].novel) for split in SPLITS}
        self.info["distinct_train_captions"] = len({tuple(c) for c in data["train"].captions})
        return data

    @classmethod
    def prepare_data(cls) -> str:
        pictures = textures()
        return f"textures bundled with scikit-image ({', '.join(TEXTURES)}, {pictures['brick'].shape[0]} px); " + (
            f"{len(CAPTIONS)} captions in the grammar"
        )

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: CaptionBatch) -> Tensor:
        logits = model(batch.images, batch.tgt_in)
        return target_cross_entropy(
            logits, batch.tgt_out, self.vocab.pad, label_smoothing=self.cfg.train.label_smoothing
        )

    def evaluate(self, model: nn.Module, dataset: CaptionDataset) -> dict[str, float]:
        return self._evaluate(model, dataset, self.cfg.eval.beam_size, self.cfg.eval.limit or len(dataset))

    def validate(self, model: nn.Module, dataset: CaptionDataset) -> dict[str, float]:
        return self._evaluate(model, dataset, self.cfg.eval.validate_beam_size, len(dataset))

    def _evaluate(self, model: nn.Module, dataset: CaptionDataset, beam_size: int, limit: int) -> dict[str, float]:
        count = min(limit, len(dataset))
        total, words = 0.0, 0
        size = self.cfg.eval.batch_size
        for start in range(0, count, size):  # teacher-forced cross-entropy per word
            batch = dataset.__getitems__(range(start, min(start + size, count)))
            images, tgt_in, tgt_out = (t.to(self.device) for t in batch)
            logits = model(images, tgt_in)
            total += float(target_cross_entropy(logits, tgt_out, self.vocab.pad, reduction="sum"))
            words += int((tgt_out != self.vocab.pad).sum())
        found = self.decode(model, dataset.images[:count], beam_size)
        hypotheses = [self.vocab.decode(h[0].tokens) for h in found]
        scores = caption_scores(hypotheses, dataset.descriptions[:count], dataset.novel[:count])
        return {"loss": total / max(words, 1), **scores}

    def decode(self, model: nn.Module, images: Tensor, beam_size: int, nbest: int = 1) -> list[list[Hypothesis]]:
        """The ``nbest`` best captions (word ids) of each image (N, 1, H, W), by the project's one search."""
        model.eval()
        results: list[list[Hypothesis]] = []
        with torch.no_grad():
            for chunk in images.split(self.cfg.eval.batch_size):
                results += search(
                    model,
                    model.encode(chunk.to(self.device)),
                    batch_size=len(chunk),
                    bos=self.vocab.bos,
                    eos=self.vocab.eos,
                    beam_size=beam_size,
                    max_len=self.info["longest_caption"] + 5,
                    length_penalty_alpha=self.cfg.eval.length_penalty,
                    nbest=nbest,
                )
        return results

    def baselines(self, data: Splits, split: str) -> dict[str, dict[str, float]]:
        train, dataset = data["train"], data[split]
        counts: dict[tuple[int, ...], int] = {}
        for caption in train.captions:
            counts[tuple(caption)] = counts.get(tuple(caption), 0) + 1
        commonest = self.vocab.decode(list(max(counts, key=counts.get)))
        scores = caption_scores([commonest] * len(dataset), dataset.descriptions, dataset.novel)
        return {f"the commonest training caption ({' '.join(commonest)!r})": scores}

    # --- figures ------------------------------------------------------------------------------------------------
    def figures(self, model: nn.Module, data: Splits, split: str, folder: Path) -> list[Path]:
        """``captions_{split}.png``: 12 scenes and their captions (✗ marks a wrong one, with the truth);
        ``samples_{split}.txt``: the same as text; ``attention_{split}.png`` (attention model): where each word
        looked, for 4 scenes of held-out pairs (or any, if none)."""
        from nnzoo.viz.attention import plot_image_attention
        from nnzoo.viz.images import plot_image_grid

        dataset = data[split]
        picked = list(range(min(12, len(dataset))))
        found = [self.vocab.decode(h[0].tokens) for h in self.decode(model, dataset.images[picked], 1)]
        truths = [dataset.descriptions[i].words() for i in picked]
        titles = [
            textwrap.fill(" ".join(words) if words == truth else f"✗ {' '.join(words)} (truth: {' '.join(truth)})", 24)
            for words, truth in zip(found, truths)
        ]
        folder.mkdir(parents=True, exist_ok=True)
        paths = [
            plot_image_grid(
                dataset.images[picked],
                folder / f"captions_{split}.png",
                columns=4,
                titles=titles,
                title=f"{self.cfg.model.name} on {split} (greedy)",
                cell_inches=1.9,
            )
        ]
        samples = folder / f"samples_{split}.txt"
        samples.write_text("".join(f"predicted: {' '.join(w)}\ttruth: {' '.join(t)}\n" for w, t in zip(found, truths)))
        paths.append(samples)
        novel = [i for i, n in enumerate(dataset.novel) if n] or list(range(len(dataset)))
        shown = novel[:4]
        maps = self.attention_maps(model, dataset.images[shown])
        if maps is not None:
            rows = [(dataset.images[i, 0], words, weights) for i, (words, weights) in zip(shown, maps)]
            which = "held-out pairs" if dataset.novel[shown[0]] else split
            title = f"{self.cfg.model.name}: where each word looks ({which})"
            paths.append(plot_image_attention(rows, folder / f"attention_{split}.png", title))
        return paths

    def attention_maps(self, model: nn.Module, images: Tensor) -> list[tuple[list[str], Tensor]] | None:
        """For each image (N, 1, H, W): its greedy caption's words (and ``</s>``) and where each looked, (words,
        h, w); None for a model without attention."""
        found = [h[0].tokens for h in self.decode(model, images, 1)]
        tgt_in = pad_sequences([[self.vocab.bos, *tokens] for tokens in found], self.vocab.pad).to(self.device)
        with torch.no_grad():
            weights = model.attention_weights(images.to(self.device), tgt_in)
        if weights is None:
            return None
        height, width = model.grid
        maps = []
        for row, tokens in enumerate(found):
            words = [*self.vocab.decode(tokens), "</s>"]
            maps.append((words, weights[row, : len(words)].reshape(len(words), height, width).cpu()))
        return maps

    # --- prediction --------------------------------------------------------------------------------------------
    def predict(
        self, model: nn.Module, inputs: list, *, beam_size: int | None = None, nbest: int = 1
    ) -> list[list[Transduction]]:
        """The ``nbest`` most probable captions of each image, best first, by beam search of ``beam_size``
        (default: the run's ``eval.beam_size``). An image is a file path (read in grey levels and resized to the
        scenes' size) or an array (H, W) / (1, H, W) in [0, 1] of the scenes' size."""
        beam = beam_size or self.cfg.eval.beam_size
        if nbest < 1 or beam < 1:
            raise UserError("nbest (--nbest) and beam_size (--beam) must be >= 1")
        if not inputs:
            return []
        size = self.info["size"]
        images = torch.stack([image_input(image, (size, size), load=read_grey) for image in inputs])
        results = []
        for hypotheses in self.decode(model, images, max(beam, nbest), nbest=nbest):
            words = [self.vocab.decode(h.tokens) for h in hypotheses]
            results.append([Transduction(w, " ".join(w), h.log_prob) for w, h in zip(words, hypotheses)])
        return results
