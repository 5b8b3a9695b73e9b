"""Experiment ``feedback``: an Elman network feeds back its hidden state, a Jordan network its output.

Elman (1990): h_t = φ(W_ih x_t + W_hh h_{t-1} + b), y_t = W_hy h_t + b_y. Jordan (1986): h_t = φ(W_ih x_t + W_hh
y_{t-1} + b), y_t = tanh(W_hy h_t + b_y). A Jordan network remembers only what it has said; an Elman network
remembers whatever its hidden state holds. Two problems (:mod:`nnzoo.data.memory_tasks`) tell them apart:

* ``latch``: answer the sign of the last pulse. The answer is the whole state, so the output feedback is enough.
* ``echo``: answer the sign of ``delay`` steps before. The answer holds none of the signs still to come, so the
  memory must be hidden; a Jordan network cannot keep it in a scalar answer.

Each problem trains the Elman RNN and the Jordan network at the same hidden width, and the Jordan network again
at the width whose parameters come closest to the Elman network's (its recurrent weights are H × 1, not H × H),
all through :func:`nnzoo.train` with the ``memory`` experiment's training (Adam, lr 3·10⁻³, batches of 64,
clipped to norm 1, a fresh batch every step).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure

from nnzoo.experiments.base import Settings, log, register_experiment, train_run
from nnzoo.experiments.memory import BATCH, LR, TEST_SIZE, parameter_count, training
from nnzoo.viz.saving import save_figure


@dataclass
class FeedbackSettings(Settings):
    latch_lengths: list[int]  # T of the latch
    echo_delays: list[int]  # delays of the echo
    width: int  # hidden units of the Elman network and of the first Jordan network
    steps: int
    seeds: list[int]


BUDGETS = {
    "tiny": FeedbackSettings(latch_lengths=[20], echo_delays=[2], width=8, steps=40, seeds=[0]),
    "small": FeedbackSettings(latch_lengths=[100, 400], echo_delays=[2, 4, 8], width=16, steps=600, seeds=[0]),
    "full": FeedbackSettings(
        latch_lengths=[100, 400], echo_delays=[2, 4, 8, 16], width=16, steps=1500, seeds=[0, 1, 2]
    ),
}
PROBLEMS = {"latch": "latch_lengths", "echo": "echo_delays"}  # task -> the setting that lists its lengths


def networks(task: str, width: int) -> dict[str, tuple[str, int]]:
    """Label -> (model, width): Elman, Jordan at the same width, Jordan at (about) Elman's parameters (a width
    that is a multiple of 4, as the model config asks)."""
    elman = parameter_count(task, "rnn", width)
    matched = min(range(4, width * width + 1, 4), key=lambda w: abs(parameter_count(task, "jordan", w) - elman))
    return {"elman": ("rnn", width), "jordan": ("jordan", width), "jordan, same parameters": ("jordan", matched)}


@register_experiment(
    "feedback",
    "A Jordan network feeds back its output, an Elman network its hidden state: where the output is the state the "
    "problem needs, Jordan's feedback is enough; where the memory must be hidden, only the Elman network keeps it.",
    BUDGETS,
)
def run(settings: FeedbackSettings, folder: Path, device: torch.device, progress: bool) -> dict:
    scores: dict[str, dict[str, dict[str, list[dict]]]] = {}  # task -> label -> length -> per-seed metrics
    sizes: dict[str, dict[str, dict[str, int]]] = {}
    for task, lengths in PROBLEMS.items():
        nets = networks(task, settings.width)
        sizes[task] = {label: {"width": w, "parameters": parameter_count(task, m, w)} for label, (m, w) in nets.items()}
        scores[task] = {label: {} for label in nets}
        for length in getattr(settings, lengths):
            for label, (model, width) in nets.items():
                log.info("feedback: %s T=%d, %s of width %d", task, length, label, width)
                runs = []
                for seed in settings.seeds:
                    run_dir = folder / f"{task}-T{length}-{model}{width}-seed{seed}"
                    trained = train_run(run_dir, task, model, training(length, width, settings.steps), device, seed,
                                        progress)  # fmt: skip
                    runs.append(trained.evaluate("test"))
                scores[task][label][str(length)] = runs
    figure = plot_feedback(scores, settings, folder / "feedback.png")
    return {
        "constants": {"lr": LR, "batch": BATCH, "test_size": TEST_SIZE},
        "measurements": {"scores": scores, "models": sizes},
        "answer": answer(scores, sizes, settings),
        "figures": [figure],
    }


def mean_of(runs: list[dict], metric: str) -> float:
    return sum(r[metric] for r in runs) / len(runs)


def answer(scores: dict, sizes: dict, settings: FeedbackSettings) -> str:
    parts = []
    for task in PROBLEMS:
        rows = "; ".join(
            f"{label} ({sizes[task][label]['parameters']} parameters) "
            + ", ".join(f"T={t}: {mean_of(runs, 'accuracy'):.1%}" for t, runs in by_length.items())
            for label, by_length in scores[task].items()
        )
        parts.append(f"{task}, accuracy of the answers' signs (guessing 50 %): {rows}.")
    latch_longest, echo_shortest = str(max(settings.latch_lengths)), str(min(settings.echo_delays))
    jordan_latch = mean_of(scores["latch"]["jordan"][latch_longest], "accuracy")
    elman_latch = mean_of(scores["latch"]["elman"][latch_longest], "accuracy")
    jordan_echo = max(mean_of(scores["echo"][label][echo_shortest], "accuracy") for label in scores["echo"]
                      if label.startswith("jordan"))  # fmt: skip
    elman_echo = mean_of(scores["echo"]["elman"][echo_shortest], "accuracy")
    enough = jordan_latch >= elman_latch - 0.01
    hidden = elman_echo > jordan_echo + 0.2
    parts.append(
        f"On the latch (T={latch_longest}) the Jordan network's feedback is {'' if enough else 'not '}enough: "
        f"{jordan_latch:.1%} against Elman's {elman_latch:.1%}. On the echo (delay {echo_shortest}) Elman's hidden "
        f"state {'keeps' if hidden else 'does not clearly keep'} what the Jordan network's answer cannot: "
        f"{elman_echo:.1%} against at best {jordan_echo:.1%}."
        + (" Both as the notes say." if enough and hidden else " Not as the notes say.")
    )
    parts.append(f"{settings.steps} training steps, {len(settings.seeds)} seed(s).")
    return " ".join(parts)


def plot_feedback(scores: dict, settings: FeedbackSettings, path: Path) -> Path:
    """The latch by its MSE (every network's signs are right there; the error says how surely), the echo by the
    accuracy of its signs."""
    fig = Figure(figsize=(11, 4), layout="constrained")
    for ax, (task, lengths) in zip(fig.subplots(1, 2), PROBLEMS.items(), strict=True):
        xs = getattr(settings, lengths)
        metric = "loss" if task == "latch" else "accuracy"
        for label, by_length in scores[task].items():
            ax.plot(xs, [mean_of(by_length[str(t)], metric) for t in xs], marker="o", label=label)
        if task == "latch":
            ax.axhline(1.0, color="gray", ls=":", label="answering 0")
            ax.set(xlabel="T (steps)", ylabel="test MSE", title="latch: the answer is the state", yscale="log")
        else:
            ax.axhline(0.5, color="gray", ls=":", label="guessing")
            ax.set(xlabel="delay (steps)", ylabel="accuracy of the answers' signs", ylim=(0.4, 1.02),
                   title="echo: the memory must be hidden")  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(t) for t in xs])
        ax.minorticks_off()
        ax.legend(fontsize=8)
    fig.suptitle(f"Elman vs Jordan: {settings.steps} Adam steps, {len(settings.seeds)} seed(s)")
    return save_figure(fig, path, dpi=100)
