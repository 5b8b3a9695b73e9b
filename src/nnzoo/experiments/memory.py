"""Experiment ``memory``: an RNN forgets the start of a long sequence; an LSTM chooses what to keep.

Two problems that need a memory over T steps, the tasks ``adding`` (remember two marked values; the constant
predictor's MSE 0.167 is the floor) and ``copy-memory`` (repeat 10 symbols after T blanks; guessing scores 1/8).
For each T, four models with about the same number of parameters (``PARAMETERS``; each width is the one whose
model comes closest) and the same training through :func:`nnzoo.train` (Adam, lr 3·10⁻³, batches of 64,
gradients clipped to norm 1, ``steps`` steps, a fresh batch every step): the Elman RNN (tanh), the LSTM, the GRU,
and a pre-norm Transformer encoder of 2 layers with sinusoidal positions, which reaches every position in one step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from matplotlib.figure import Figure

from nnzoo import registry
from nnzoo.data.memory_tasks import ADDING_CONSTANT_MSE, COPY_SYMBOLS
from nnzoo.experiments.base import Settings, log, register_experiment, train_run
from nnzoo.viz.saving import save_figure

Model = Literal["rnn", "lstm", "gru", "transformer"]
Problem = Literal["adding", "copy"]
MODELS: list[Model] = ["rnn", "lstm", "gru", "transformer"]
PROBLEMS: dict[Problem, str] = {"adding": "adding", "copy": "copy-memory"}  # problem -> task


@dataclass
class MemorySettings(Settings):
    lengths: list[int]  # T
    steps: int  # training steps of each model, each on a fresh batch
    seeds: list[int]
    models: list[Model]
    problems: list[Problem]
    # The LSTM's gate biases (model.forget_bias, model.chrono of the memory tasks): 0 keeps PyTorch's initialisation.
    forget_bias: float = 0.0
    chrono: int = 0


BUDGETS = {
    "tiny": MemorySettings(lengths=[5, 10], steps=30, seeds=[0], models=MODELS, problems=list(PROBLEMS)),
    "small": MemorySettings(lengths=[10, 50], steps=1500, seeds=[0], models=MODELS, problems=list(PROBLEMS)),
    "full": MemorySettings(
        lengths=[10, 50, 100, 200, 500], steps=5000, seeds=[0, 1, 2], models=MODELS, problems=list(PROBLEMS)
    ),
}
PARAMETERS = 17_500  # about an LSTM of 64 units on the adding problem
LR, BATCH, TEST_SIZE, VAL_SIZE = 3e-3, 64, 1000, 500


def parameter_count(task: str, model: str, width: int) -> int:
    """Parameters of ``task``'s ``model`` at ``width``, built as the task builds it."""
    entry = registry.get_model(task, model)
    built = entry.build(entry.config(name=model, width=width), {"sequence_length": 64})
    return sum(p.numel() for p in built.parameters())


def matched_width(task: str, model: str) -> int:
    """The width (a multiple of 4, for the attention heads) whose model has the closest to PARAMETERS."""
    return min(range(8, 257, 4), key=lambda w: abs(parameter_count(task, model, w) - PARAMETERS))


def training(length: int, width: int, steps: int) -> list[str]:
    """The overrides of one training: fresh examples for every step, scored on TEST_SIZE fixed ones."""
    return [
        f"data.length={length}",
        f"data.train_examples={steps * BATCH}",
        f"data.val_examples={VAL_SIZE}",
        f"data.test_examples={TEST_SIZE}",
        f"model.width={width}",
        f"train.max_steps={steps}",
        f"train.batch_size={BATCH}",
        "train.optimizer=adam",
        f"train.lr={LR}",
        "train.grad_clip=1.0",
    ]


