"""Experiments: the notes' claims, measured. ``nnzoo experiment NAME --budget small`` runs one.

Each experiment trains what it needs (small, seeded), writes its figures and ``results.json`` into its folder and
returns the numbers. ``results.json`` always has: ``experiment``, ``claim`` (the notes' words), ``budget``,
``settings`` (what the budget means), ``measurements`` (the numbers), ``answer`` (one paragraph computed from the
numbers, saying whether they agree with the claim), ``figures`` and ``seconds``.

Budgets: ``tiny`` (seconds, for the tests), ``small`` (minutes: every experiment together within 20 minutes on 2
CPU cores) and ``full`` (the settings of the docs' tables).
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nnzoo.errors import UserError

BUDGETS = ("tiny", "small", "full")


@dataclass(frozen=True)
class Experiment:
    name: str
    claim: str
    # (budget, output folder, device) -> {"settings": …, "measurements": …, "answer": str, "figures": [paths]}
    run: Callable[[str, Path, torch.device], dict[str, Any]]


EXPERIMENTS: dict[str, Experiment] = {}


def register_experiment(name: str, claim: str) -> Callable:
    def register(run: Callable) -> Callable:
        EXPERIMENTS[name] = Experiment(name, claim, run)
        return run

    return register


def run_experiment(name: str, budget: str, folder: Path, device: torch.device) -> dict[str, Any]:
    """Run one experiment into ``folder``; write and return its ``results.json`` content."""
    if name not in EXPERIMENTS:
        raise UserError(f"unknown experiment {name!r}; choose one of {', '.join(sorted(EXPERIMENTS))} or all")
    if budget not in BUDGETS:
        raise UserError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
    experiment = EXPERIMENTS[name]
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    torch.manual_seed(0)
    outcome = experiment.run(budget, folder, device)
    results = {
        "experiment": name,
        "claim": experiment.claim,
        "budget": budget,
        "settings": outcome["settings"],
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
