r"""Experiment ``basics``: the notes' MLP basics, measured on one noisy curve.

The data: :math:`y = \sin 2x + 0.3x + \varepsilon`, :math:`x \sim U(-3, 3)`, :math:`\varepsilon \sim N(0, 0.15^2)`,
written as a CSV and learnt by the task ``regression`` (an MLP between standardising scalers), so every network
trains through :func:`nnzoo.train`. Four claims:

* **Without an activation, depth adds nothing.** MLPs with 1, 2, 4 … hidden layers and the identity activation
  reach the least-squares line's error, and each equals one linear map: the product of its weight matrices.
* **Sigmoid neurons approximate any curve** (universal approximation): one bends a line, a few make bumps, more
  follow the curve; the test error falls towards the noise (0.15) as the hidden layer widens.
* **Too small under-fits, too big over-fits.** On few training points, trained to the end with no early stopping,
  the training error keeps falling with size while the validation error turns up.
* **Dropout and weight decay are the cure**: the biggest of those networks, with each, against without.

Softmax and cross-entropy, written from their formulas, are compared with ``torch``'s on random scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

import nnzoo
from nnzoo.experiments.base import Settings, register_experiment, train_run
from nnzoo.viz.saving import save_figure

NOISE = 0.15


def curve(x: np.ndarray) -> np.ndarray:
    return np.sin(2 * x) + 0.3 * x


@dataclass
class BasicsSettings(Settings):
    points: int  # samples of the curve for the linear and sigmoid nets (70 % train, 15 % validation, 15 % test)
    steps: int  # training steps of every network
    depths: list[int]  # hidden layers (of 32 units) of the nets without an activation
    neurons: list[int]  # sigmoid units of the one-hidden-layer nets
    few_points: int  # training points of the size sweep (validation and test get twice as many each)
    sizes: list[int]  # hidden units (two ReLU layers) of the size sweep; the largest also gets the cures
    dropout: float
    weight_decay: float


BUDGETS = {
    "tiny": BasicsSettings(
        points=200, steps=60, depths=[1, 2], neurons=[1, 3], few_points=20, sizes=[2, 64], dropout=0.2,
        weight_decay=0.01,
    ),
    "small": BasicsSettings(
        points=1000, steps=3000, depths=[1, 2, 4], neurons=[1, 2, 3, 5, 10, 30], few_points=30,
        sizes=[1, 2, 4, 16, 64, 256], dropout=0.2, weight_decay=0.03,
    ),
    "full": BasicsSettings(
        points=2000, steps=8000, depths=[1, 2, 4, 8], neurons=[1, 2, 3, 5, 10, 30, 100], few_points=30,
        sizes=[1, 2, 4, 8, 16, 64, 256, 512], dropout=0.2, weight_decay=0.03,
    ),
}  # fmt: skip


def write_curve(path: Path, points: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, points)
    y = curve(x) + rng.normal(0, NOISE, points)
    path.write_text("x,y\n" + "".join(f"{a:.6f},{b:.6f}\n" for a, b in zip(x, y)))
    return path


def composite_linear_gap(run: nnzoo.Run) -> float:
    """The largest difference between an identity-activation MLP and the one affine map its layers multiply to,
    on 101 inputs across [-2, 2] (standardised units)."""
    core = run.model.core
    linears = [m for m in core.modules() if isinstance(m, nn.Linear)]
    weight, bias = torch.eye(linears[0].in_features), torch.zeros(linears[0].in_features)
    for layer in linears:
        weight, bias = layer.weight @ weight, layer.weight @ bias + layer.bias
    z = torch.linspace(-2, 2, 101)[:, None]
    with torch.no_grad():
        return float((core(z) - (z @ weight.T + bias)).abs().max())


def softmax_cross_entropy_gap(seed: int = 0) -> dict[str, float]:
    """Softmax and cross-entropy from their formulas against torch's, on 1,000 rows of 10 random scores."""
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(1000, 10, generator=generator, dtype=torch.float64) * 3
    labels = torch.randint(0, 10, (1000,), generator=generator)
    shifted = scores - scores.max(-1, keepdim=True).values  # the same softmax, and no overflow
    softmax = shifted.exp() / shifted.exp().sum(-1, keepdim=True)
    cross_entropy = -softmax[torch.arange(1000), labels].log().mean()
    return {
        "softmax_max_difference": float((softmax - torch.softmax(scores, -1)).abs().max()),
        "cross_entropy_difference": abs(float(cross_entropy - nn.functional.cross_entropy(scores, labels))),
    }


