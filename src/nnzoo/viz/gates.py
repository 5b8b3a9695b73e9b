"""What an LSTM's gates do over a sequence: input, forget and output gates and the memory cell, unit by step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from nnzoo.viz.saving import save_figure

PANELS = [("i", "input gate i"), ("f", "forget gate f"), ("o", "output gate o"), ("c", "memory cell c")]


def plot_gate_activity(
    activity: dict[str, Tensor],
    path: str | Path,
    tokens: list[str] | None = None,
    units: int = 32,
    title: str = "",
) -> Path:
    """Heatmaps (units × time steps) of ``LSTM.gate_activity(x)``: gates on [0, 1], the cell on a diverging scale.

    Args:
        activity: dict with "i", "f", "o", "c", each (T, H).
        tokens: labels of the T steps (characters, words); shown on the time axis when there are at most 60.
        units: show the first ``units`` hidden units.
    """
    missing = [key for key, _ in PANELS if key not in activity]
    if missing:
        raise ValueError(f"activity lacks {missing}; pass the dict returned by LSTM.gate_activity")
    steps = activity["i"].shape[0]
    if tokens is not None and len(tokens) != steps:
        raise ValueError(f"{len(tokens)} tokens for {steps} steps")
    shown = min(units, activity["i"].shape[1])
    width = min(16.0, max(6.0, 2.5 + 0.4 * steps))
    fig = Figure(figsize=(width, 1.8 + 0.1 * shown * len(PANELS)), layout="constrained")
    axes = fig.subplots(len(PANELS), 1, sharex=True)
    for ax, (key, label) in zip(axes, PANELS):
        values = activity[key][:, :shown].detach().cpu().float().numpy().T  # (units, T)
        if key == "c":
            limit = float(np.abs(values).max()) or 1.0
            image = ax.imshow(values, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        else:
            image = ax.imshow(values, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_ylabel(f"{label}\nunit")
        fig.colorbar(image, ax=ax, pad=0.01, fraction=0.03)
    if tokens is not None and steps <= 60:
        labels = [t if t.strip() else "␣" for t in tokens]
        rotate = max(len(label) for label in labels) > 2
        axes[-1].set_xticks(range(steps), labels, rotation=90 if rotate else 0, fontsize=8)
    axes[-1].set_xlabel("time step")
    if title:
        axes[0].set_title(title, fontsize=9)
    return save_figure(fig, path, dpi=110)
