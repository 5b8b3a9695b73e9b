"""Experiment ``skips``: what the U-Net's skip connections are worth, on denoising and on segmentation.

The U-Net and the same network without skip connections (``model.skip=false``, a plain encoder–decoder), trained
with the project's trainer on the tasks ``denoise`` (Gaussian noise σ = 0.3, and salt-and-pepper noise at 20 %)
and ``segment`` (background + 10 garment classes), with the same data, seed and steps; scored on the test split.
The README's full-size ablations (``scripts/unet_results.sh``, ``scripts/segment_results.sh``) are the same
comparison with more data and epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from matplotlib.figure import Figure

from nnzoo.experiments.base import Settings, register_experiment, train_and_evaluate
from nnzoo.viz.saving import save_figure


@dataclass
class SkipsSettings(Settings):
    dataset: Literal["fashion-mnist", "mnist"]
    denoise_images: int  # training images of the denoising runs
    denoise_epochs: int
    segment_scenes: int  # training scenes of the segmentation runs (a quarter as many test scenes, at least 200)
    segment_epochs: int


BUDGETS = {  # the tiny budget denoises MNIST digits: 1,000 test images instead of Fashion-MNIST's 10,000
    "tiny": SkipsSettings("mnist", denoise_images=300, denoise_epochs=1, segment_scenes=200, segment_epochs=1),
    "small": SkipsSettings(
        "fashion-mnist", denoise_images=10000, denoise_epochs=2, segment_scenes=1500, segment_epochs=3
    ),
    "full": SkipsSettings(
        "fashion-mnist", denoise_images=54000, denoise_epochs=5, segment_scenes=8000, segment_epochs=6
    ),
}
SETUPS = {  # name -> task, the headline metric, and the data overrides
    "denoise, Gaussian σ = 0.3": ("denoise", "psnr", ["data.noise=gaussian", "data.level=0.3"]),
    "denoise, salt-and-pepper 20 %": ("denoise", "psnr", ["data.noise=salt-and-pepper", "data.level=0.2"]),
    "segment, 10 classes": ("segment", "mean_iou", []),
}


def overrides_for(task: str, settings: SkipsSettings) -> list[str]:
    if task == "denoise":
        images, epochs = settings.denoise_images, settings.denoise_epochs
        return [f"data.dataset={settings.dataset}", f"data.max_train={images}", f"train.epochs={epochs}"]
    scenes = settings.segment_scenes
    return [
        f"data.dataset={settings.dataset}",
        f"data.train_scenes={scenes}",
        f"data.val_scenes={max(100, scenes // 8)}",
        f"data.test_scenes={max(200, scenes // 4)}",
        f"train.epochs={settings.segment_epochs}",
    ]


@register_experiment(
    "skips",
    "The U-Net's skip connections hand the decoder the encoder's full-resolution maps, so it need not rebuild the "
    "details from the bottleneck.",
    BUDGETS,
)
def run(settings: SkipsSettings, folder: Path, device: torch.device, progress: bool) -> dict:
    results: dict[str, dict] = {}
    for name, (task, metric, data) in SETUPS.items():
        results[name] = {"metric": metric}
        for skip in (True, False):
            label = "unet" if skip else "autoencoder"
            run_dir = folder / f"{task}-{'-'.join(o.split('=')[1] for o in data) or 'semantic'}-{label}"
            overrides = [*data, *overrides_for(task, settings), f"model.skip={str(skip).lower()}"]
            outcome = train_and_evaluate(run_dir, task, "unet", overrides, device, progress=progress)
            results[name][label] = {"metrics": outcome["metrics"], "parameters": outcome["parameters"]}
    return {
        "measurements": results,
        "answer": answer(results),
        "figures": [plot_skips(results, folder / "skips.png")],
    }


def answer(results: dict) -> str:
    parts = []
    for name, r in results.items():
        metric = r["metric"]
        with_skips, without = r["unet"]["metrics"][metric], r["autoencoder"]["metrics"][metric]
        parts.append(
            f"{name}: {metric} {with_skips:.3f} with skips, {without:.3f} without ({with_skips - without:+.3f})"
        )
    helped = [
        name
        for name, r in results.items()
        if r["unet"]["metrics"][r["metric"]] > r["autoencoder"]["metrics"][r["metric"]]
    ]
    return "; ".join(parts) + f". The skips helped on {len(helped)} of {len(results)}."


def plot_skips(results: dict, path: Path) -> Path:
    fig = Figure(figsize=(4 * len(results), 3.4), layout="constrained")
    for ax, (name, r) in zip(fig.subplots(1, len(results)), results.items()):
        values = [r["unet"]["metrics"][r["metric"]], r["autoencoder"]["metrics"][r["metric"]]]
        bars = ax.bar(["U-Net", "no skips"], values, color=["C0", "C7"])
        ax.bar_label(bars, fmt="%.3f", fontsize=8)
        ax.set(title=name, ylabel=r["metric"])
        ax.set_ylim(min(values) * 0.9, max(values) * 1.05)
    return save_figure(fig, path, dpi=100)
