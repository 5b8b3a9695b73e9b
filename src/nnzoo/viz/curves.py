"""Training curves from ``metrics.jsonl``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from nnzoo.viz.saving import save_figure

SKIP = {"step", "epoch", "split", "lr", "grad_norm", "elapsed_s"}


def plot_training_curves(records: list[dict[str, Any]], path: str | Path, max_panels: int = 4) -> Path:
    """Loss (training and validation) and each validation metric against the optimiser step."""
    train = [r for r in records if r["split"] == "train"]
    val = [r for r in records if r["split"] == "val"]
    metrics = [k for k in (val[0] if val else {}) if k not in SKIP and k != "loss"][: max_panels - 1]
    fig = Figure(figsize=(4.2 * (1 + len(metrics)), 3.4), layout="constrained")
    axes = fig.subplots(1, 1 + len(metrics), squeeze=False)[0]
    axes[0].plot([r["step"] for r in train], [r["loss"] for r in train], label="train", lw=1)
    if val and "loss" in val[0]:
        axes[0].plot([r["step"] for r in val], [r["loss"] for r in val], label="validation", lw=1.5, marker=".")
    axes[0].set(title="loss", xlabel="step")
    if train and min(r["loss"] for r in train) > 0:
        axes[0].set_yscale("log")
    axes[0].legend()
    for ax, key in zip(axes[1:], metrics):
        ax.plot([r["step"] for r in val], [r[key] for r in val], marker=".", lw=1.5, color="C1")
        ax.set(title=f"validation {key}", xlabel="step")
    for ax in axes:
        ax.grid(alpha=0.3)
    return save_figure(fig, path, dpi=110)