@register_experiment(
    "basics",
    "The MLP basics: without an activation any depth stays linear; sigmoid neurons approximate any curve; too "
    "small a network under-fits and too big a one over-fits; dropout and weight decay cure over-fitting.",
    BUDGETS,
)
def run(settings: BasicsSettings, folder: Path, device: torch.device, progress: bool) -> dict:
    many = write_curve(folder / "curve.csv", settings.points, seed=0)
    few = write_curve(folder / "few.csv", settings.few_points * 5, seed=1)
    common = [f"train.max_steps={settings.steps}", f"train.eval_every={max(1, settings.steps // 20)}",
              "train.batch_size=32", "data.target=y"]  # fmt: skip
    on_many = [*common, f"data.csv={many}"]
    on_few = [*common, f"data.csv={few}", "data.val_fraction=0.4", "data.test_fraction=0.4"]

    def fit(name: str, overrides: list[str], checkpoint: str = "best") -> nnzoo.Run:
        trained = train_run(folder / name, "regression", "mlp", overrides, device, progress=progress)  # at its best
        return trained if checkpoint == "best" else nnzoo.open(trained.path, checkpoint=checkpoint, device=str(device))

    linear, baseline, shown = {}, {}, {}  # shown: the fits drawn in the figure, by label
    for depth in settings.depths:
        net = fit(f"linear-depth{depth}", [*on_many, f"model.hidden={[32] * depth}", "model.activation=identity"])
        linear[depth] = {"rmse": net.evaluate("test")["rmse"], "gap_to_one_linear_map": composite_linear_gap(net)}
        baseline = net.baselines("test")["closed-form least squares"]
    shown[f"no activation, {depth} layer{'s' * (depth > 1)}"] = net  # the last depth: the deepest in every budget
    neurons = {}
    for n in settings.neurons:
        net = fit(f"sigmoid-{n}", [*on_many, f"model.hidden=[{n}]", "model.activation=sigmoid", "train.lr=0.03"])
        neurons[n] = net.evaluate("test")["rmse"]
        shown[f"{n} sigmoid neuron{'s' * (n > 1)}"] = net
    # The size sweep trains to the end and keeps the last weights: no early stopping, which is itself a cure.
    last = ["train.weight_decay=0", "train.lr=0.01", "train.schedule=constant"]
    sizes = {}
    for size in settings.sizes:
        net = fit(f"size-{size}", [*on_few, f"model.hidden=[{size}, {size}]", *last], checkpoint="last")
        sizes[size] = {split: net.evaluate(split)["rmse"] for split in ("train", "val", "test")}
    biggest = max(settings.sizes)
    hidden = f"model.hidden=[{biggest}, {biggest}]"
    cures = {"none": sizes[biggest]["test"]}
    cured = {
        f"dropout {settings.dropout}": [f"model.dropout={settings.dropout}"],
        f"weight decay {settings.weight_decay}": [f"train.weight_decay={settings.weight_decay}"],
    }
    for label, extra in cured.items():
        name = "cure-" + label.replace(" ", "-")
        cures[label] = fit(name, [*on_few, hidden, *last, *extra], checkpoint="last").evaluate("test")["rmse"]
    grid = np.linspace(-3, 3, 201)
    curves = {label: net.predict([[x] for x in grid]) for label, net in shown.items()}
    measurements = {
        "noise_rmse": NOISE,
        "least_squares_rmse": baseline["rmse"],
        "no_activation": {str(d): v for d, v in linear.items()},
        "sigmoid_neurons_rmse": {str(n): v for n, v in neurons.items()},
        "size_sweep_rmse": {str(s): v for s, v in sizes.items()},
        "cures_test_rmse": cures,
        **softmax_cross_entropy_gap(),
    }
    figure = plot_basics(measurements, grid, curves, folder / "basics.png")
    return {"measurements": measurements, "answer": answer(measurements), "figures": [figure],
            "constants": {"curve": "sin(2x) + 0.3x", "noise": NOISE}}  # fmt: skip


