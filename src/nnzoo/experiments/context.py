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
from nnzoo.viz.saving import save_figure


@dataclass
class ContextSettings(Settings):
    epochs: int  # of the apple corpus's training sentences
    seeds: list[int]


BUDGETS = {
    "tiny": ContextSettings(epochs=1, seeds=[0]),
    "small": ContextSettings(epochs=20, seeds=[0, 1, 2]),
    "full": ContextSettings(epochs=30, seeds=[0, 1, 2, 3, 4]),
}
# name in the results -> (registered model, its overrides, label). "lstm" reads left to right only: it sees the
# words before apple, not those after (the notes' reason for the bidirectional RNN).
MODELS = {
    "mlp": ("mlp", [], "context-free MLP"),
    "lstm": ("bilstm", ["model.bidirectional=false"], "LSTM, left to right"),
    "bilstm": ("bilstm", [], "BiLSTM"),
    "transformer": ("transformer", [], "Transformer encoder"),
}
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
    for name, (model, extra, _) in MODELS.items():
        results[name] = []
        for seed in settings.seeds:
            overrides = [*APPLE, f"train.epochs={settings.epochs}", *extra]
            run_dir = folder / f"{name}-seed{seed}"
            outcome = train_and_evaluate(
                run_dir, "tagging", model, overrides, device, seed, baselines=True, progress=progress
            )
            results[name].append(outcome["metrics"]["ambiguous_accuracy"])
            baseline = outcome["baselines"]["most frequent tag of the word"]["ambiguous_accuracy"]
    return {
        "measurements": {"apple_accuracy": results, "most_frequent_tag_accuracy": baseline},
        "answer": answer(results, baseline),
        "figures": [plot_context(results, baseline, folder / "context.png")],
    }


def answer(results: dict, baseline: float) -> str:
    means = {model: sum(values) / len(values) for model, values in results.items()}
    parts = [f"{MODELS[m][2]} {means[m]:.3f} (seeds: {', '.join(f'{v:.3f}' for v in results[m])})" for m in results]
    contextual = max(means["bilstm"], means["transformer"])
    verdict = "as the notes say" if contextual > means["mlp"] + 0.1 else "which does not show the notes' claim"
    gain = contextual - means["mlp"]
    both_ways = means["bilstm"] - means["lstm"]
    return (
        f"Accuracy on the word apple in the test sentences: {'; '.join(parts)}; its most frequent training tag "
        f"{baseline:.3f}. Context adds {gain:+.3f} to the context-free model, {verdict}. Reading both ways adds "
        f"{both_ways:+.3f} to reading left to right."
    )


def plot_context(results: dict, baseline: float, path: Path) -> Path:
    fig = Figure(figsize=(5, 3.4), layout="constrained")
    ax = fig.subplots()
    for i, values in enumerate(results.values()):
        ax.scatter([i] * len(values), values, color=f"C{i}")
        ax.hlines(sum(values) / len(values), i - 0.25, i + 0.25, color=f"C{i}")
    ax.axhline(baseline, color="gray", ls=":", label="most frequent tag")
    ax.legend(fontsize=8)
    ax.set_xticks(range(len(results)), [MODELS[m][2] for m in results], fontsize=8)
    ax.set(ylabel="accuracy on 'apple' (test)", ylim=(0, 1.02), title="the apple corpus: one dot per seed")
    return save_figure(fig, path, dpi=100)
