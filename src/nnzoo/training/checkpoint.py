"""The one checkpoint format: a single safetensors file, written atomically, loaded without executing code.

Layout of ``*.safetensors``::

    model.<name>             every entry of model.state_dict()
    optimizer.<i>.<key>      the tensors of optimizer.state_dict()["state"][i]
    rng.torch, rng.cuda.<d>  torch's CPU / CUDA generator states
    rng.numpy                NumPy's legacy MT19937 key
    rng.rank<r>.<key>        the same for rank r > 0 of a multi-process run (rank 0's are the ones above)
    task.<name>              state a task carries from one training batch to the next (Task.training_state)
    header metadata "nnzoo"  JSON: format tag, the run's identity (run id, task, model, hash of the fixed config),
                             training state (step, epoch, best metric …), the resolved config, optimizer param
                             groups and scalar state, scheduler state, Python/NumPy RNG scalars (those of rank r > 0
                             under "rng" → "ranks" → "<r>"), and a SHA-256 of all of the above and every tensor's
                             bytes, verified on load

safetensors stores only tensors and strings, so nothing in a run folder is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from safetensors import SafetensorError
from safetensors.torch import save_file

from nnzoo.errors import CheckpointError
from nnzoo.files import replacing

FORMAT = "nnzoo.checkpoint/2"
OLD_FORMATS = ("nnzoo.checkpoint/1",)  # readable for their weights; they carry no identity and no checksum

# One process's random generators: tensors (torch CPU, each CUDA device, NumPy's key) and JSON scalars.
RNGState = tuple[dict[str, torch.Tensor], dict[str, Any]]


def capture_rng() -> RNGState:
    """This process's Python, NumPy, torch CPU and CUDA generator states."""
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for d, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{d}"] = cuda_state
    kind, key, pos, has_gauss, cached = np.random.get_state()
    tensors["numpy"] = torch.from_numpy(key.astype(np.int64))
    return tensors, {"python": random.getstate(), "numpy": [kind, int(pos), int(has_gauss), float(cached)]}


