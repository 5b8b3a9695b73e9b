"""Experiment ``context``: the notes' "apple" claim — a word's meaning comes from its context.

"I like eating apple" and "Apple is a great company": the same word, two tags. The task ``tagging`` on the apple
corpus (1,500 sentences written for the project) trains a context-free model (an MLP that sees one word) and two
contextual ones (a BiLSTM and a Transformer encoder) with the same data and seed, and scores them on the word
apple in the test sentences (``ambiguous_accuracy``); the most frequent tag is the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure

from nnzoo.experiments.base import Settings, register_experiment, train_and_evaluate


@dataclass
class ContextSettings(Settings):
    epochs: int  # of the apple corpus's training sentences
    seeds: list[int]


BUDGETS = {
    "tiny": ContextSettings(epochs=1, seeds=[0]),
    "small": ContextSettings(epochs=20, seeds=[0, 1, 2]),
    "full": ContextSettings(epochs=30, seeds=[0, 1, 2, 3, 4]),
}
MODELS = {"mlp": "context-free MLP", "bilstm": "BiLSTM", "transformer": "Transformer encoder"}
APPLE = [
    "data.corpus=apple",
    "data.word_dropout=0.05",
    "train.batch_size=16",
    "train.lr=0.01",
    "train.monitor=ambiguous_accuracy",
]


@register_experiment(
    "context",
    'Context decides what a word means: "I like eating apple" against "Apple is a great company".',
    BUDGETS,
)
def run(settings: ContextSettings, folder: Path, device: torch.device, progress: bool) -> dict:
    results: dict[str, list[float]] = {}
    baseline = None
    for model in MODELS:
        results[model] = []
        for seed in settings.seeds:
            overrides = [*APPLE, f"train.epochs={settings.epochs}"]
            run_dir = folder / f"{model}-seed{seed}"
            outcome = train_and_evaluate(
                run_dir, "tagging", model, overrides, device, seed, baselines=True, progress=progress
            )
            results[model].append(outcome["metrics"]["ambiguous_accuracy"])
            baseline = outcome["baselines"]["most frequent tag of the word"]["ambiguous_accuracy"]
    return {
        "measurements": {"apple_accuracy": results, "most_frequent_tag_accuracy": baseline},
        "answer": answer(results, baseline),
        "figures": [plot_context(results, baseline, folder / "context.png")],
    }


def answer(results: dict, baseline: float) -> str:
    means = {model: sum(values) / len(values) for model, values in results.items()}
    parts = [f"{MODELS[m]} {means[m]:.3f} (seeds: {', '.join(f'{v:.3f}' for v in results[m])})" for m in results]
    contextual = max(means["bilstm"], means["transformer"])
    verdict = "as the notes say" if contextual > means["mlp"] + 0.1 else "which does not show the notes' claim"
    gain = contextual - means["mlp"]
    return (
        f"Accuracy on the word apple in the test sentences: {'; '.join(parts)}; its most frequent training tag "
        f"{baseline:.3f}. Context adds {gain:+.3f} to the context-free model, {verdict}."
    )


def plot_context(results: dict, baseline: float, path: Path) -> Path:
    fig = Figure(figsize=(5, 3.4), layout="constrained")
    ax = fig.subplots()
    for i, values in enumerate(results.values()):
        ax.scatter([i] * len(values), values, color=f"C{i}")
        ax.hlines(sum(values) / len(values), i - 0.25, i + 0.25, color=f"C{i}")
    ax.axhline(baseline, color="gray", ls=":", label="most frequent tag")
    ax.legend(fontsize=8)
    ax.set_xticks(range(len(results)), [MODELS[m] for m in results])
    ax.set(ylabel="accuracy on 'apple' (test)", ylim=(0, 1.02), title="the apple corpus: one dot per seed")
    fig.savefig(path, dpi=100)
    return path
