"""Training-step time of real task models under settings that should change speed and nothing else.

    python benchmarks/task_steps.py                                        # train.compile: false vs true
    python benchmarks/task_steps.py --compare train.recurrent_path=fast,native,auto --only charlm/lstm
    python benchmarks/task_steps.py --device cuda --steps 60

Each case trains one model for ``--steps`` optimiser steps through nnzoo's Trainer, once per value of the compared
setting, from the same seed, in ``--rounds`` rounds (each round runs every value once). The first ``--warmup``
steps (where ``torch.compile`` compiles, and where a recurrent kernel meets its first shapes) and the last one
(which evaluates) are left out. The table gives, per value, the median time of the other steps in its best round
(which keeps out most of a shared machine's noise), its ratio to the first value's, the time the first round
spent in its warm-up beyond the median step (compilation, with a cold cache), and the first round's final
training loss. Compiled kernels round differently and draw dropout masks from another generator, so the losses of
compiled runs differ from eager ones; recurrent paths differ by rounding only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

import nnzoo.tasks  # noqa: F401 - registers the tasks
from nnzoo.registry import get_task, resolve_config
from nnzoo.training.run import RunDir
from nnzoo.training.runtime import seed_everything
from nnzoo.training.trainer import Trainer

CASES = {  # task/model: overrides that make a quick, representative run
    "regression/mlp": [],
    "classify-images/cnn": ["data.max_train=4000"],
    "charlm/transformer": [],
    "charlm/lstm": [],
    "charlm/gru": [],
    "classify-text/lstm": [],
    "g2p/transformer": [],
    "g2p/lstm-attention": [],
    "g2p/gru-seq2seq": [],
}


def step_times(case: str, setting: str, steps: int, device: str) -> tuple[list[float], float]:
    """Seconds per optimiser step of one run (the last, evaluating step left out), and its final training loss."""
    task_name, model = case.split("/")
    overrides = [*CASES[case], f"train.max_steps={steps}", "log.every=1", setting]  # one evaluation, at the end
    cfg = resolve_config({}, task=task_name, model=model, overrides=overrides, device=device)
    task = get_task(task_name)(cfg, torch.device(device))
    data = task.build_data()
    seed_everything(cfg.seed)  # as nnzoo.train does: every value starts from the same weights
    stamps = [time.perf_counter()]

    def stamp(trainer: Trainer) -> None:
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as folder:
        run = RunDir(Path(folder) / "run")
        Trainer(task, task.build_model(), data, run, quiet=True, callbacks=[stamp]).fit()
        records = [json.loads(line) for line in run.metrics.read_text().splitlines()]
    loss = next(r["loss"] for r in reversed(records) if r["split"] == "train")
    return [b - a for a, b in itertools.pairwise(stamps[:-1])], loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", default="train.compile=false,true", help="KEY=VALUE1,VALUE2,...")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", nargs="*", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    key, _, values = args.compare.partition("=")
    values = values.split(",")
    print(f"device {args.device}, {torch.get_num_threads()} threads, torch {torch.__version__}; {args.steps} steps, "
          f"medians of steps {args.warmup + 1}-{args.steps - 1}; {key} = {' vs '.join(values)}\n")  # fmt: skip
    print("| task/model | " + " | ".join(f"{v} ms/step" for v in values) + " | "
          + " | ".join(f"{v} / {values[0]}" for v in values[1:]) + " | warm-up s | final loss |")  # fmt: skip
    print("|---|" + "---:|" * (2 * len(values) + 1))
    for case in args.only:
        runs = {value: [] for value in values}
        for _ in range(args.rounds):
            for value in values:
                runs[value].append(step_times(case, f"{key}={value}", args.steps, args.device))
        medians, warmups, losses = [], [], []
        for value in values:
            median = min(statistics.median(times[args.warmup :]) for times, _ in runs[value])
            first_times, first_loss = runs[value][0]  # the first round's warm-up: compiled with a cold cache
            medians.append(median)
            warmups.append(f"{sum(first_times[: args.warmup]) - args.warmup * median:.0f}")
            losses.append(f"{first_loss:.4f}")
        ratios = [f"**{m / medians[0]:.2f}**" for m in medians[1:]]
        print(f"| {case} | " + " | ".join(f"{1e3 * m:.1f}" for m in medians) + " | " + " | ".join(ratios)
              + f" | {' / '.join(warmups)} | {' / '.join(losses)} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
