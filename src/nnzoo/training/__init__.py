"""Task-agnostic training: the Trainer, checkpoints, run folders, and multi-process (DDP) training."""

from nnzoo.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from nnzoo.training.run import OpenRun, RunDir, default_run_dir, open_run
from nnzoo.training.runtime import resolve_device, seed_everything
from nnzoo.training.trainer import Trainer, TrainState

__all__ = [
    "Checkpoint",
    "OpenRun",
    "RunDir",
    "TrainState",
    "Trainer",
    "default_run_dir",
    "load_checkpoint",
    "open_run",
    "resolve_device",
    "save_checkpoint",
    "seed_everything",
]
