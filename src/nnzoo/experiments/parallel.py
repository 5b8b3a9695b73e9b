"""Experiment ``parallel``: recurrent layers compute step after step, self-attention all positions at once.

For each sequence length L, one forward and backward pass over a batch of sequences (B, L, d), timed (median of
``repeats`` after a warm-up) for our Elman RNN, LSTM and GRU layers and one Transformer encoder layer of about the
same number of parameters as the LSTM (d_model = d, 4 heads, feed-forward 2d: 4d² + 4d² weights against the
LSTM's 8d²). The recurrent layers need L dependent steps, each a small matrix product; the encoder layer needs a
few large products, but its attention costs O(L²). The crossover is the shortest length from which a recurrent
layer is faster than the encoder layer at every longer length tested.

A fifth line is the notes' other parallel model, the convolution: a temporal convolutional network
(:class:`~nnzoo.nn.tcn.TCN`, kernel 3) with just enough levels that its last output sees the whole sequence,
R = 1 + 4 (2^levels - 1) ≥ L. It computes every position at once like attention, but must stack a level for every
doubling of L: log₂ L levels, each O(L), where attention is one layer of O(L²).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch import nn

from nnzoo.experiments.base import Settings, log, register_experiment
from nnzoo.nn.recurrent import GRU, LSTM, RNN
from nnzoo.nn.tcn import TCN, levels_for
from nnzoo.nn.transformer import TransformerEncoderLayer
from nnzoo.viz.saving import save_figure


@dataclass
class ParallelSettings(Settings):
    lengths: list[int]  # sequence lengths L
    batch: int
    width: int  # d: input and hidden size
    repeats: int  # timed passes per measurement (after one warm-up)


BUDGETS = {
    "tiny": ParallelSettings(lengths=[8, 32], batch=4, width=16, repeats=2),
    "small": ParallelSettings(lengths=[16, 32, 64, 128, 256, 512, 1024, 2048], batch=8, width=64, repeats=5),
    "full": ParallelSettings(lengths=[16, 32, 64, 128, 256, 512, 1024, 2048, 4096], batch=32, width=128, repeats=10),
}
RECURRENT = ("rnn", "lstm", "gru")
TCN_KERNEL = 3


class Recurrent(nn.Module):
    """A recurrent layer that returns only its output sequence, like the encoder layer."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x)[0]


def models(width: int) -> dict[str, nn.Module]:
    return {
        "rnn": Recurrent(RNN(width, width, batch_first=True)),
        "lstm": Recurrent(LSTM(width, width, batch_first=True)),
        "gru": Recurrent(GRU(width, width, batch_first=True)),
        "transformer": TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True),
    }


def tcn(width: int, length: int) -> TCN:
    """The TCN whose receptive field first covers ``length`` steps."""
    return TCN(width, width, levels_for(length, TCN_KERNEL), TCN_KERNEL)


def forward_backward_ms(model: nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median wall time (ms) of model(x).sum().backward(), after one warm-up pass."""
    times = []
    for attempt in range(repeats + 1):
        if x.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        model(x).sum().backward()
        if x.is_cuda:
            torch.cuda.synchronize()
        if attempt:  # the first pass warms up caches and allocators
            times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


@register_experiment(
    "parallel",
    "RNNs compute step after step; self-attention processes the whole sequence at once, so it is faster on long "
    "sequences.",
    BUDGETS,
)
def run(settings: ParallelSettings, folder: Path, device: torch.device, progress: bool) -> dict:
    torch.manual_seed(0)
    layers = {name: model.to(device) for name, model in models(settings.width).items()}
    timings: dict[str, list[float]] = {name: [] for name in [*layers, "tcn"]}
    convolutions = []  # the TCN of each length: its levels, receptive field and parameters
    for length in settings.lengths:
        log.info("parallel: timing L = %d", length)
        x = torch.randn(settings.batch, length, settings.width, device=device)
        convolution = tcn(settings.width, length).to(device)
        for name, model in {**layers, "tcn": convolution}.items():
            timings[name].append(forward_backward_ms(model, x, settings.repeats))
        size = sum(p.numel() for p in convolution.parameters())
        convolutions.append({"levels": convolution.levels, "receptive_field": convolution.receptive_field,
                             "parameters": size})  # fmt: skip
    crossovers = {name: crossover(settings.lengths, timings[name], timings["transformer"]) for name in RECURRENT}
    parameters = {name: sum(p.numel() for p in model.parameters()) for name, model in layers.items()}
    figure = plot_timings(settings, timings, device, folder / "timings.png")
    return {
        "measurements": {"ms": timings, "parameters": parameters, "crossover": crossovers, "tcn": convolutions},
        "answer": answer(settings.lengths, timings, crossovers, device, convolutions),
        "figures": [figure],
    }


def crossover(lengths: list[int], recurrent_ms: list[float], attention_ms: list[float]) -> int | None:
    """The shortest length from which the recurrent layer is faster at every longer length tested, or None if
    the encoder layer is still faster at the longest."""
    found = None
    for length, recurrent, attention in zip(reversed(lengths), reversed(recurrent_ms), reversed(attention_ms)):
        if recurrent >= attention:
            break
        found = length
    return found


def answer(lengths: list[int], timings: dict, crossovers: dict, device: torch.device, convolutions: list) -> str:
    parts = []
    for name in RECURRENT:
        ratios = ", ".join(f"L={n}: {r / a:.1f}×" for n, r, a in zip(lengths, timings[name], timings["transformer"]))
        flip = (
            f"the {name} is faster from L = {crossovers[name]} on"
            if crossovers[name]
            else "the Transformer is faster at the longest length"
        )
        parts.append(f"{name} time / Transformer time: {ratios} ({flip})")
    ratios = ", ".join(
        f"L={n}: {c / a:.1f}× ({conv['levels']} levels)"
        for n, c, a, conv in zip(lengths, timings["tcn"], timings["transformer"], convolutions)
    )
    parts.append(f"tcn time / Transformer time, the TCN deep enough to see all L steps: {ratios}")
    return f"Forward + backward on {device}. " + "; ".join(parts) + "."


def plot_timings(settings: ParallelSettings, timings: dict, device: torch.device, path: Path) -> Path:
    fig = Figure(figsize=(6, 4.2), layout="constrained")
    ax = fig.subplots()
    for name, values in timings.items():
        ax.loglog(settings.lengths, values, marker="o", label=name)
    ax.set(
        xlabel="sequence length L",
        ylabel="forward + backward (ms)",
        title=f"batch {settings.batch}, width {settings.width}, on {device}",
    )
    ax.legend()
    return save_figure(fig, path, dpi=100)
