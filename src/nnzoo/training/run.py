"""A run folder and how to open one again.

::

    runs/<task>/<name>/
        config.toml         the resolved configuration (every field, after recipe and --set)
        info.json           what the task's model is built from (sizes, vocabularies, scaler statistics)
        run.json            the run's id (written once, at creation; every checkpoint records it)
        last.safetensors    everything needed to resume: model, optimizer, scheduler, RNG states, step
        best.safetensors    the model at its best validation score
        snapshots/step-*.safetensors   the model at each of the newest train.keep_evals evaluations
        metrics.jsonl       training and validation records
        eval_<split>.json   written by `nnzoo eval`
        figures/*.png
        .lock, .lock.owner  held by the process that trains the run (an OS lock: it dies with the process)
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from nnzoo import pretrained, registry
from nnzoo.config import RunConfig, dump_toml, load_toml, to_dict
from nnzoo.errors import CheckpointError, UserError
from nnzoo.files import TEMPORARY_GLOB, remove_temporaries, write_atomic
from nnzoo.training.checkpoint import Checkpoint, load_checkpoint
from nnzoo.training.runtime import resolve_device

LOCK_FILES = (".lock", ".lock.owner")


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config = self.path / "config.toml"
        self.info = self.path / "info.json"
        self.last = self.path / "last.safetensors"
        self.best = self.path / "best.safetensors"
        self.snapshots = self.path / "snapshots"
        self.metrics = self.path / "metrics.jsonl"
        self.figures = self.path / "figures"
        self.identity_file = self.path / "run.json"

    def __str__(self) -> str:
        return str(self.path)

    def is_run(self) -> bool:
        return self.config.is_file()

    def is_empty(self) -> bool:
        """No folder yet, or one holding only what a training writes before its ``config.toml`` (the lock,
        ``info.json``, ``run.json``, a temporary file of an atomic write): a run killed then had not started."""
        written_first = {*LOCK_FILES, self.info.name, self.identity_file.name}
        return not self.path.exists() or all(
            p.name in written_first or p.match(TEMPORARY_GLOB) for p in self.path.iterdir()
        )

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the run's exclusive lock: one training per folder. The lock is the operating system's (through
        ``filelock``), so a killed holder releases it; a second process gets one line naming the holder."""
        from filelock import FileLock, Timeout

        self.path.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.path / LOCK_FILES[0])
        owner = self.path / LOCK_FILES[1]
        try:
            lock.acquire(timeout=0)
        except Timeout:
            try:
                holder = owner.read_text().strip()
            except OSError:
                holder = "unknown"
            raise UserError(
                f"{self.path} is being trained by another process ({holder}); wait for it, or stop it and resume"
            ) from None
        try:
            write_atomic(owner, f"PID {os.getpid()} on {socket.gethostname()}\n")
            for folder in (self.path, self.snapshots):  # of saves killed mid-write; no one else writes here now
                remove_temporaries(folder)
            yield
        finally:
            lock.release()

    def create_identity(self) -> None:
        """Give a new run its id (``run.json``), recorded in every checkpoint it writes."""
        write_atomic(self.identity_file, json.dumps({"id": uuid.uuid4().hex, "created": time.strftime("%FT%T%z")}))

    def identity(self, cfg: RunConfig) -> dict[str, str]:
        """What a checkpoint of this run must record: the run id, task, model and a hash of the configuration that
        a resume cannot change (everything but ``train``, ``log`` and ``device``)."""
        try:
            run_id = json.loads(self.identity_file.read_text())["id"]
        except FileNotFoundError:
            raise UserError(f"{self.path} has no run.json (made by an older nnzoo?); train a new run") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UserError(f"{self.identity_file} is unreadable ({error}); train a new run") from None
        fixed = {k: v for k, v in to_dict(cfg).items() if k not in ("train", "log", "device")}
        for name, section in fixed.items():  # a key added since, at the value runs had before it: not hashed
            added = getattr(type(getattr(cfg, name)), "ADDED", {})
            if isinstance(section, dict) and added:
                fixed[name] = {k: v for k, v in section.items() if k not in added or v != added[k]}
        digest = hashlib.sha256(json.dumps(fixed, sort_keys=True).encode()).hexdigest()[:16]
        return {"id": str(run_id), "task": cfg.task, "model": cfg.model.name, "config": digest}

    def resume_checkpoint(self, cfg: RunConfig) -> Checkpoint | None:
        """The last checkpoint, checked to be this run's; None if training was killed before writing one."""
        if not self.last.is_file():
            return None
        checkpoint = load_checkpoint(self.last)
        checkpoint.check_identity(self.identity(cfg))
        return checkpoint

    def load_config(self, overrides: Sequence[str] = ()) -> RunConfig:
        """The run's configuration (with ``--set``-style ``overrides``), checked against the registered tasks and
        models."""
        if not self.is_run():
            if self.path.is_dir() and any(self.path.iterdir()) and self.is_empty():  # a training's first traces
                raise UserError(
                    f"{self.path} holds no run yet: its training was stopped before it wrote config.toml; "
                    f"start it again with nnzoo train … --run-dir {self.path}"
                )
            raise UserError(f"{self.path} is not an nnzoo run folder (it has no config.toml)")
        # A run saved before a key existed opens and trains on as it was trained.
        return registry.resolve_config(registry.with_added_keys(load_toml(self.config)), overrides=overrides)

    def save_config(self, cfg: RunConfig) -> None:
        dump_toml(cfg, self.config)

    def load_info(self) -> dict[str, Any]:
        if not self.info.is_file():
            raise UserError(f"{self.path} has no info.json; was its training started?")
        try:
            info = json.loads(self.info.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UserError(f"{self.info} is not valid JSON ({error}); it was damaged — train the run again") from None
        if not isinstance(info, dict):
            raise UserError(f"{self.info} holds {type(info).__name__}, not the JSON object nnzoo wrote")
        return info

    def save_info(self, info: dict[str, Any]) -> None:
        write_atomic(self.info, json.dumps(info, indent=1))

    def check_info(self, info: dict[str, Any]) -> None:
        """Refuse data that differs from what the run was trained on (vocabularies, scalers, columns)."""
        if json.loads(json.dumps(info)) != self.load_info():
            raise UserError(
                f"the data of {self.path} changed since it was trained (its info.json no longer matches); "
                "train a new run on the new data"
            )

    def checkpoint(self, which: Literal["best", "last"] = "best") -> Path:
        """The path of the best or the last checkpoint; a clear error if the run has none of that kind."""
        path = self.best if which == "best" else self.last
        if path.is_file():
            return path
        if which == "best" and self.last.is_file():
            raise CheckpointError(
                f"{self.path} has no best checkpoint (no validation score was finite yet); use --checkpoint last"
            )
        raise CheckpointError(f"{self.path} has no {which} checkpoint yet; train it first")

    def snapshot_paths(self) -> list[Path]:
        """The kept evaluations' checkpoints (``train.keep_evals``), oldest first; a clear error if there are none."""
        paths = sorted(self.snapshots.glob("step-*.safetensors"))
        if not paths:
            raise CheckpointError(
                f"{self.path} kept no snapshots to average; train it with train.keep_evals=N (N >= 1) to keep them"
            )
        return paths


@dataclass
class TrainedModel:
    """A trained run's configuration, task (with its ``info``, without data) and model (weights loaded, eval mode)."""

    run: RunDir
    config: RunConfig
    task: Any  # nnzoo.tasks.base.Task
    model: nn.Module


CheckpointName = Literal["best", "last", "average"]  # which of a run's checkpoints


def load_trained(
    path: str | Path,
    *,
    device: str | torch.device = "auto",
    checkpoint: CheckpointName = "best",
    overrides: Sequence[str] = (),
) -> TrainedModel:
    """Rebuild a trained run's task and model from its folder: ``config.toml``, ``info.json`` and a checkpoint
    (``average``: the mean of its kept snapshots). ``overrides`` may change how it is evaluated (``eval.*`` keys
    only, e.g. ``eval.beam_size=10``). The data is not loaded (``nnzoo.open`` loads it when an evaluation needs
    it)."""
    for override in overrides:
        if not override.startswith("eval."):
            raise UserError(f"a trained run's {override.split('=')[0]!r} cannot change; only eval.* keys can")
    run = RunDir(pretrained.locate(path))  # a run folder, or the name of a model that ships with nnzoo
    as_trained = run.load_config()
    identity = run.identity(as_trained) if run.identity_file.is_file() else None
    cfg = run.load_config(overrides) if overrides else as_trained
    dev = resolve_device(device)
    task = registry.get_task(cfg.task)(cfg, dev)
    task.run_dir = run.path
    task.info = run.load_info()
    model = task.build_model()

    def restore(file: Path) -> None:
        saved = load_checkpoint(file)
        if "run" in saved.meta and identity is not None:  # a run's own checkpoint must be of this run
            saved.check_identity(identity)
        saved.restore_model(model)

    if checkpoint == "average":
        states = []
        for file in run.snapshot_paths():
            restore(file)
            states.append({name: value.clone() for name, value in model.state_dict().items()})
        model.load_state_dict(average_weights(states))
    else:
        restore(run.checkpoint(checkpoint))
    model.to(dev).eval()
    return TrainedModel(run, cfg, task, model)


def average_weights(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    r"""Checkpoint averaging: :math:`\bar\theta = \frac{1}{N} \sum_{n=1}^{N} \theta_n`, each floating-point tensor
    averaged in float64 (then cast back); integer buffers (counters) are taken from the last state."""
    averaged = {}
    for name, last in states[-1].items():
        if last.is_floating_point():
            averaged[name] = (sum(state[name].double() for state in states) / len(states)).to(last.dtype)
        else:
            averaged[name] = last
    return averaged


def default_run_dir(cfg: RunConfig) -> Path:
    return Path("runs") / cfg.task / f"{cfg.model.name}-{time.strftime('%Y%m%d-%H%M%S')}"


__all__ = ["CheckpointName", "RunDir", "TrainedModel", "average_weights", "default_run_dir", "load_trained"]
