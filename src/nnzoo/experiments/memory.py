"""Experiment ``memory``: an RNN forgets the start of a long sequence; an LSTM chooses what to keep.

Two problems that need a memory over T steps (``nnzoo.data.memory_tasks``): the adding problem (remember two
marked values; the constant predictor's MSE 0.167 is the floor) and copy memory (repeat 10 symbols after T blanks;
guessing scores 1/8). For each T, four models with about the same number of parameters (``PARAMETERS``; each
width is the one whose model comes closest) and the same training (Adam, lr 3·10⁻³, batches of 64, gradients
clipped to norm 1, ``steps`` steps, fresh data every step): the Elman RNN (tanh), the LSTM, the GRU, and a
pre-norm Transformer encoder of 2 layers with sinusoidal positions, which reaches every position in one step.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo.data.memory_tasks import (
    ADDING_CONSTANT_MSE,
    COPY_SYMBOLS,
    COPY_TOKENS,
    IGNORE,
    adding_problem,
    copy_memory,
)
from nnzoo.errors import UserError
from nnzoo.experiments.base import register_experiment
from nnzoo.experiments.gradients import fit
from nnzoo.nn.recurrent import GRU, LSTM, RNN
from nnzoo.nn.transformer import SinusoidalPositionalEncoding, TransformerEncoder, TransformerEncoderLayer

MODELS = ["rnn", "lstm", "gru", "transformer"]
PROBLEMS = ["adding", "copy"]
SETTINGS = {
    "tiny": {"lengths": [5, 10], "steps": 30, "seeds": [0], "models": MODELS, "problems": PROBLEMS},
    "small": {"lengths": [10, 50], "steps": 1500, "seeds": [0], "models": MODELS, "problems": PROBLEMS},
    "full": {
        "lengths": [10, 50, 100, 200, 500],
        "steps": 5000,
        "seeds": [0, 1, 2],
        "models": MODELS,
        "problems": PROBLEMS,
    },
}
PARAMETERS = 17_500  # about an LSTM of 64 units on the adding problem
LR, BATCH, TEST_SIZE = 3e-3, 64, 1000


class SequenceModel(nn.Module):
    """A sequence core and a linear readout: the adding problem reads the last step (B, T, 2) -> (B,), copy memory
    reads every step (B, T) token ids -> (B, T, 8) logits."""

    def __init__(self, kind: str, problem: str, width: int, max_len: int):
        super().__init__()
        self.kind, self.problem = kind, problem
        inputs = 2 if problem == "adding" else COPY_TOKENS
        if kind == "transformer":
            self.embed = nn.Linear(inputs, width)  # a one-hot token times a matrix is an embedding
            self.positions = SinusoidalPositionalEncoding(width, max_len)
            layer = TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True, norm_first=True)
            self.core = TransformerEncoder(layer, 2, norm=nn.LayerNorm(width))
        else:
            self.core = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[kind](inputs, width, batch_first=True)
        self.readout = nn.Linear(width, 1 if problem == "adding" else COPY_SYMBOLS)

    def forward(self, x: Tensor) -> Tensor:
        if self.problem == "copy":
            x = F.one_hot(x, COPY_TOKENS).float()
        if self.kind == "transformer":
            states = self.core(self.positions(self.embed(x)))
        else:
            states, _ = self.core(x)
        if self.problem == "adding":
            return self.readout(states[:, -1]).squeeze(-1)
        return self.readout(states)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def matched_width(kind: str, problem: str, max_len: int) -> int:
    """The width (a multiple of 4, for the attention heads) whose model has the closest to PARAMETERS."""
    widths = range(8, 257, 4)
    return min(widths, key=lambda w: abs(parameter_count(SequenceModel(kind, problem, w, max_len)) - PARAMETERS))


def problem_loss(model: SequenceModel, batch: tuple[Tensor, Tensor]) -> Tensor:
    x, y = batch
    if model.problem == "adding":
        return F.mse_loss(model(x), y)
    return F.cross_entropy(model(x).flatten(0, 1), y.flatten(), ignore_index=IGNORE)


def draw(problem: str, batch: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    return adding_problem(batch, length, generator) if problem == "adding" else copy_memory(batch, length, generator)


def score(model: SequenceModel, test: tuple[Tensor, Tensor]) -> float:
    """Test MSE (adding) or the accuracy on the 10 recalled symbols (copy)."""
    x, y = test
    with torch.no_grad():
        if model.problem == "adding":
            return float(F.mse_loss(model(x), y))
        scored = y != IGNORE
        return float((model(x).argmax(-1)[scored] == y[scored]).double().mean())


def train_and_score(
    make_model, length: int, seed: int, settings: dict, test: tuple[Tensor, Tensor], device: torch.device
) -> float:
    """Train a fresh ``make_model()`` (initialised and fed from ``seed``) for ``settings["steps"]`` steps; return
    its test score."""
    torch.manual_seed(seed)
    model = make_model().to(device)
    generator = torch.Generator().manual_seed(seed)

    def batch_loss() -> Tensor:
        x, y = draw(model.problem, BATCH, length, generator)
        return problem_loss(model, (x.to(device), y.to(device)))

    fit(model, torch.optim.Adam(model.parameters(), lr=LR), batch_loss, settings["steps"], clip=1.0)
    return score(model, (test[0].to(device), test[1].to(device)))


@register_experiment(
    "memory",
    "An RNN forgets the start of a long sentence; an LSTM chooses what to keep (input, forget and output gates).",
    SETTINGS,
)
def run(settings: dict, folder: Path, device: torch.device) -> dict:
    for key, known in (("models", MODELS), ("problems", PROBLEMS)):
        if unknown := set(settings[key]) - set(known):
            raise UserError(f"unknown {key} {sorted(unknown)}; choose from {', '.join(known)}")
    results: dict[str, dict] = {problem: {kind: {} for kind in settings["models"]} for problem in settings["problems"]}
    parameters: dict[str, dict] = {problem: {} for problem in settings["problems"]}
    longest = max(settings["lengths"]) + 20
    for problem in settings["problems"]:
        for kind in settings["models"]:
            width = matched_width(kind, problem, longest)
            parameters[problem][kind] = {
                "width": width,
                "parameters": parameter_count(SequenceModel(kind, problem, width, longest)),
            }
            for length in settings["lengths"]:
                test = draw(problem, TEST_SIZE, length, torch.Generator().manual_seed(10_000 + length))
                make_model = partial(SequenceModel, kind, problem, width, longest)
                scores = [
                    train_and_score(make_model, length, seed, settings, test, device) for seed in settings["seeds"]
                ]
                results[problem][kind][str(length)] = scores
    figure = plot_memory(results, settings, folder / "memory.png")
    return {
        "settings": {**settings, "parameters_target": PARAMETERS, "lr": LR, "batch": BATCH, "test_size": TEST_SIZE},
        "measurements": {"scores": results, "models": parameters, "adding_constant_mse": ADDING_CONSTANT_MSE},
        "answer": answer(results, settings),
        "figures": [figure],
    }


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def answer(results: dict, settings: dict) -> str:
    lengths, models = settings["lengths"], settings["models"]
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
    parts.append(f"{settings['steps']} training steps, {len(settings['seeds'])} seed(s).")
    return " ".join(parts)


def plot_memory(results: dict, settings: dict, path: Path) -> Path:
    fig = Figure(figsize=(5.5 * len(results), 4), layout="constrained")
    axes = dict(zip(results, fig.subplots(1, len(results), squeeze=False)[0], strict=True))
    lengths = settings["lengths"]
    for problem, ax in axes.items():
        for kind in settings["models"]:
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
    fig.suptitle(f"{settings['steps']} Adam steps, {len(settings['seeds'])} seed(s), ~{PARAMETERS:,} parameters each")
    fig.savefig(path, dpi=100)
    return path
