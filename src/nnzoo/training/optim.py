"""Optimisers and learning-rate schedules from a :class:`~nnzoo.config.TrainConfig`."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch.optim.lr_scheduler import LambdaLR

from nnzoo.config import TrainConfig


def build_optimizer(cfg: TrainConfig, parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """SGD with momentum, Adam (L2 weight decay added to the gradient) or AdamW (decoupled weight decay).

    With ``weight_decay_on = "matrices"`` the parameters are two groups, in the model's order: those of two or more
    dimensions, which decay, then the others (biases, norm gains), which do not.
    """
    trained = [p for p in parameters if p.requires_grad]
    params: list = trained
    if cfg.weight_decay_on == "matrices":
        params = [
            {"params": [p for p in trained if p.dim() >= 2]},
            {"params": [p for p in trained if p.dim() < 2], "weight_decay": 0.0},
        ]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)


def lr_factor(cfg: TrainConfig, step: int, total_steps: int) -> float:
    """Multiplier of ``cfg.lr`` for optimiser step ``step`` (0-based).

    Linear warm-up over ``warmup_steps``, then ``constant`` (1), ``step`` (``lr_gamma`` every ``lr_step_every``
    steps) or ``cosine`` (from 1 down to ``min_lr_ratio`` at ``total_steps``).
    """
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    after = step - cfg.warmup_steps
    if cfg.schedule == "step":
        return cfg.lr_gamma ** (after // cfg.lr_step_every)
    if cfg.schedule == "cosine":
        progress = min(1.0, after / max(1, total_steps - cfg.warmup_steps))
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return 1.0


def build_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer, total_steps: int) -> LambdaLR:
    return LambdaLR(optimizer, lambda step: lr_factor(cfg, step, total_steps))
