"""Experiment ``bottleneck``: one context vector c cannot hold a long input; attention gives each step its own c.

The task ``g2p`` (the CMU Pronouncing Dictionary, letters in, phonemes out) with its three models:

- ``gru-seq2seq``: the decoder sees the spelling only through c = h_T, the encoder's final state;
- ``lstm-attention``: each output step t gets its own c_t = Σ_j α_tj h_j (Bahdanau attention);
- ``transformer``: every decoder layer attends to every encoder position.

The three have about the same number of parameters (``SIZES``) and the same training (data, seed, steps, batch,
learning rate). Their test words are grouped by spelling length (``LENGTH_BINS``) and scored per group, as in
Bahdanau et al. (2015, fig. 2), where BLEU against sentence length fell for the encoder–decoder without attention.
If the claim holds, the context-vector model's error grows with length faster than the attention models'.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from nnzoo import metrics
from nnzoo.experiments.base import Settings, register_experiment, train_run
from nnzoo.viz.saving import save_figure


@dataclass
class BottleneckSettings(Settings):
    max_words: int  # words of the dictionary to use (0: all)
    steps: int
    batch_size: int
    beam_size: int
    seeds: list[int]


BUDGETS = {
    "tiny": BottleneckSettings(max_words=3000, steps=40, batch_size=64, beam_size=1, seeds=[0]),
    "small": BottleneckSettings(max_words=0, steps=1500, batch_size=128, beam_size=1, seeds=[0]),
    "full": BottleneckSettings(max_words=0, steps=6000, batch_size=128, beam_size=5, seeds=[0, 1, 2]),
}
SIZES = {  # about 0.55 M parameters for each model
    "gru-seq2seq": ["model.embed_dim=64", "model.hidden_size=160", "model.num_layers=2", "model.dropout=0.1"],
    "lstm-attention": ["model.embed_dim=64", "model.hidden_size=128", "model.dropout=0.1"],
    "transformer": [
        "model.d_model=96",
        "model.nhead=4",
        "model.encoder_layers=2",
        "model.decoder_layers=2",
        "model.dim_feedforward=384",
        "model.dropout=0.1",
    ],
}
MODELS = {
    "gru-seq2seq": "GRU, context vector",
    "lstm-attention": "LSTM + attention",
    "transformer": "Transformer",
}
LENGTH_BINS = ((1, 5), (6, 7), (8, 9), (10, 11), (12, 64))  # letters per word, both ends included


def bin_label(low: int, high: int) -> str:
    return f"{low}–{high}" if high < 64 else f"{low}+"


@register_experiment(
    "bottleneck",
    "One context vector c cannot hold a long input; attention gives each output step its own c.",
    BUDGETS,
)
def run(settings: BottleneckSettings, folder: Path, device: torch.device, progress: bool) -> dict:
    steps = settings.steps
    common = [
        f"data.max_words={settings.max_words}",
        f"train.max_steps={steps}",
        f"train.batch_size={settings.batch_size}",
        f"train.eval_every={max(steps // 3, 1)}",
        "train.lr=2e-3",
        "train.schedule=cosine",
        "train.label_smoothing=0.1",
        f"eval.beam_size={settings.beam_size}",
    ]
    parameters, overall, by_length = {}, {}, {}
    for model, sizes in SIZES.items():
        warmup = [f"train.warmup_steps={steps // 10}"] if model == "transformer" else []
        overall[model], by_length[model] = [], []
        for seed in settings.seeds:
            run_dir = folder / f"{model}-seed{seed}"
            best = train_run(run_dir, "g2p", model, [*common, *sizes, *warmup], device, seed, progress)
            data = best.data
            test = data["test"]
            hypotheses, references = best.task.transcripts(best.model, test, settings.beam_size)
            parameters[model] = sum(p.numel() for p in best.model.parameters())
            overall[model].append(metrics.error_rates(hypotheses, references))
            by_length[model].append(scores_by_length(hypotheses, references, [len(s) for s in test.sources]))
    words = {bin_label(*b): count for b, count in zip(LENGTH_BINS, word_counts(data["test"].sources))}
    mean_test = {model: mean_over_seeds(runs) for model, runs in overall.items()}
    mean_by_length = {model: mean_over_seeds(runs) for model, runs in by_length.items()}
    return {
        "constants": {"length_bins": [bin_label(*b) for b in LENGTH_BINS], "test_words": words},
        "measurements": {
            "parameters": parameters,
            "test": mean_test,  # means over the seeds
            "by_length": mean_by_length,
            "per_seed": {"test": overall, "by_length": by_length},
        },
        "answer": answer(mean_by_length, mean_test),
        "figures": [plot_bottleneck(mean_by_length, words, folder / "bottleneck.png")],
    }


def mean_over_seeds(runs: list) -> Any:
    """The mean of equally nested dicts of numbers, one per seed: ``[{"6–7": {"per": 0.1}}, …]`` -> the same
    nesting with each number averaged."""
    first = runs[0]
    if isinstance(first, dict):
        return {key: mean_over_seeds([run[key] for run in runs]) for key in first}
    return sum(runs) / len(runs)


def word_counts(sources: list[list[int]]) -> list[int]:
    return [sum(low <= len(s) <= high for s in sources) for low, high in LENGTH_BINS]


def scores_by_length(hypotheses: list, references: list, lengths: list[int]) -> dict[str, dict[str, float]]:
    """PER and WER (``metrics.error_rates``) of the items in each of ``LENGTH_BINS``, keyed by the bin's label;
    an empty bin is left out."""
    scores = {}
    for low, high in LENGTH_BINS:
        chosen = [i for i, n in enumerate(lengths) if low <= n <= high]
        if chosen:
            scores[bin_label(low, high)] = metrics.error_rates(
                [hypotheses[i] for i in chosen], [references[i] for i in chosen]
            )
    return scores


def answer(by_length: dict, overall: dict) -> str:
    """How each model's PER grows from the shortest to the longest words, and whether the context vector's grows
    the most, as the claim predicts."""
    first, last = bin_label(*LENGTH_BINS[0]), bin_label(*LENGTH_BINS[-1])
    growth = {}
    parts = []
    for model, scores in by_length.items():
        short, long = scores[first]["per"], scores[last]["per"]
        growth[model] = long - short
        parts.append(
            f"{MODELS[model]} {100 * short:.1f} → {100 * long:.1f} ({100 * growth[model]:+.1f} points; "
            f"all words PER {100 * overall[model]['per']:.1f} %, WER {100 * overall[model]['wer']:.1f} %)"
        )
    context = growth["gru-seq2seq"]
    attentive = [growth["lstm-attention"], growth["transformer"]]
    if context > max(attentive):
        verdict = "The context vector's error grows the most with length, as the notes say."
    elif context > min(attentive):
        verdict = "The context vector's error grows more than one attention model's but not the other's."
    else:
        verdict = "The context vector's error does not grow faster than the attention models', against the notes."
    return f"Test PER % from words of {first} letters to words of {last} letters: {'; '.join(parts)}. {verdict}"


def plot_bottleneck(by_length: dict, words: dict[str, int], path: Path) -> Path:
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    axes = fig.subplots(1, 2)
    labels = [label for label, count in words.items() if count]
    for i, (model, scores) in enumerate(by_length.items()):
        for ax, key in zip(axes, ("per", "wer")):
            ax.plot(
                range(len(labels)),
                [100 * scores[label][key] for label in labels],
                "o-",
                color=f"C{i}",
                label=MODELS[model],
            )
    for ax, name in zip(axes, ("phoneme error rate %", "word error rate %")):
        ax.set_xticks(range(len(labels)), [f"{label}\n({words[label]})" for label in labels])
        ax.set(xlabel="letters in the word (test words)", ylabel=name, ylim=(0, None))
    axes[0].legend(fontsize=8)
    fig.suptitle("G2P error against input length")
    return save_figure(fig, path, dpi=100)