def answer(m: dict) -> str:
    linear = m["no_activation"]
    rmse = ", ".join(f"{d} layer{'s' * (d != '1')} {v['rmse']:.3f}" for d, v in linear.items())
    gap = max(v["gap_to_one_linear_map"] for v in linear.values())
    same = all(abs(v["rmse"] - m["least_squares_rmse"]) < 0.05 * m["least_squares_rmse"] for v in linear.values())
    neurons = m["sigmoid_neurons_rmse"]
    sizes = m["size_sweep_rmse"]
    best_val = min(sizes, key=lambda s: sizes[s]["val"])
    biggest = max(sizes, key=int)
    over = sizes[biggest]["val"] > sizes[best_val]["val"] and sizes[biggest]["train"] < sizes[best_val]["train"]
    cures = m["cures_test_rmse"]
    helped = [label for label in cures if label != "none" and cures[label] < cures["none"]]
    return (
        f"Without an activation the test RMSE is {rmse}, against the least-squares line's "
        f"{m['least_squares_rmse']:.3f}: {'depth adds nothing' if same else 'not all equal to the line'}, and each "
        f"net equals the product of its weight matrices to {gap:.1e}. Sigmoid neurons: "
        + ", ".join(f"{n} → {v:.3f}" for n, v in neurons.items())
        + f" (the noise is {m['noise_rmse']}). On few points, trained to the end: "
        + ", ".join(f"{s} units train {v['train']:.3f} / validation {v['val']:.3f}" for s, v in sizes.items())
        + f"; the best validation error is at {best_val} units"
        + (f", and {biggest} units over-fit (lower training, higher validation error)" if over else "")
        + f". The biggest net's test RMSE is {cures['none']:.3f} without a cure, "
        + ", ".join(f"{label} {v:.3f}" for label, v in cures.items() if label != "none")
        + f" with one: {'both help' if len(helped) == 2 else (helped[0] + ' helps' if helped else 'neither helps')}."
        + f" Softmax and cross-entropy from their formulas equal torch's to {m['softmax_max_difference']:.0e} and "
        f"{m['cross_entropy_difference']:.0e}."
    )


def plot_basics(m: dict, grid: np.ndarray, curves: dict, path: Path) -> Path:
    fig = Figure(figsize=(10, 7), layout="constrained")
    (fits, neurons), (sizes, cures) = fig.subplots(2, 2)
    fits.plot(grid, curve(grid), color="black", lw=2, label="the curve")
    for label, values in curves.items():
        fits.plot(grid, values, label=label)
    fits.set(title="fits on the test range", xlabel="x", ylabel="y")
    fits.legend(fontsize=7)
    counts = [int(n) for n in m["sigmoid_neurons_rmse"]]
    neurons.plot(counts, list(m["sigmoid_neurons_rmse"].values()), "o-", label="sigmoid neurons")
    neurons.axhline(m["least_squares_rmse"], color="gray", ls="--", label="least-squares line")
    neurons.axhline(m["noise_rmse"], color="gray", ls=":", label="the noise")
    neurons.set(xscale="log", xlabel="hidden sigmoid units", ylabel="test RMSE", title="universal approximation")
    neurons.legend(fontsize=7)
    units = [int(s) for s in m["size_sweep_rmse"]]
    for split, style in (("train", "o-"), ("val", "s-")):
        sizes.plot(units, [v[split] for v in m["size_sweep_rmse"].values()], style, label=split)
    sizes.set(xscale="log", xlabel="units per hidden layer", ylabel="RMSE", title="few points, trained to the end")
    sizes.legend(fontsize=7)
    labels = list(m["cures_test_rmse"])
    cures.bar(range(len(labels)), list(m["cures_test_rmse"].values()), color=["C3", "C0", "C2"][: len(labels)])
    cures.set_xticks(range(len(labels)), labels, fontsize=8)
    cures.set(ylabel="test RMSE", title=f"the biggest net ({max(units)} units)")
    return save_figure(fig, path, dpi=100)
