"""Figures of seismic inversion: sections, velocity models and edges, on their physical axes."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from torch import Tensor

from nnzoo.viz.saving import save_figure


def plot_inversions(
    sections: Tensor,
    true_velocity: Tensor,
    predicted_velocity: Tensor,
    true_edges: Tensor,
    predicted_edges: Tensor,
    info: dict,
    path: str | Path,
    title: str,
    edges_label: str = "predicted edges",
) -> Path:
    """One row per example (N, T, X) / (N, Z, X): the section (grey, symmetric amplitude scale), the true and the
    predicted velocity (m/s, one colour scale), the true edges and the predicted edge probabilities."""
    n, (low, high) = len(sections), info["v_range"]
    depth = info["shape"][0] * info["dz"]
    width = info["shape"][1] * info["dx"]
    duration = sections.shape[1] * info["dt"]
    fig = Figure(figsize=(13, 2.6 * n + 0.6), layout="constrained")
    axes = fig.subplots(n, 5, squeeze=False)
    columns = ("seismic section", "true velocity", "predicted velocity", "true edges", edges_label)
    for i in range(n):
        bound = float(sections[i].abs().quantile(0.99))
        axes[i, 0].imshow(
            sections[i].numpy(), cmap="gray", vmin=-bound, vmax=bound, aspect="auto", extent=(0, width, duration, 0)
        )
        axes[i, 0].set_ylabel("two-way time (s)")
        for j, image in enumerate((true_velocity[i], predicted_velocity[i]), start=1):
            shown = axes[i, j].imshow(
                image.numpy(), cmap="viridis", vmin=low, vmax=high, aspect="auto", extent=(0, width, depth, 0)
            )
        for j, image in enumerate((true_edges[i], predicted_edges[i]), start=3):
            axes[i, j].imshow(image.numpy(), cmap="gray_r", vmin=0, vmax=1, aspect="auto", extent=(0, width, depth, 0))
        axes[i, 1].set_ylabel("depth (m)")
        if i == 0:
            for ax, name in zip(axes[i], columns):
                ax.set_title(name, fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("distance (m)")
    fig.colorbar(shown, ax=axes[:, 1:3], label="velocity (m/s)", shrink=0.8)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, dpi=90)
