"""Attention maps: which source positions each output position reads."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure
from torch import Tensor


def plot_attention_maps(
    maps: list[tuple[str, list[str], list[str], Tensor]], path: str | Path, title: str = "", columns: int = 3
) -> Path:
    """A grid of heatmaps, one per (label, source symbols, output symbols, weights (outputs, sources))."""
    if not maps:
        raise ValueError("no attention maps to draw")
    rows = math.ceil(len(maps) / columns)
    width = min(columns, len(maps))
    fig = Figure(figsize=(4.2 * width, 3.6 * rows), layout="constrained")
    axes = fig.subplots(rows, width, squeeze=False).ravel()
    for ax, (label, sources, outputs, weights) in zip(axes, maps):
        values = weights.detach().cpu().float().numpy()
        if values.shape != (len(outputs), len(sources)):
            raise ValueError(f"{label}: weights {values.shape} for {len(outputs)} outputs × {len(sources)} sources")
        ax.imshow(values, cmap="Blues", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        small = max(len(sources), len(outputs)) > 14
        ax.set_xticks(range(len(sources)), sources, fontsize=7 if small else 9, rotation=90 if small else 0)
        ax.set_yticks(range(len(outputs)), outputs, fontsize=7 if small else 9)
        ax.set_title(label, fontsize=10)
    for ax in axes[len(maps) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
