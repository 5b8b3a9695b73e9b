r"""Experiment ``gradients``: do gradients vanish through long products, and which designs keep them alive?

**Through time.** A recurrent layer reads an adding-problem sequence of T steps and a linear readout of its last
state predicts the sum; L is the squared error. Backpropagation multiplies one Jacobian per step,

.. math::
    \frac{\partial L}{\partial h_t}
    = \frac{\partial L}{\partial h_T} \prod_{k=t+1}^{T} \frac{\partial h_k}{\partial h_{k-1}},

so ‖∂L/∂h_t‖ shrinks (or grows) geometrically with the distance T − t unless the product stays near 1, which the
LSTM's cell path (∂c_k/∂c_{k−1} = f_k, the forget gate) and the GRU's interpolation allow. We measure ‖∂L/∂h_t‖
for every t — running the layer one step at a time and keeping each h_t in the graph — for the Elman RNN with
tanh and with ReLU, the LSTM and the GRU (our layers, PyTorch's default initialisation), at initialisation and
after training each on the adding problem with Adam.

**Through depth.** A deep MLP (``mlp_depth`` hidden layers) classifies scikit-learn's 8 × 8 digits, once per
activation (sigmoid, ReLU, Leaky ReLU, PReLU, ELU) and initialisation: PyTorch's default (uniform, variance
1/(3 fan-in)) or a variance-preserving one (He for the ReLU family, Glorot for the sigmoid). We measure ‖∂L/∂W_l‖
of every layer at initialisation, then train each with plain SGD (momentum 0.9; no Adam, whose per-parameter
scaling would hide small gradients) and record the training loss and the test accuracy.

Every training goes through :func:`nnzoo.train`: the recurrent layers are the task ``adding``'s models, the deep
MLPs ``classify-images``' ``mlp`` on the digits (which standardises the pixels with the training set's statistics);
:func:`nnzoo.build` gives the same initial weights to measure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch import Tensor
from torch.nn import functional as F

import nnzoo
from nnzoo.data.memory_tasks import ADDING_CONSTANT_MSE, adding_problem
from nnzoo.experiments.base import Settings, log, register_experiment, train_run
from nnzoo.nn.sequence_models import SequenceModel
from nnzoo.viz.saving import save_figure


@dataclass
class GradientsSettings(Settings):
    length: int  # T of the adding problem
    hidden: int  # width of the recurrent layers
    batch: int
    train_steps: int  # Adam steps on the adding problem
    mlp_depth: int  # hidden layers of the MLP
    mlp_width: int
    mlp_steps: int  # SGD steps on the digits


BUDGETS = {
    "tiny": GradientsSettings(length=20, hidden=16, batch=32, train_steps=20, mlp_depth=6, mlp_width=32, mlp_steps=30),
    "small": GradientsSettings(
        length=50, hidden=64, batch=64, train_steps=1500, mlp_depth=10, mlp_width=64, mlp_steps=800
    ),
    "full": GradientsSettings(
        length=100, hidden=128, batch=128, train_steps=5000, mlp_depth=20, mlp_width=64, mlp_steps=3000
    ),
}
ADDING_LR = 3e-3
MLP_LR = 0.01  # 0.05 made the He-initialised PReLU and ELU networks diverge
MLP_BATCH = 64
INITS = ("pytorch", "scaled")  # model.init of the MLP
ACTIVATIONS = ("sigmoid", "relu", "leaky_relu", "prelu", "elu")
RECURRENT = {  # name -> the adding task's model and its settings
    "rnn-tanh": ("rnn", ["model.nonlinearity=tanh"]),
    "rnn-relu": ("rnn", ["model.nonlinearity=relu"]),
    "lstm": ("lstm", []),
    "gru": ("gru", []),
}


def state_gradient_norms(model: SequenceModel, x: Tensor, y: Tensor) -> Tensor:
    """‖∂L/∂h_t‖ for t = 1 … T (the mean over the batch of each example's norm), L the squared error."""
    state, hidden_states = None, []
    for t in range(x.shape[1]):
        _, state = model.core(x[:, t : t + 1], state)
        h = state[0] if isinstance(state, tuple) else state  # the LSTM's state is (h, c)
        h.retain_grad()
        hidden_states.append(h)
    # Each example's own squared error, summed: ∂L_i/∂h_t,i is then example i's gradient.
    loss = F.mse_loss(model.readout(hidden_states[-1][0]).squeeze(-1), y, reduction="sum")
    model.zero_grad()
    loss.backward()
    return torch.stack([h.grad[0].norm(dim=-1).mean() for h in hidden_states]).detach()


def layer_gradient_norms(model: torch.nn.Module, x: Tensor, y: Tensor) -> list[float]:
    """‖∂L/∂W_l‖ of every linear layer, input side first, L the mean cross-entropy."""
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    return [float(m.weight.grad.norm()) for m in model.modules() if isinstance(m, torch.nn.Linear)]


def training_curve(run: nnzoo.Run) -> list[float]:
    """The training loss, the mean of every ``log.every`` (10) steps."""
    return [r["loss"] for r in run.metrics if r["split"] == "train"]


def adding_overrides(settings: GradientsSettings, extra: list[str]) -> list[str]:
    steps = settings.train_steps
    return [
        f"data.length={settings.length}",
        f"data.train_examples={steps * settings.batch}",
        "data.val_examples=256",
        f"model.width={settings.hidden}",
        *extra,
        f"train.max_steps={steps}",
        f"train.batch_size={settings.batch}",
        f"train.lr={ADDING_LR}",
        "train.grad_clip=1.0",  # the ReLU RNN explodes without it
    ]


def mlp_overrides(settings: GradientsSettings, activation: str, init: str) -> list[str]:
    return [
        "data.dataset=digits",
        f"model.hidden=[{', '.join([str(settings.mlp_width)] * settings.mlp_depth)}]",
        f"model.activation={activation}",
        f"model.init={init}",
        "model.dropout=0",
        "train.optimizer=sgd",
        f"train.lr={MLP_LR}",
        "train.momentum=0.9",
        "train.weight_decay=0",
        "train.schedule=constant",
        "train.warmup_steps=0",
        f"train.batch_size={MLP_BATCH}",
        f"train.max_steps={settings.mlp_steps}",
        f"train.eval_every={settings.mlp_steps}",
    ]


@register_experiment(
    "gradients",
    "Gradients vanish or explode through long products: an RNN's gradient dies with the distance to the loss, "
    "the LSTM and GRU keep it; sigmoid saturates and starves the early layers of a deep network, ReLU-like "
    "activations do not.",
    BUDGETS,
)
def run(settings: GradientsSettings, folder: Path, device: torch.device, progress: bool) -> dict:
    probe = adding_problem(256, settings.length, torch.Generator().manual_seed(1))
    recurrent: dict[str, dict] = {}
    for kind, (model, extra) in RECURRENT.items():
        log.info("gradients: %s on the adding problem, T = %d", kind, settings.length)
        overrides = adding_overrides(settings, extra)
        start = nnzoo.build("adding", model=model, overrides=overrides, device="cpu")
        at_init = state_gradient_norms(start.model, *probe)
        trained = train_run(folder / f"adding-{kind}", "adding", model, overrides, device, 0, progress)
        after = state_gradient_norms(trained.model.cpu(), *probe)
        recurrent[kind] = {
            "grad_norm_init": at_init.tolist(),
            "grad_norm_trained": after.tolist(),
            "log10_first_over_last_init": log_ratio(at_init),
            "log10_first_over_last_trained": log_ratio(after),
            "training_loss": training_curve(trained),
            "test_mse": trained.evaluate("test")["loss"],
        }

    depth_results: dict[str, dict] = {}
    for init in INITS:
        for activation in ACTIVATIONS:
            log.info("gradients: a %d-layer %s MLP, %s initialisation", settings.mlp_depth, activation, init)
            overrides = mlp_overrides(settings, activation, init)
            start = nnzoo.build("classify-images", model="mlp", overrides=overrides, device="cpu")
            norms = layer_gradient_norms(start.model, start.data["train"].images, start.data["train"].labels)
            run_dir = folder / f"digits-{activation}-{init}"
            trained = train_run(run_dir, "classify-images", "mlp", overrides, device, 0, progress)
            depth_results[f"{activation}, {init} init"] = {
                "activation": activation,
                "init": init,
                "layer_grad_norms_init": norms,
                "log10_first_over_last_init": math.log10(norms[0] / norms[-1]),
                "training_loss": training_curve(trained),
                "test_accuracy": trained.evaluate("test")["accuracy"],
            }

    figures = [plot_through_time(recurrent, settings, folder / "through_time.png")]
    figures.append(plot_through_depth(depth_results, settings, folder / "through_depth.png"))
    return {
        "constants": {
            "adding_lr": ADDING_LR,
            "mlp_lr": MLP_LR,
            "mlp_batch": MLP_BATCH,
            "adding_constant_mse": ADDING_CONSTANT_MSE,
        },
        "measurements": {"through_time": recurrent, "through_depth": depth_results},
        "answer": answer(recurrent, depth_results, settings),
        "figures": figures,
    }


def log_ratio(norms: Tensor) -> float:
    """log₁₀ of ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖: how many orders of magnitude the gradient loses over the sequence."""
    return math.log10(max(float(norms[0]), 1e-45) / float(norms[-1]))


def answer(recurrent: dict, depth: dict, settings: GradientsSettings) -> str:
    t = settings.length
    through_time = "; ".join(
        f"{kind} {r['log10_first_over_last_init']:+.1f} at initialisation, {r['log10_first_over_last_trained']:+.1f} "
        f"trained (test MSE {r['test_mse']:.3f})"
        for kind, r in recurrent.items()
    )
    through_depth = "; ".join(
        f"{name} {r['log10_first_over_last_init']:+.1f} (test accuracy {r['test_accuracy']:.1%})"
        for name, r in depth.items()
    )
    # The claim is about what training can reach: compare the trained networks' gradient paths and errors.
    rnn, lstm = recurrent["rnn-tanh"], recurrent["lstm"]
    vanishing = rnn["log10_first_over_last_trained"] < lstm["log10_first_over_last_trained"]
    scaled = {r["activation"]: r["log10_first_over_last_init"] for r in depth.values() if r["init"] == "scaled"}
    sigmoid_worst = min(scaled, key=scaled.get) == "sigmoid"
    verdict = (
        "Both agree with the notes."
        if vanishing and sigmoid_worst
        else "At least one disagrees with the notes: see the numbers."
    )
    return (
        f"Orders of magnitude (log10) of the gradient at the first of {t} steps relative to the last: {through_time}. "
        f"The constant predictor's MSE is {ADDING_CONSTANT_MSE:.3f}. Orders of magnitude of the first layer's weight "
        f"gradient relative to the last in a {settings.mlp_depth}-layer MLP: {through_depth}. {verdict}"
    )


def plot_through_time(results: dict, settings: GradientsSettings, path: Path) -> Path:
    fig = Figure(figsize=(11, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    for index, (kind, r) in enumerate(results.items()):
        color = f"C{index}"
        distance = list(range(len(r["grad_norm_init"]) - 1, -1, -1))
        left.semilogy(distance, r["grad_norm_init"], color=color, label=f"{kind}, initial")
        left.semilogy(distance, r["grad_norm_trained"], color=color, ls="--", label=f"{kind}, trained")
        right.plot([10 * (i + 1) for i in range(len(r["training_loss"]))], r["training_loss"], color=color, label=kind)
    left.set(xlabel="distance to the loss, T − t (steps)", ylabel="‖∂L/∂h_t‖", title="gradient through time")
    left.legend(fontsize=7, ncol=2)
    right.axhline(ADDING_CONSTANT_MSE, color="gray", ls=":", label="constant predictor")
    right.set(xlabel="training step", ylabel="training MSE", title=f"adding problem, T = {settings.length}")
    right.set_yscale("log")
    right.legend(fontsize=6, ncol=2)
    return save_figure(fig, path, dpi=100)


def plot_through_depth(results: dict, settings: GradientsSettings, path: Path) -> Path:
    fig = Figure(figsize=(11, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    for name, r in results.items():
        style = {"color": f"C{ACTIVATIONS.index(r['activation'])}", "ls": "-" if r["init"] == "scaled" else "--"}
        norms = r["layer_grad_norms_init"]
        left.semilogy(range(1, len(norms) + 1), norms, marker="o", ms=3, label=name, **style)
        steps = [10 * (i + 1) for i in range(len(r["training_loss"]))]
        right.plot(steps, r["training_loss"], label=f"{name} ({r['test_accuracy']:.0%} test)", **style)
    left.set(xlabel="layer (1 = input side)", ylabel="‖∂L/∂W_l‖ at initialisation", title="gradient through depth")
    left.legend(fontsize=6, ncol=2)
    right.set(
        xlabel="SGD step",
        ylabel="training cross-entropy",
        title=f"{settings.mlp_depth} hidden layers of {settings.mlp_width}, digits",
    )
    right.legend(fontsize=6, ncol=2)
    return save_figure(fig, path, dpi=100)