@register_experiment(
    "memory",
    "An RNN forgets the start of a long sentence; an LSTM chooses what to keep (input, forget and output gates).",
    BUDGETS,
)
def run(settings: MemorySettings, folder: Path, device: torch.device, progress: bool) -> dict:
    results = {problem: {kind: {} for kind in settings.models} for problem in settings.problems}
    parameters: dict[str, dict] = {problem: {} for problem in settings.problems}
    for problem in settings.problems:
        task = PROBLEMS[problem]
        for kind in settings.models:
            width = matched_width(task, kind)
            parameters[problem][kind] = {"width": width, "parameters": parameter_count(task, kind, width)}
            for length in settings.lengths:
                log.info("memory: %s, %s of width %d, T = %d", problem, kind, width, length)
                scores = []
                overrides, init = training(length, width, settings.steps), ""
                if kind == "lstm" and (settings.forget_bias or settings.chrono):
                    overrides += [f"model.forget_bias={settings.forget_bias}", f"model.chrono={settings.chrono}"]
                    init = f"-chrono{settings.chrono}" if settings.chrono else f"-fb{settings.forget_bias:g}"
                for seed in settings.seeds:
                    run_dir = folder / f"{problem}-T{length}-{kind}{init}-seed{seed}"
                    trained = train_run(run_dir, task, kind, overrides, device, seed, progress)
                    metrics = trained.evaluate("test")
                    scores.append(metrics["loss"] if problem == "adding" else metrics["accuracy"])
                results[problem][kind][str(length)] = scores
    figure = plot_memory(results, settings, folder / "memory.png")
    return {
        "constants": {"parameters_target": PARAMETERS, "lr": LR, "batch": BATCH, "test_size": TEST_SIZE},
        "measurements": {"scores": results, "models": parameters, "adding_constant_mse": ADDING_CONSTANT_MSE},
        "answer": answer(results, settings),
        "figures": [figure],
    }


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def answer(results: dict, settings: MemorySettings) -> str:
    lengths, models = settings.lengths, settings.models
    summaries = {  # problem -> (what is scored, number format)
        "adding": (f"Adding problem, test MSE (constant predictor {ADDING_CONSTANT_MSE:.3f})", ".4f"),
        "copy": ("Copy memory, accuracy on the recalled symbols (guessing 12.5 %)", ".1%"),
    }
    parts = []
    for problem in (p for p in PROBLEMS if p in results):
        scored, number = summaries[problem]
        scores = "; ".join(
            f"{kind} " + ", ".join(f"T={t}: {mean(results[problem][kind][str(t)]):{number}}" for t in lengths)
            for kind in models
        )
        parts.append(f"{scored}: {scores}.")
    if "adding" in results and {"rnn", "lstm"} <= set(models):
        longest = str(max(lengths))
        rnn, lstm = mean(results["adding"]["rnn"][longest]), mean(results["adding"]["lstm"][longest])
        parts.append(
            f"At T={longest} the LSTM ({lstm:.4f}) beats the RNN ({rnn:.4f}) on the adding problem, as the notes say."
            if lstm < rnn
            else f"At T={longest} the LSTM ({lstm:.4f}) does not beat the RNN ({rnn:.4f}) on the adding problem."
        )
    parts.append(f"{settings.steps} training steps, {len(settings.seeds)} seed(s).")
    return " ".join(parts)


def plot_memory(results: dict, settings: MemorySettings, path: Path) -> Path:
    fig = Figure(figsize=(5.5 * len(results), 4), layout="constrained")
    axes = dict(zip(results, fig.subplots(1, len(results), squeeze=False)[0], strict=True))
    lengths = settings.lengths
    for problem, ax in axes.items():
        for kind in settings.models:
            ax.plot(lengths, [mean(results[problem][kind][str(t)]) for t in lengths], marker="o", label=kind)
        if problem == "adding":
            ax.axhline(ADDING_CONSTANT_MSE, color="gray", ls=":", label="constant predictor")
            ax.set(xlabel="T (steps)", ylabel="test MSE", title="adding problem", yscale="log")
        else:
            ax.axhline(1 / COPY_SYMBOLS, color="gray", ls=":", label="guessing")
            ax.set(
                xlabel="delay T (steps)", ylabel="accuracy on the recalled symbols", title="copy memory", ylim=(0, 1.02)
            )
        ax.legend(fontsize=8)
    fig.suptitle(f"{settings.steps} Adam steps, {len(settings.seeds)} seed(s), ~{PARAMETERS:,} parameters each")
    return save_figure(fig, path, dpi=100)
