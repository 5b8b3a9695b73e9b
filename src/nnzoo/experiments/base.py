"""Experiments: the notes' claims, measured. ``nnzoo experiment NAME --budget small`` runs one.

Each experiment trains what it needs (small, seeded), writes its figures and ``results.json`` into its folder and
returns the numbers. ``results.json`` always has: ``experiment``, ``claim`` (the notes' words), ``budget``,
``settings`` (what the budget means), ``measurements`` (the numbers), ``answer`` (one paragraph computed from the
numbers, saying whether they agree with the claim), ``figures`` and ``seconds``.

Budgets: ``tiny`` (seconds, for the tests), ``small`` (minutes: every experiment together within 20 minutes on 2
CPU cores) and ``full`` (the settings of the docs' tables). Each experiment's settings are a dataclass (its one
config system is the project's: typed, checked, TOML values), with one instance per budget; ``--set key=value``
changes a setting for one run (``nnzoo experiment memory --budget full --set lengths=[500]``), and
``results.json`` records the settings used. Every training goes through :func:`nnzoo.train`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

import nnzoo.tasks  # noqa: F401  (registers every task and model, which the experiments train)
from nnzoo.config import apply_overrides, from_dict, to_dict
from nnzoo.errors import ConfigError, UserError, require
from nnzoo.files import write_atomic

if TYPE_CHECKING:
    from nnzoo.api import Run

BUDGETS = ("tiny", "small", "full")
log = logging.getLogger("nnzoo")


@dataclass
class Settings:
    """Base of every experiment's settings: a list setting needs at least one item."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            require(not isinstance(value, list) or len(value) > 0, f"{field.name} needs at least one item")


@dataclass(frozen=True)
class Experiment:
    name: str
    claim: str
    budgets: Mapping[str, Settings]  # budget -> settings
    # (settings, output folder, device, progress bars?) -> {"measurements": …, "answer": str, "figures": [paths]}
    # and, optionally, "constants": what the experiment fixes besides its settings (recorded with them)
    run: Callable[[Any, Path, torch.device, bool], dict[str, Any]]


EXPERIMENTS: dict[str, Experiment] = {}


def register_experiment(name: str, claim: str, budgets: Mapping[str, Settings]) -> Callable:
    if set(budgets) != set(BUDGETS) or len({type(s) for s in budgets.values()}) != 1:
        raise ValueError(f"experiment {name!r} must give one settings class's instance for each of {BUDGETS}")

    def register(run: Callable) -> Callable:
        EXPERIMENTS[name] = Experiment(name, claim, dict(budgets), run)
        return run

    return register


def resolve_settings(experiment: Experiment, budget: str, overrides: Sequence[str] = ()) -> Settings:
    """The budget's settings with ``key=value`` overrides, each checked against its field's type (``[lstm, gru]``
    needs no quotes)."""
    if budget not in BUDGETS:
        raise UserError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
    settings = experiment.budgets[budget]
    try:
        return from_dict(type(settings), apply_overrides(to_dict(settings), overrides))
    except ConfigError as error:
        raise ConfigError(f"experiment {experiment.name!r}: {error}") from None


def run_experiment(
    name: str,
    budget: str,
    folder: Path,
    device: torch.device,
    overrides: Sequence[str] = (),
    progress: bool = True,
) -> dict[str, Any]:
    """Run one experiment into ``folder`` at ``budget`` (with ``--set``-style ``overrides`` of its settings); write
    and return its ``results.json`` content. ``progress`` shows a progress bar for each training; what is being
    trained is logged (the ``nnzoo`` logger) either way."""
    if name not in EXPERIMENTS:
        raise UserError(f"unknown experiment {name!r}; choose one of {', '.join(sorted(EXPERIMENTS))} or all")
    experiment = EXPERIMENTS[name]
    settings = resolve_settings(experiment, budget, overrides)
    folder.mkdir(parents=True, exist_ok=True)
    log.info("%s (%s budget): %s", name, budget, ", ".join(f"{k} {v}" for k, v in to_dict(settings).items()))
    start = time.perf_counter()
    torch.manual_seed(0)
    outcome = experiment.run(settings, folder, device, progress)
    results = {
        "experiment": name,
        "claim": experiment.claim,
        "budget": budget,
        "settings": {**to_dict(settings), **outcome.get("constants", {})},
        "overrides": list(overrides),
        "measurements": outcome["measurements"],
        "answer": outcome["answer"],
        "figures": [str(Path(path).name) for path in outcome["figures"]],
        "seconds": round(time.perf_counter() - start, 1),
        "machine": {"device": str(device), "threads": torch.get_num_threads(), "cpu": platform.processor()},
    }
    write_atomic(folder / "results.json", json.dumps(results, indent=1))
    return results


def train_run(
    run_dir: Path,
    task: str,
    model: str,
    overrides: Sequence[str],
    device: torch.device,
    seed: int = 0,
    progress: bool = False,
) -> Run:
    """Train ``task``/``model`` with ``--set``-style ``overrides`` into ``run_dir`` through :func:`nnzoo.train` (a
    run already there resumes, a finished one is not trained again); return it, opened at its best checkpoint."""
    import nnzoo
    from nnzoo.training.run import RunDir

    cfg = nnzoo.resolve_config(task, model=model, overrides=overrides, seed=seed, device=str(device))
    folder = RunDir(run_dir)
    log.info("training %s/%s (seed %d) in %s", task, model, seed, run_dir)
    if folder.is_run():
        if to_dict(folder.load_config()) != to_dict(cfg):
            raise UserError(
                f"{folder} holds a run with other settings (another --budget or --set?); remove it or choose "
                "another --run-dir"
            )
        return nnzoo.train(resume=run_dir, device=str(device), progress=progress, figures=False)
    return nnzoo.train(
        task,
        model=model,
        overrides=overrides,
        run_dir=run_dir,
        seed=seed,
        device=str(device),
        progress=progress,
        figures=False,
    )


def train_and_evaluate(
    run_dir: Path,
    task: str,
    model: str,
    overrides: Sequence[str],
    device: torch.device,
    seed: int = 0,
    split: str = "test",
    baselines: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """:func:`train_run`, then the best checkpoint's ``metrics`` on ``split``, the model's ``parameters`` and, if
    asked, the task's ``baselines`` there."""
    run = train_run(run_dir, task, model, overrides, device, seed, progress)
    return {
        "metrics": run.evaluate(split),
        "baselines": run.baselines(split) if baselines else {},
        "parameters": sum(p.numel() for p in run.model.parameters()),
    }
