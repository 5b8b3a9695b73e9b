"""Attention maps: which source positions each output position reads."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure
from torch import Tensor

from nnzoo.viz.saving import save_figure


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
    return save_figure(fig, path, dpi=110)


def plot_image_attention(
    rows: list[tuple[Tensor, list[str], Tensor]], path: str | Path, title: str = "", cell_inches: float = 1.1
) -> Path:
    """Where each written word looked in an image: one row per (image (H, W) in [0, 1], words, weights (words, h,
    w)); the image first, then per word its weights stretched to the image's size and laid over it."""
    if not rows:
        raise ValueError("no images to draw")
    columns = 1 + max(len(words) for _, words, _ in rows)
    fig = Figure(figsize=(cell_inches * columns, (cell_inches + 0.2) * len(rows) + 0.4 * bool(title)))
    axes = fig.subplots(len(rows), columns, squeeze=False)
    for ax_row, (image, words, weights) in zip(axes, rows):
        if weights.shape[0] != len(words):
            raise ValueError(f"weights for {weights.shape[0]} words, but {len(words)} words")
        pixels = image.detach().cpu().float().numpy()
        height, width = pixels.shape
        for ax in ax_row:
            ax.set_axis_off()
        ax_row[0].imshow(pixels, cmap="gray", vmin=0, vmax=1)
        for ax, word, cells in zip(ax_row[1:], words, weights.detach().cpu().float()):
            ax.imshow(pixels, cmap="gray", vmin=0, vmax=1)
            # extent stretches the (h, w) grid of cells over the whole image, each cell a block
            ax.imshow(cells.numpy(), cmap="magma", alpha=0.6, extent=(-0.5, width - 0.5, height - 0.5, -0.5),
                      vmin=0, vmax=float(cells.max()), interpolation="nearest")  # fmt: skip
            ax.set_title(word, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.set_layout_engine("constrained")
    return save_figure(fig, path, dpi=100)
