"""A run folder and how to open one again.

::

    runs/<task>/<name>/
        config.toml         the resolved configuration (every field, after recipe and --set)
        info.json           what the task's model is built from (sizes, vocabularies, scaler statistics)
        last.safetensors    everything needed to resume: model, optimizer, scheduler, RNG states, step
        best.safetensors    the model at its best validation score
        metrics.jsonl       training and validation records
        eval_<split>.json   written by `nnzoo eval`
        figures/*.png
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from nnzoo import registry
from nnzoo.config import RunConfig, dump_toml, load_toml
from nnzoo.errors import CheckpointError, UserError
from nnzoo.training.checkpoint import load_checkpoint
from nnzoo.training.runtime import resolve_device


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config = self.path / "config.toml"
        self.info = self.path / "info.json"
        self.last = self.path / "last.safetensors"
        self.best = self.path / "best.safetensors"
        self.metrics = self.path / "metrics.jsonl"
        self.figures = self.path / "figures"

    def __str__(self) -> str:
        return str(self.path)

    def is_run(self) -> bool:
        return self.config.is_file()

    def load_config(self, overrides: Sequence[str] = ()) -> RunConfig:
        """The run's configuration (with ``--set``-style ``overrides``), checked against the registered tasks and
        models."""
        if not self.is_run():
            raise UserError(f"{self.path} is not an nnzoo run folder (it has no config.toml)")
        return registry.resolve_config(load_toml(self.config), overrides=overrides)

    def save_config(self, cfg: RunConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        dump_toml(cfg, self.config)

    def load_info(self) -> dict[str, Any]:
        if not self.info.is_file():
            raise UserError(f"{self.path} has no info.json; was its training started?")
        return json.loads(self.info.read_text())

    def save_info(self, info: dict[str, Any]) -> None:
        self.info.write_text(json.dumps(info, indent=1))

    def check_info(self, info: dict[str, Any]) -> None:
        """Refuse data that differs from what the run was trained on (vocabularies, scalers, columns)."""
        if json.loads(json.dumps(info)) != self.load_info():
            raise UserError(
                f"the data of {self.path} changed since it was trained (its info.json no longer matches); "
                "train a new run on the new data"
            )

    def checkpoint(self, which: Literal["best", "last"] = "best") -> Path:
        """The best checkpoint (falling back to the last one), or the last one."""
        candidates = [self.best, self.last] if which == "best" else [self.last]
        for path in candidates:
            if path.is_file():
                return path
        raise CheckpointError(f"{self.path} has no {which} checkpoint yet; train it first")


@dataclass
class TrainedModel:
    """A trained run's configuration, task (with its ``info``, without data) and model (weights loaded, eval mode)."""

    run: RunDir
    config: RunConfig
    task: Any  # nnzoo.tasks.base.Task
    model: nn.Module


def load_trained(
    path: str | Path, *, device: str | torch.device = "auto", checkpoint: Literal["best", "last"] = "best"
) -> TrainedModel:
    """Rebuild a trained run's task and model from its folder: ``config.toml``, ``info.json`` and a checkpoint.
    The data is not loaded (``nnzoo.open`` loads it when an evaluation needs it)."""
    run = RunDir(path)
    cfg = run.load_config()
    dev = resolve_device(device)
    task = registry.get_task(cfg.task)(cfg, dev)
    task.run_dir = run.path
    task.info = run.load_info()
    model = task.build_model()
    load_checkpoint(run.checkpoint(checkpoint)).restore_model(model)
    model.to(dev).eval()
    return TrainedModel(run, cfg, task, model)


def default_run_dir(cfg: RunConfig) -> Path:
    return Path("runs") / cfg.task / f"{cfg.model.name}-{time.strftime('%Y%m%d-%H%M%S')}"


__all__ = ["RunDir", "TrainedModel", "default_run_dir", "load_trained"]