def save_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    state: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    rng: bool | Sequence[RNGState] = False,
    identity: Mapping[str, str] | None = None,
    task_state: Mapping[str, torch.Tensor] | None = None,
) -> None:
    """Write a checkpoint to ``path`` atomically: a temporary file in the same folder, fsync, rename.

    ``rng``: True saves this process's random states; a list saves those of every rank, in rank order.
    ``identity``: the run's (:meth:`nnzoo.training.run.RunDir.identity`); a resume refuses a checkpoint of another.
    ``task_state``: what the task carries between training batches (saved as ``task.<name>``).
    """
    # Cloning breaks storage sharing (tied weights), which safetensors refuses to save.
    tensors = {f"model.{k}": v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    tensors.update({f"task.{k}": v.detach().cpu().contiguous().clone() for k, v in (task_state or {}).items()})
    meta: dict[str, Any] = {"format": FORMAT, "state": dict(state or {}), "config": dict(config or {})}
    if identity is not None:
        meta["run"] = dict(identity)
    if optimizer is not None:
        saved = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for index, entries in saved["state"].items():
            for key, value in entries.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
                else:
                    scalars.setdefault(str(index), {})[key] = value
            scalars.setdefault(str(index), {})
        meta["optimizer"] = {"param_groups": saved["param_groups"], "scalars": scalars}
    if scheduler is not None:
        meta["scheduler"] = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
    if rng:
        states = [capture_rng()] if rng is True else list(rng)
        for rank, (rank_tensors, scalars) in enumerate(states):
            prefix = "rng." if rank == 0 else f"rng.rank{rank}."
            tensors.update({prefix + k: v for k, v in rank_tensors.items()})
            if rank == 0:
                meta["rng"] = dict(scalars)
            else:
                meta["rng"].setdefault("ranks", {})[str(rank)] = scalars

    meta = json.loads(json.dumps(meta))  # as it will be read back (tuples become lists)
    meta["checksum"] = checksum(tensors, meta)
    with replacing(path) as temporary:
        save_file(tensors, temporary, metadata={"nnzoo": json.dumps(meta)})


def checksum(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> str:
    """SHA-256 over the metadata (without its checksum) and every tensor's name, dtype, shape and bytes."""
    digest = hashlib.sha256(json.dumps({k: v for k, v in meta.items() if k != "checksum"}, sort_keys=True).encode())
    for name in sorted(tensors):
        tensor = tensors[name].contiguous().reshape(-1)
        digest.update(f"\n{name}:{tensor.dtype}:{tuple(tensors[name].shape)}\n".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@dataclass
class Checkpoint:
    path: Path
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]

    @property
    def state(self) -> dict[str, Any]:
        return self.meta.get("state", {})

    def check_identity(self, expected: Mapping[str, str]) -> None:
        """Refuse, in one line, a checkpoint written by another run (or by an nnzoo that recorded no identity)."""
        found = self.meta.get("run")
        if not isinstance(found, dict):
            raise CheckpointError(
                f"{self.path} records no run identity (written by an older nnzoo, or not by a training); "
                "it cannot be checked against this run, so it is not resumed"
            )
        for key in ("task", "model", "id", "config"):
            if found.get(key) != expected.get(key):
                what = {"id": "run id", "config": "configuration hash"}.get(key, key)
                raise CheckpointError(
                    f"{self.path} belongs to another run ({what} {found.get(key)!r}, this run's "
                    f"{expected.get(key)!r}); remove it to restart this run, or resume the run it came from"
                )

    def task_state(self) -> dict[str, torch.Tensor]:
        """The tensors a task carried between training batches (``task.*``), by their names without the prefix."""
        return {k.removeprefix("task."): v for k, v in self.tensors.items() if k.startswith("task.")}

    def model_state(self) -> dict[str, torch.Tensor]:
        return {k.removeprefix("model."): v for k, v in self.tensors.items() if k.startswith("model.")}

    def restore_model(self, model: torch.nn.Module) -> None:
        try:
            result = model.load_state_dict(self.model_state(), strict=False)
        except RuntimeError as error:  # same names, other shapes
            detail = "; ".join(line.strip() for line in str(error).splitlines()[1:] if line.strip())
            raise CheckpointError(f"{self.path} does not fit this model: {detail}") from None
        if result.missing_keys or result.unexpected_keys:
            raise CheckpointError(
                f"{self.path} does not fit this model: missing {result.missing_keys[:5]}, "
                f"unexpected {result.unexpected_keys[:5]}"
            )

    def restore_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        """Restore per-parameter state (moments, momentum buffers, step counts). Hyper-parameters stay those of
        ``optimizer``, i.e. of the current configuration, so a resumed run may change e.g. ``train.lr``."""
        saved = self.meta.get("optimizer")
        if saved is None:
            raise CheckpointError(f"{self.path} holds no optimizer state; resume from the run's last checkpoint")
        state: dict[int, dict[str, Any]] = {int(i): dict(s) for i, s in saved["scalars"].items()}
        for name, value in self.tensors.items():
            if name.startswith("optimizer."):
                _, index, key = name.split(".", 2)
                state.setdefault(int(index), {})[key] = value
        groups = optimizer.state_dict()["param_groups"]
        if [len(g["params"]) for g in groups] != [len(g["params"]) for g in saved["param_groups"]]:
            raise CheckpointError(
                f"{self.path} holds optimizer state for other parameter groups than this model's "
                "(a resume cannot change train.weight_decay_on)"
            )
        optimizer.load_state_dict({"state": state, "param_groups": groups})

    def restore_scheduler(self, scheduler: Any) -> None:
        """Restore the position in the schedule; the base rates stay those of the current configuration."""
        if "scheduler" in self.meta:
            saved = {k: v for k, v in self.meta["scheduler"].items() if k not in ("base_lrs", "_last_lr")}
            scheduler.load_state_dict({**scheduler.state_dict(), **saved})

    def restore_rng(self, rank: int = 0) -> bool:
        """Restore the random states of ``rank``; False if the checkpoint holds none for it."""
        scalars = self.meta.get("rng")
        if scalars is not None and rank > 0:
            scalars = scalars.get("ranks", {}).get(str(rank))
        if scalars is None:
            return False
        prefix = "rng." if rank == 0 else f"rng.rank{rank}."
        torch.set_rng_state(self.tensors[prefix + "torch"])
        cuda = [self.tensors[k] for k in sorted(self.tensors) if k.startswith(prefix + "cuda.")]
        if cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
        version, key, gauss = scalars["python"]
        random.setstate((version, tuple(key), gauss))
        kind, pos, has_gauss, cached = scalars["numpy"]
        np.random.set_state((kind, self.tensors[prefix + "numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))
        return True


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint; a missing, truncated or foreign file is a :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    # One read, then parse from memory: opening the path twice (header, then data) could pair two different
    # files if a writer renames a new checkpoint into place in between.
    raw = path.read_bytes()
    try:
        (header_size,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8 : 8 + header_size]).get("__metadata__") or {}
        tensors = safetensors.torch.load(raw)
    except (SafetensorError, struct.error, ValueError, RuntimeError, AttributeError) as error:
        raise CheckpointError(f"{path} is truncated or not a safetensors file ({error})") from None
    try:
        meta = json.loads(header["nnzoo"])
        if meta.get("format") not in (FORMAT, *OLD_FORMATS):
            raise KeyError("format")
    except (KeyError, TypeError, json.JSONDecodeError, AttributeError):
        raise CheckpointError(f"{path} is a safetensors file but not an nnzoo checkpoint ({FORMAT})") from None
    if meta["format"] == FORMAT and meta.get("checksum") != checksum(tensors, meta):
        raise CheckpointError(
            f"{path} is corrupt: its content does not match the checksum written with it (a disk or copy error, "
            "or an edited file); use the run's other checkpoint or train again"
        )
    if not isinstance(meta.get("state", {}), dict) or not isinstance(meta.get("config", {}), dict):
        raise CheckpointError(f"{path} has malformed metadata (state and config must be JSON objects)")
    return Checkpoint(path, tensors, meta)
