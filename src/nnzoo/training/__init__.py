"""Task-agnostic training: the Trainer, checkpoints, run folders, and multi-process (DDP) training."""

from nnzoo.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from nnzoo.training.run import RunDir, TrainedModel, default_run_dir, load_trained
from nnzoo.training.runtime import resolve_device, seed_everything
from nnzoo.training.trainer import Trainer, TrainState

__all__ = [
    "Checkpoint",
    "RunDir",
    "TrainState",
    "TrainedModel",
    "Trainer",
    "default_run_dir",
    "load_checkpoint",
    "load_trained",
    "resolve_device",
    "save_checkpoint",
    "seed_everything",
]
