"""Experiments: the notes' claims, measured. ``nnzoo experiment NAME --budget small`` runs one.

Each experiment trains what it needs (small, seeded), writes its figures and ``results.json`` into its folder and
returns the numbers. ``results.json`` always has: ``experiment``, ``claim`` (the notes' words), ``budget``,
``settings`` (what the budget means), ``measurements`` (the numbers), ``answer`` (one paragraph computed from the
numbers, saying whether they agree with the claim), ``figures`` and ``seconds``.

Budgets: ``tiny`` (seconds, for the tests), ``small`` (minutes: every experiment together within 20 minutes on 2
CPU cores) and ``full`` (the settings of the docs' tables). Each experiment declares its ``SETTINGS`` per budget;
``--set key=value`` changes one of them for one run (``nnzoo experiment memory --budget full --set
lengths=[500]``), and ``results.json`` records the settings used.
"""

from __future__ import annotations

import copy
import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from nnzoo.config import parse_override
from nnzoo.errors import UserError

if TYPE_CHECKING:
    from nnzoo.tasks.base import Splits
    from nnzoo.training.run import OpenRun

BUDGETS = ("tiny", "small", "full")


@dataclass(frozen=True)
class Experiment:
    name: str
    claim: str
    settings: dict[str, dict[str, Any]]  # budget -> settings
    # (settings, output folder, device) -> {"settings": …, "measurements": …, "answer": str, "figures": [paths]}
    run: Callable[[dict[str, Any], Path, torch.device], dict[str, Any]]


EXPERIMENTS: dict[str, Experiment] = {}


def register_experiment(name: str, claim: str, settings: dict[str, dict[str, Any]]) -> Callable:
    if set(settings) != set(BUDGETS):
        raise ValueError(f"experiment {name!r} must give settings for the budgets {BUDGETS}, got {sorted(settings)}")

    def register(run: Callable) -> Callable:
        EXPERIMENTS[name] = Experiment(name, claim, settings, run)
        return run

    return register


def resolve_settings(experiment: Experiment, budget: str, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The budget's settings with ``key=value`` overrides. A new value must be of the kind it replaces: a number
    for a number, a non-empty list of the same kind of items for a list (``[lstm, gru]`` needs no quotes)."""
    if budget not in BUDGETS:
        raise UserError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
    settings = copy.deepcopy(experiment.settings[budget])
    for text in overrides:
        keys, value = parse_override(text)
        key = ".".join(keys)
        if key not in settings:
            raise UserError(
                f"experiment {experiment.name!r} has no setting {key!r}; its settings: {', '.join(settings)}"
            )
        new = value.parsed
        if isinstance(settings[key], list) and isinstance(new, str) and new.startswith("[") and new.endswith("]"):
            new = [word.strip() for word in new[1:-1].split(",")]  # a list of bare words, which TOML would not read
        if not _same_kind(new, settings[key]):
            raise UserError(f"--set {text!r}: {key} takes a value like {json.dumps(settings[key])}, got {value.text!r}")
        settings[key] = new
    return settings


def _same_kind(new: Any, old: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool) and isinstance(new, bool)
    if isinstance(old, float):
        return isinstance(new, (int, float))
    if isinstance(old, list):
        return isinstance(new, list) and len(new) > 0 and all(_same_kind(item, old[0]) for item in new)
    return type(new) is type(old)


def run_experiment(
    name: str, budget: str, folder: Path, device: torch.device, overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """Run one experiment into ``folder`` at ``budget`` (with ``--set``-style ``overrides`` of its settings); write
    and return its ``results.json`` content."""
    if name not in EXPERIMENTS:
        raise UserError(f"unknown experiment {name!r}; choose one of {', '.join(sorted(EXPERIMENTS))} or all")
    experiment = EXPERIMENTS[name]
    settings = resolve_settings(experiment, budget, overrides)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    torch.manual_seed(0)
    outcome = experiment.run(settings, folder, device)
    results = {
        "experiment": name,
        "claim": experiment.claim,
        "budget": budget,
        "settings": outcome["settings"],
        "overrides": list(overrides),
        "measurements": outcome["measurements"],
        "answer": outcome["answer"],
        "figures": [str(Path(path).name) for path in outcome["figures"]],
        "seconds": round(time.perf_counter() - start, 1),
        "machine": {"device": str(device), "threads": torch.get_num_threads(), "cpu": platform.processor()},
    }
    partial = folder / "results.json.partial"
    partial.write_text(json.dumps(results, indent=1))
    partial.replace(folder / "results.json")
    return results


def train_run(
    run_dir: Path, task: str, model: str, overrides: list[str], device: torch.device, seed: int = 0
) -> tuple[OpenRun, Splits]:
    """Train ``task``/``model`` with ``--set``-style ``overrides`` into ``run_dir`` with the project's trainer (a
    run with a checkpoint resumes, a finished one is not trained again); return the best checkpoint, opened, and
    the data."""
    from nnzoo import registry
    from nnzoo.config import resolve_run_config, to_dict
    from nnzoo.training import RunDir, Trainer, seed_everything
    from nnzoo.training.run import open_run

    run = RunDir(run_dir)
    resume = run.last.is_file()
    cfg = resolve_run_config({}, task=task, model=model, overrides=overrides, seed=seed)
    if resume and to_dict(run.load_config()) != to_dict(cfg):
        raise UserError(
            f"{run} holds a run with other settings (another --budget or --set?); remove it or choose another --out-dir"
        )
    runner = registry.get_task(task)(cfg, device)
    data = runner.build_data()
    run.save_config(cfg)
    run.save_info(runner.info)
    seed_everything(cfg.seed)
    Trainer(runner, runner.build_model(), data, run, quiet=True).fit(resume=resume)
    return open_run(run.path, device=str(device), with_data=False), data


def train_and_evaluate(
    run_dir: Path,
    task: str,
    model: str,
    overrides: list[str],
    device: torch.device,
    seed: int = 0,
    split: str = "test",
    baselines: bool = False,
) -> dict[str, Any]:
    """:func:`train_run`, then the best checkpoint's ``metrics`` on ``split``, the model's ``parameters`` and, if
    asked, the task's ``baselines`` there."""
    from nnzoo.training.trainer import evaluate

    best, data = train_run(run_dir, task, model, overrides, device, seed)
    return {
        "metrics": evaluate(best.task, best.model, data[split]),
        "baselines": best.task.baselines(data, split) if baselines else {},
        "parameters": sum(p.numel() for p in best.model.parameters()),
    }
