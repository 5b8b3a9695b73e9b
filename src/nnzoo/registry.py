"""The one registry of tasks and models.

A task registers its class with ``@register_task("name")``; a model registers its builder for a task with
``@register_model("task", "name", config=ItsConfig)``, where ``ItsConfig`` is the config dataclass beside the
model in :mod:`nnzoo.nn` (the one source of its hyper-parameters and their defaults). The builder receives that
config, filled from the run's ``[model]`` table, and the task's ``info`` (sizes, vocabularies), and returns an
``nn.Module``. ``nnzoo list`` prints what is registered, using the
first line of each docstring.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nnzoo.config import ModelConfig, model_section
from nnzoo.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

    from nnzoo.tasks.base import Task

_TASKS: dict[str, type[Task]] = {}
_MODELS: dict[str, dict[str, ModelEntry]] = {}


@dataclass(frozen=True)
class ModelEntry:
    task: str
    name: str
    build: Callable[[Any, Mapping[str, Any]], nn.Module]
    config: type[ModelConfig]
    description: str
    train_defaults: Mapping[str, Any] = field(default_factory=dict)


def register_task(name: str) -> Callable[[type[Task]], type[Task]]:
    def decorate(cls: type[Task]) -> type[Task]:
        if name in _TASKS:
            raise ValueError(f"task {name!r} is registered twice")
        cls.name = name
        _TASKS[name] = cls
        return cls

    return decorate


def register_model(
    task: str,
    name: str,
    *,
    config: type | None = None,
    defaults: Mapping[str, Any] | None = None,
    train_defaults: Mapping[str, Any] | None = None,
) -> Callable[[Callable], Callable]:
    """Register ``build(model_cfg, info) -> nn.Module`` as model ``name`` of ``task``.

    ``config`` is the model's config dataclass (None: a model without hyper-parameters); ``defaults`` changes some
    of its defaults for this task only, ``train_defaults`` some of the ``[train]`` defaults.
    """
    section = model_section(config, defaults)

    def decorate(build: Callable) -> Callable:
        models = _MODELS.setdefault(task, {})
        if name in models:
            raise ValueError(f"model {name!r} is registered twice for task {task!r}")
        models[name] = ModelEntry(task, name, build, section, _first_line(build.__doc__), dict(train_defaults or {}))
        return build

    return decorate


def tasks() -> dict[str, type[Task]]:
    _import_tasks()
    return dict(sorted(_TASKS.items()))


def models(task: str) -> dict[str, ModelEntry]:
    _import_tasks()
    return dict(_MODELS.get(task, {}))


def get_task(name: str) -> type[Task]:
    known = tasks()
    if name not in known:
        raise ConfigError(f"unknown task {name!r}; registered tasks: {', '.join(known)}")
    return known[name]


def get_model(task: str, name: str) -> ModelEntry:
    known = models(task)
    if name not in known:
        raise ConfigError(f"unknown model {name!r} for task {task!r}; its models: {', '.join(known)}")
    return known[name]


def describe(obj: Any) -> str:
    return _first_line(obj.__doc__)


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""


def _import_tasks() -> None:
    importlib.import_module("nnzoo.tasks")
