"""Figures of images: grids of images (samples, mistakes, filters) and a confusion matrix."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from nnzoo.viz.saving import save_figure


def plot_image_grid(
    images: Tensor,
    path: str | Path,
    *,
    columns: int | None = None,
    titles: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    title: str = "",
    value_range: tuple[float, float] = (0.0, 1.0),
    cmap: str = "gray",
    cell_inches: float = 1.0,
) -> Path:
    """Images (N, 1, H, W) or (N, H, W), row by row, ``columns`` per row (default: about square); pixel values are
    shown on ``value_range`` (signed data such as filters: ``cmap="RdBu_r"`` and a symmetric range)."""
    images = images.detach().float().cpu()
    if images.dim() == 4:
        images = images[:, 0]
    images = images.numpy()  # matplotlib wants arrays
    n = len(images)
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    extra = 0.25 if titles else 0.0
    fig = Figure(
        figsize=(cell_inches * columns + (0.8 if row_labels else 0), (cell_inches + extra) * rows + 0.4 * bool(title))
    )
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if i < n:
            ax.imshow(images[i], cmap=cmap, vmin=value_range[0], vmax=value_range[1], interpolation="nearest")
            if titles:
                ax.set_title(titles[i], fontsize=7)
    if row_labels:
        for ax, label in zip(axes[:, 0], row_labels):
            ax.set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.set_layout_engine("constrained")
    return save_figure(fig, path, dpi=100)


def plot_filters(weights: Tensor, path: str | Path, title: str, limit: int = 64) -> Path:
    """The first layer's filters (K, C, h, w), channel 0 of each, on a symmetric colour scale (red positive, blue
    negative), at most ``limit`` of them."""
    filters = weights.detach().float().cpu()[:limit, 0]
    bound = float(filters.abs().max()) or 1.0
    return plot_image_grid(filters, path, title=title, value_range=(-bound, bound), cmap="RdBu_r", cell_inches=0.8)


def confusion_matrix(predicted: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """Counts (num_classes, num_classes): row = true class, column = predicted class."""
    return torch.bincount(labels * num_classes + predicted, minlength=num_classes**2).view(num_classes, num_classes)


def plot_confusion_matrix(counts: Tensor, class_names: Sequence[str], path: str | Path, title: str) -> Path:
    """Each row normalised to the share of that true class (the diagonal is the per-class accuracy)."""
    shares = (counts.double() / counts.sum(1, keepdim=True).clamp(min=1)).numpy()
    k = len(class_names)
    fig = Figure(figsize=(1.0 + 0.62 * k, 0.8 + 0.55 * k), layout="constrained")
    ax = fig.subplots()
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                color = "white" if shares[i, j] > 0.6 else "black"
                ax.text(j, i, f"{shares[i, j]:.2f}".lstrip("0"), ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), class_names, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return save_figure(fig, path, dpi=110)


def plot_class_histogram(labels: dict[str, Tensor], class_names: Sequence[str], path: str | Path, title: str) -> Path:
    """The share of each class in every labelled set (e.g. generated against real images), as grouped bars."""
    k, sets = len(class_names), list(labels)
    fig = Figure(figsize=(1.2 + 0.6 * k, 3.6), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(sets)
    for i, name in enumerate(sets):
        shares = (torch.bincount(labels[name], minlength=k).double() / max(1, len(labels[name]))).numpy()
        ax.bar([c + (i - (len(sets) - 1) / 2) * width for c in range(k)], shares, width, label=name)
    ax.axhline(1 / k, color="gray", lw=0.8, ls="--", label="fair share 1/K")
    ax.set_xticks(range(k), class_names, rotation=30, ha="right", fontsize=8)
    ax.set(ylabel="share of images", title=title)
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=110)


def class_colour(index: int) -> tuple[float, float, float]:
    """Segmentation class ``index``'s colour (RGB in [0, 1]), the same in every figure and in the playground:
    matplotlib's tab20 colours for classes 1, 2, …; class 0, the background, has none of its own."""
    import matplotlib

    colors = matplotlib.colormaps["tab20"].colors
    return colors[(index - 1) % len(colors)]


def plot_segmentations(
    images: Tensor, masks: dict[str, Tensor], class_names: Sequence[str], path: str | Path, title: str
) -> Path:
    """Images (N, 1, H, W) in the first row, then one row per entry of ``masks`` (e.g. truth, prediction), each a
    class map (N, H, W) laid over its grey image in a colour per class (class 0, the background, stays clear);
    a legend names the classes that occur."""
    from matplotlib.patches import Patch

    images = images.detach().float().cpu()[:, 0].numpy()
    n, rows = len(images), 1 + len(masks)
    fig = Figure(figsize=(1.3 * n + 1.2, 1.3 * rows + 1.0), layout="constrained")
    axes = fig.subplots(rows, n, squeeze=False)
    shown: set[int] = set()
    for row, (label, classes) in enumerate([("image", None), *masks.items()]):
        axes[row, 0].set_ylabel(label, fontsize=8)
        for i, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            if classes is None:
                continue
            mask = classes[i].cpu().numpy()
            overlay = np.zeros((*mask.shape, 4))
            for c in np.unique(mask[mask > 0]):
                overlay[mask == c] = (*class_colour(c), 0.6)
                shown.add(int(c))
            ax.imshow(overlay, interpolation="nearest")
    handles = [Patch(color=class_colour(c), label=class_names[c]) for c in sorted(shown)]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(6, max(1, len(handles))), fontsize=7)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, dpi=100)
