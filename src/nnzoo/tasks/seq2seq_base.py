"""What the sequence-to-sequence tasks share: their three models, the loss, decoding, attention maps, n-best.

A task built on :class:`Seq2SeqTask` provides its data (:class:`~nnzoo.data.sequences.SequencePairs` whose
evaluation splits carry ``references`` and ``keys``), the way to turn a user's input into source symbols
(:meth:`Seq2SeqTask.source_symbols`), and its metrics (:meth:`Seq2SeqTask.score`). Models are registered per
task with :func:`register_seq2seq_models`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo.config import EvalConfig
from nnzoo.data.sequences import PairBatch, SequencePairs, pad_sequences
from nnzoo.data.vocab import Vocabulary
from nnzoo.decode import Hypothesis, search
from nnzoo.errors import ConfigError, UserError
from nnzoo.nn.seq2seq import (
    AttentionSeq2Seq,
    AttentionSeq2SeqConfig,
    ContextSeq2Seq,
    ContextSeq2SeqConfig,
    Seq2SeqEnsemble,
    TransformerSeq2Seq,
    TransformerSeq2SeqConfig,
)
from nnzoo.registry import register_model
from nnzoo.tasks.base import Splits, Task


@dataclass
class Seq2SeqEval(EvalConfig):
    beam_size: int = 5  # beam search width for `nnzoo eval` and `predict`; 1 is greedy
    length_penalty: float = 0.0  # α of ((5 + n) / 6)^α; 0: rank by log-probability
    batch_size: int = 256  # sequences decoded at once
    validate_beam_size: int = 1  # while training: greedy decoding of the validation split, cheaper than the beam
    limit: int = 0  # `nnzoo eval` and `evaluate` score the split's first N pairs only (a quick, fixed slice); 0: all
    ADDED: ClassVar[dict[str, Any]] = {"limit": 0}  # keys added since, at the value of earlier runs

    def __post_init__(self) -> None:
        if self.beam_size < 1 or self.validate_beam_size < 1 or self.batch_size < 1 or self.limit < 0:
            raise ConfigError(
                "eval.beam_size, eval.validate_beam_size and eval.batch_size must be >= 1, eval.limit >= 0"
            )
        if self.length_penalty < 0:
            raise ConfigError("eval.length_penalty must be >= 0")


def target_cross_entropy(
    logits: Tensor, targets: Tensor, pad: int, *, label_smoothing: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """Cross-entropy of a decoder's next-symbol logits (N, T, V) against the target ids (N, T), padding skipped:
    the mean (training) or the sum (evaluation) over the real target symbols."""
    return F.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), ignore_index=pad, label_smoothing=label_smoothing, reduction=reduction
    )


def register_seq2seq_models(task: str, what: str) -> None:
    """Register ``gru-seq2seq``, ``lstm-attention`` and ``transformer`` for ``task`` (``what`` describes it)."""

    def sizes(info: dict) -> tuple[int, int]:
        return len(info["source_symbols"]) + len(Vocabulary.SPECIALS), len(info["target_symbols"]) + len(
            Vocabulary.SPECIALS
        )

    def build_context(cfg: ContextSeq2SeqConfig, info: dict) -> nn.Module:
        return ContextSeq2Seq(*sizes(info), cfg)

    def build_attention(cfg: AttentionSeq2SeqConfig, info: dict) -> nn.Module:
        return AttentionSeq2Seq(*sizes(info), cfg)

    def build_transformer(cfg: TransformerSeq2SeqConfig, info: dict) -> nn.Module:
        longest = max(info["longest_source"], info["longest_target"]) + 2
        return TransformerSeq2Seq(*sizes(info), max(256, 2 * longest), cfg)

    build_context.__doc__ = f"{what} through one context vector, the encoder's final state (no attention)."
    build_attention.__doc__ = f"{what} with a bidirectional LSTM encoder and a Bahdanau-attention LSTM decoder."
    build_transformer.__doc__ = f"{what} with the Transformer (encoder–decoder, key/value-cached decoding)."
    register_model(task, "gru-seq2seq", config=ContextSeq2SeqConfig)(build_context)
    register_model(task, "lstm-attention", config=AttentionSeq2SeqConfig)(build_attention)
    register_model(
        task,
        "transformer",
        config=TransformerSeq2SeqConfig,
        train_defaults={"warmup_steps": 1000, "schedule": "cosine", "optimizer": "adamw", "lr": 1e-3},
    )(build_transformer)


# ----------------------------------------------------------------------------------------------------------------
# The task base
# ----------------------------------------------------------------------------------------------------------------


class Seq2SeqTask(Task):
    """Base of tasks that map one symbol sequence to another."""

    EvalConfig = Seq2SeqEval
    default_model = "transformer"
    train_defaults: ClassVar[dict] = {"batch_size": 128, "lr": 2e-3, "grad_clip": 1.0, "schedule": "cosine"}
    max_source_length: ClassVar[int] = 200
    strict_input: ClassVar[bool] = True  # refuse input symbols outside the training vocabulary (else: <unk>)

    # --- what subclasses provide ------------------------------------------------------------------------------------
    def source_symbols(self, text: str) -> list[str]:
        """A user's input as source symbols (e.g. the letters of a word)."""
        raise NotImplementedError

    def render(self, symbols: list[str]) -> str:
        """Target symbols as text for people."""
        return " ".join(symbols)

    def score(self, hypotheses: list[list[str]], references: list[list[list[str]]]) -> dict[str, float]:
        """The task's metrics of decoded target symbols against each item's references."""
        raise NotImplementedError

    # --- vocabularies -------------------------------------------------------------------------------------------
    @functools.cached_property
    def source_vocab(self) -> Vocabulary:
        return Vocabulary(self.info["source_symbols"])

    @functools.cached_property
    def target_vocab(self) -> Vocabulary:
        return Vocabulary(self.info["target_symbols"])

    def ensemble(self, models: list[nn.Module]) -> nn.Module:
        return Seq2SeqEnsemble(models)

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: PairBatch) -> Tensor:
        logits = model(batch.src, batch.src_lengths, batch.tgt_in)
        return target_cross_entropy(
            logits, batch.tgt_out, self.target_vocab.pad, label_smoothing=self.cfg.train.label_smoothing
        )

    def evaluate(self, model: nn.Module, dataset: SequencePairs) -> dict[str, float]:
        limit = self.cfg.eval.limit
        return self._evaluate(model, dataset.head(limit) if limit else dataset, self.cfg.eval.beam_size)

    def validate(self, model: nn.Module, dataset: SequencePairs) -> dict[str, float]:
        return self._evaluate(model, dataset, self.cfg.eval.validate_beam_size)

    def _evaluate(self, model: nn.Module, dataset: SequencePairs, beam_size: int) -> dict[str, float]:
        total, tokens = 0.0, 0
        for batch in self.batches(dataset):  # teacher-forced cross-entropy per target symbol
            logits = model(batch.src, batch.src_lengths, batch.tgt_in)
            total += float(target_cross_entropy(logits, batch.tgt_out, dataset.pad, reduction="sum"))
            tokens += int((batch.tgt_out != dataset.pad).sum())
        return {"loss": total / max(tokens, 1), **self.score(*self.transcripts(model, dataset, beam_size))}

    def transcripts(
        self, model: nn.Module, dataset: SequencePairs, beam_size: int
    ) -> tuple[list[list[str]], list[list[list[str]]]]:
        """Each item's best decoded target symbols, and its references as symbols, in the dataset's order."""
        target = self.target_vocab
        hypotheses = [target.decode(h[0].tokens) for h in self.decode(model, dataset.sources, beam_size)]
        references = [[target.decode(r) for r in refs] for refs in dataset.references]
        return hypotheses, references

    def decode(
        self, model: nn.Module, sources: list[list[int]], beam_size: int, nbest: int = 1
    ) -> list[list[Hypothesis]]:
        """Hypotheses for each source (id sequences), decoded in batches of similar length, in input order."""
        model.eval()
        order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
        results: list[list[Hypothesis]] = [[] for _ in sources]
        size = self.cfg.eval.batch_size
        vocab = self.target_vocab
        with torch.no_grad():
            for start in range(0, len(order), size):
                chunk = order[start : start + size]
                src = pad_sequences([sources[i] for i in chunk], vocab.pad).to(self.device)
                lengths = torch.tensor([len(sources[i]) for i in chunk], device=self.device)
                memory = model.encode(src, lengths)
                max_len = 2 * int(lengths.max()) + 10
                found = search(
                    model,
                    memory,
                    batch_size=len(chunk),
                    bos=vocab.bos,
                    eos=vocab.eos,
                    beam_size=beam_size,
                    max_len=max_len,
                    length_penalty_alpha=self.cfg.eval.length_penalty,
                    nbest=nbest,
                )
                for i, hypotheses in zip(chunk, found):
                    results[i] = hypotheses
        return results

    # --- figures ------------------------------------------------------------------------------------------------
    def figure_samples(self, dataset: SequencePairs, count: int = 6) -> list[int]:
        """Which items of a split to draw: evenly spaced, for a deterministic variety."""
        step = max(1, len(dataset) // count)
        return list(range(0, len(dataset), step))[:count]

    def figures(self, model: nn.Module, data: Splits, split: str, folder: Path) -> list[Path]:
        from nnzoo.viz.attention import plot_attention_maps

        dataset = data[split]
        picked = self.figure_samples(dataset)
        sources = [dataset.sources[i] for i in picked]
        best = [h[0] for h in self.decode(model, sources, self.cfg.eval.beam_size)]
        target_vocab = self.target_vocab
        lines = []
        for i, hypothesis in zip(picked, best):
            references = " | ".join(self.render(target_vocab.decode(r)) for r in dataset.references[i])
            lines.append(
                f"{dataset.keys[i]}\tpredicted: {self.render(target_vocab.decode(hypothesis.tokens))}"
                f"\treference: {references}"
            )
        folder.mkdir(parents=True, exist_ok=True)
        samples = folder / f"samples_{split}.txt"
        samples.write_text("\n".join(lines) + "\n")
        paths = [samples]
        maps = self.attention_maps(model, sources, [h.tokens for h in best])
        if maps is not None:
            paths.append(
                plot_attention_maps(
                    [(dataset.keys[i], *found) for i, found in zip(picked, maps)],
                    folder / f"attention_{split}.png",
                    title=f"{self.name}/{self.cfg.model.name}: where each output looks",
                )
            )
        return paths

    # --- attention -----------------------------------------------------------------------------------------------
    def attention_maps(
        self, model: nn.Module, sources: list[list[int]], outputs: list[list[int]]
    ) -> list[AttentionMap] | None:
        """Where the decoder looked while writing each output (target ids, without the end symbol) from its source
        (ids), or None for a model without attention (the context-vector model, an ensemble)."""
        source_vocab, target_vocab = self.source_vocab, self.target_vocab
        tgt_in = pad_sequences([[target_vocab.bos, *tokens] for tokens in outputs], target_vocab.pad).to(self.device)
        src = pad_sequences(sources, source_vocab.pad).to(self.device)
        lengths = torch.tensor([len(s) for s in sources], device=self.device)
        model.eval()
        with torch.no_grad():
            weights = model.attention_weights(src, lengths, tgt_in)
        if weights is None:
            return None
        maps = []
        for row, (source, tokens) in enumerate(zip(sources, outputs)):
            inputs, written = source_vocab.decode(source), [*target_vocab.decode(tokens), "</s>"]
            maps.append(AttentionMap(inputs, written, weights[row, : len(written), : len(inputs)].cpu()))
        return maps

    def attention(self, model: nn.Module, text: str, output: Transduction) -> AttentionMap | None:
        """Where the decoder looked while writing ``output`` (one of :meth:`predict`'s) for the input ``text``;
        None for a model without attention."""
        maps = self.attention_maps(model, [self.encode_input(text)], [self.target_vocab.encode(output.symbols)])
        return None if maps is None else maps[0]

    # --- prediction ---------------------------------------------------------------------------------------------
    def encode_input(self, text: str) -> list[int]:
        """A user's input as source ids, or a one-line error naming what is wrong."""
        symbols = self.source_symbols(text)
        if not symbols:
            raise UserError(f"{text!r} is empty after normalisation; give something to {self.name}")
        if len(symbols) > self.max_source_length:
            raise UserError(f"{text[:30]!r}… has {len(symbols)} symbols; at most {self.max_source_length} are accepted")
        try:
            return self.source_vocab.encode(symbols, strict=self.strict_input)
        except KeyError as error:
            unknown = sorted(set(error.args[0]))
            raise UserError(
                f"{text!r} contains {', '.join(map(repr, unknown))}, not in the training alphabet: "
                f"{' '.join(self.info['source_symbols'])}"
            ) from None

    def predict(
        self, model: nn.Module, inputs: list[str], *, beam_size: int | None = None, nbest: int = 1
    ) -> list[list[Transduction]]:
        """The ``nbest`` most probable outputs of each input, best first, by beam search of ``beam_size``
        (default: the run's ``eval.beam_size``; at least ``nbest``)."""
        beam = beam_size or self.cfg.eval.beam_size
        if nbest < 1 or beam < 1:
            raise UserError("nbest (--nbest) and beam_size (--beam) must be >= 1")
        found = self.decode(model, [self.encode_input(text) for text in inputs], max(beam, nbest), nbest=nbest)
        results = []
        for hypotheses in found:
            symbols = [self.target_vocab.decode(h.tokens) for h in hypotheses]
            results.append([Transduction(s, self.render(s), h.log_prob) for s, h in zip(symbols, hypotheses)])
        return results


class Transduction(NamedTuple):
    """One output of a sequence-to-sequence model: its symbols, the text they make (phonemes joined by spaces, a
    sentence), and log P(output, then the end symbol | input)."""

    symbols: list[str]
    text: str
    log_prob: float


class AttentionMap(NamedTuple):
    """Where each written symbol looked: ``weights[i, j]`` is the attention of output symbol i (the last is the end
    symbol ``</s>``) on input symbol j; each row sums to 1."""

    inputs: list[str]
    outputs: list[str]
    weights: Tensor  # (len(outputs), len(inputs))


def pairs_with_references(
    items: list[tuple[str, list[list[str]]]],
    source_symbols: Any,
    source_vocab: Vocabulary,
    target_vocab: Vocabulary,
    every_reference: bool,
) -> SequencePairs:
    """Pairs from (key, references) items. Training (``every_reference``) has one pair per reference; evaluation
    one pair per item (its first reference), with all references and the key kept for scoring and figures."""
    sources, targets, references, keys = [], [], [], []
    for key, refs in items:
        source = source_vocab.encode(source_symbols(key))
        encoded = [target_vocab.encode(r) for r in refs]
        for target in encoded if every_reference else encoded[:1]:
            sources.append(source)
            targets.append(target)
            references.append(encoded)
            keys.append(key)
    return SequencePairs(sources, targets, target_vocab.pad, target_vocab.bos, target_vocab.eos, references, keys)
