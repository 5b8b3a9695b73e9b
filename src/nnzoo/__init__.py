"""nnzoo: the classic deep-learning architectures, written from their equations and trained on real data.

The Python API (see :mod:`nnzoo.api`)::

    import nnzoo

    run = nnzoo.train("regression", model="mlp", run_dir="runs/boston-mlp")  # -> nnzoo.Run
    run = nnzoo.open("runs/boston-mlp")                                      # a trained run, weights loaded
    run = nnzoo.open("g2p")                                                  # a model shipped with nnzoo
    run = nnzoo.open_ensemble(["runs/g2p/a", "runs/g2p/b"])                  # several seq2seq runs as one model
    run.evaluate("test"), run.predict([...]), run.figures("test")
    nnzoo.list_tasks(), nnzoo.list_models("g2p"), nnzoo.list_recipes("g2p")  # recipes: recipe="g2p/transformer"
    start = nnzoo.build("g2p", model="transformer")                         # config, task, data, untrained model

    from nnzoo.nn import LSTM, MultiheadAttention, Transformer, UNet       # the architectures alone

Everything is imported on first use, so that ``import nnzoo`` (and ``nnzoo --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"  # the one place of the version: pyproject.toml reads it from here

_API = (
    "Run",
    "build",
    "list_models",
    "list_pretrained",
    "list_recipes",
    "list_tasks",
    "open",
    "open_ensemble",
    "resolve_config",
    "train",
)
_SUBMODULES = ("nn", "tasks", "training", "data", "experiments")

if TYPE_CHECKING:
    from nnzoo import nn
    from nnzoo.api import (
        Run,
        build,
        list_models,
        list_pretrained,
        list_recipes,
        list_tasks,
        open,
        open_ensemble,
        resolve_config,
        train,
    )


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("nnzoo.api"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"nnzoo.{name}")
    raise AttributeError(f"module 'nnzoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API, *_SUBMODULES])


__all__ = [
    "Run",
    "__version__",
    "build",
    "list_models",
    "list_pretrained",
    "list_recipes",
    "list_tasks",
    "nn",
    "open",
    "open_ensemble",
    "resolve_config",
    "train",
]
