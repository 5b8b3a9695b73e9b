"""Experiment ``degradation``: deeper plain networks train worse; residual ones of the same depth do not.

He et al. (2016) found that stacking more 3 × 3 convolutions onto a trained-well network made its *training*
error higher, not lower, though the deeper network could copy the shallower one with identity layers: the
optimiser does not find that solution. Their residual blocks, y = relu(F(x) + x), make the identity the easy
default, and the deeper residual network trains better than the shallower one.

The experiment trains the ``classify-images`` model ``resnet`` at depths 6n + 2 with and without its shortcuts
(``model.shortcut``), with the paper's optimiser (SGD, momentum 0.9, weight decay 10⁻⁴, learning rate 0.1 on a
cosine schedule), the same data, seed and number of steps, and reports each one's training loss and accuracy
(the degradation is a training-set effect, measured in eval mode on the whole training split) and its test
accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from matplotlib.figure import Figure

from nnzoo.experiments.base import Settings, register_experiment, train_run
from nnzoo.viz.saving import save_figure


@dataclass
class DegradationSettings(Settings):
    dataset: Literal["fashion-mnist", "mnist", "digits"]
    max_train: int  # training images (0: all)
    epochs: int
    blocks_per_stage: list[int]  # n of each depth 6n + 2, shallow to deep


BUDGETS = {
    "tiny": DegradationSettings("digits", max_train=0, epochs=2, blocks_per_stage=[1, 2]),
    "small": DegradationSettings("fashion-mnist", max_train=3000, epochs=3, blocks_per_stage=[1, 3, 7]),
    "full": DegradationSettings("fashion-mnist", max_train=0, epochs=4, blocks_per_stage=[1, 3, 9]),
}
OPTIMISER = ["train.optimizer=sgd", "train.lr=0.1", "train.momentum=0.9", "train.weight_decay=1e-4",
             "train.schedule=cosine", "train.warmup_steps=0"]  # fmt: skip


@register_experiment(
    "degradation",
    "A deeper plain network trains worse than a shallower one (higher training error); with the residual shortcut "
    "y = F(x) + x the deeper network trains as well or better.",
    BUDGETS,
)
def run(settings: DegradationSettings, folder: Path, device: torch.device, progress: bool) -> dict:
    data = [f"data.dataset={settings.dataset}", f"data.max_train={settings.max_train}"]
    results: dict[str, dict[str, dict]] = {"plain": {}, "residual": {}}
    curves: dict[str, dict[int, list[tuple[int, float]]]] = {"plain": {}, "residual": {}}
    for kind in results:
        for n in settings.blocks_per_stage:
            depth = 6 * n + 2
            overrides = [*data, *OPTIMISER, f"train.epochs={settings.epochs}", f"model.blocks_per_stage={n}",
                         f"model.shortcut={str(kind == 'residual').lower()}"]  # fmt: skip
            trained = train_run(folder / f"{kind}-{depth}", "classify-images", "resnet", overrides, device, 0, progress)
            train, test = trained.evaluate("train"), trained.evaluate("test")
            results[kind][str(depth)] = {
                "train_loss": train["loss"],
                "train_accuracy": train["accuracy"],
                "test_accuracy": test["accuracy"],
                "parameters": sum(p.numel() for p in trained.model.parameters()),
                "steps": trained.state["step"],
            }
            curves[kind][depth] = [(r["step"], r["loss"]) for r in trained.metrics if r["split"] == "train"]
    return {
        "measurements": results,
        "answer": answer(results),
        "figures": [plot_degradation(curves, results, folder / "degradation.png")],
        "constants": {"optimiser": OPTIMISER},
    }


def answer(results: dict[str, dict[str, dict]]) -> str:
    """Whether the deepest net of each kind trains worse than the best shallower one, by how much, and which of the
    two deepest trains better."""
    depths = list(results["plain"])
    deep = depths[-1]
    loss = {kind: {d: r[d]["train_loss"] for d in depths} for kind, r in results.items()}
    table = "; ".join(f"depth {d}: plain {loss['plain'][d]:.3f}, residual {loss['residual'][d]:.3f}" for d in depths)
    ratio = {kind: loss[kind][deep] / min(loss[kind][d] for d in depths[:-1]) for kind in loss}
    agrees = ratio["plain"] > 1 and ratio["residual"] < ratio["plain"] and loss["residual"][deep] < loss["plain"][deep]
    test = ", ".join(f"{kind} {results[kind][deep]['test_accuracy']:.3f}" for kind in ("plain", "residual"))
    caveat = "" if ratio["residual"] <= 1 else ", though the deepest residual net does not beat every shallower one"
    return (
        f"Training loss at the end (eval mode, whole training split): {table}. The deepest plain net's loss is "
        f"{ratio['plain']:.2f}× the best shallower plain net's, the deepest residual net's {ratio['residual']:.2f}× "
        f"the best shallower residual net's; at depth {deep} the residual net's loss is "
        f"{loss['residual'][deep] / loss['plain'][deep]:.2f}× the plain net's: "
        f"{'as the claim says' if agrees else 'not what the claim says'}{caveat}. "
        f"Test accuracy at depth {deep}: {test}."
    )


def plot_degradation(curves: dict, results: dict, path: Path) -> Path:
    """Training loss against steps, plain nets beside residual ones (He et al.'s figure 1 and 6), one line a depth."""
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True)
    for ax, kind in ((left, "plain"), (right, "residual")):
        for i, (depth, points) in enumerate(sorted(curves[kind].items())):
            steps, losses = zip(*points) if points else ((), ())
            final = results[kind][str(depth)]["train_loss"]
            ax.plot(steps, losses, color=f"C{i}", label=f"{kind}-{depth} (final {final:.3f})")
        ax.set(title=f"{kind} networks", xlabel="step", yscale="log")
        ax.legend(fontsize=8)
    left.set_ylabel("training loss (per batch)")
    return save_figure(fig, path, dpi=100)
