"""The one registry of tasks and models.

A task registers its class with ``@register_task("name")``; a model registers its builder for a task with
``@register_model("task", "name", config=ItsConfig)``, where ``ItsConfig`` is the config dataclass beside the
model in :mod:`nnzoo.nn` (the one source of its hyper-parameters and their defaults). The builder receives that
config, filled from the run's ``[model]`` table, and the task's ``info`` (sizes, vocabularies), and returns an
``nn.Module``. ``nnzoo list`` prints what is registered, using the
first line of each docstring.

Importing :mod:`nnzoo.tasks` registers every task and model; this module never imports a task itself (the tasks
import it). :func:`resolve_config` turns a recipe and command-line choices into a run's typed configuration, against
what is registered.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nnzoo.config import ModelConfig, RawValue, RunConfig, TrainConfig, apply_overrides, from_dict, model_section
from nnzoo.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn


TaskClass = type  # a subclass of nnzoo.tasks.base.Task (named, not imported: the tasks import this module)
_TASKS: dict[str, TaskClass] = {}
_MODELS: dict[str, dict[str, ModelEntry]] = {}


@dataclass(frozen=True)
class ModelEntry:
    task: str
    name: str
    build: Callable[[Any, Mapping[str, Any]], nn.Module]
    config: type[ModelConfig]
    description: str
    train_defaults: Mapping[str, Any] = field(default_factory=dict)


def register_task(name: str) -> Callable[[TaskClass], TaskClass]:
    def decorate(cls: TaskClass) -> TaskClass:
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


def tasks() -> dict[str, TaskClass]:
    if not _TASKS:  # a programming error, not the user's: say what was forgotten
        raise RuntimeError("no task is registered yet: import nnzoo.tasks (or use the nnzoo API) first")
    return dict(sorted(_TASKS.items()))


def models(task: str) -> dict[str, ModelEntry]:
    tasks()
    return dict(_MODELS.get(task, {}))


def get_task(name: str) -> TaskClass:
    known = tasks()
    if name not in known:
        raise ConfigError(f"unknown task {name!r}; registered tasks: {', '.join(known)}")
    return known[name]


def get_model(task: str, name: str) -> ModelEntry:
    known = models(task)
    if name not in known:
        raise ConfigError(f"unknown model {name!r} for task {task!r}; its models: {', '.join(known)}")
    return known[name]


def resolve_config(
    raw: Mapping | None = None,
    *,
    task: str | None = None,
    model: str | None = None,
    overrides: Iterable[str] = (),
    seed: int | None = None,
    device: str | None = None,
) -> RunConfig:
    """Merge a recipe (``raw``, as read from TOML) with command-line choices into a checked :class:`RunConfig`.

    Precedence, lowest first: the dataclasses' defaults, the task's ``train_defaults``, the model's registered
    ``defaults`` and ``train_defaults``, the recipe, ``task``/``model``/``seed``/``device``, then ``overrides``
    (``"section.key=value"``, as ``--set`` takes them).
    """
    raw = copy.deepcopy(dict(raw or {}))
    _check_sections(raw)
    if task is not None:
        if raw.get("task") not in (None, task):
            raise ConfigError(f"the recipe is for task {raw['task']!r}, not {task!r}")
        raw["task"] = task
    if model is not None:
        raw.setdefault("model", {})["name"] = model
    if seed is not None:
        raw["seed"] = seed
    if device is not None:
        raw["device"] = device
    apply_overrides(raw, overrides)
    _check_sections(raw)

    task_name = raw.get("task")
    task_name = task_name.parsed if isinstance(task_name, RawValue) else task_name
    if not task_name:
        raise ConfigError("no task given: name one (`nnzoo list` shows them)")
    task_cls = get_task(str(task_name))
    model_raw = dict(raw.get("model") or {})
    model_name = model_raw.get("name") or task_cls.default_model
    model_name = model_name.text if isinstance(model_name, RawValue) else model_name
    entry = get_model(task_cls.name, str(model_name))
    model_raw["name"] = entry.name

    train_raw = {**task_cls.train_defaults, **entry.train_defaults, **dict(raw.get("train") or {})}
    parts = {
        **raw,
        "task": task_cls.name,
        "model": from_dict(entry.config, model_raw, "model"),
        "data": from_dict(task_cls.DataConfig, raw.get("data") or {}, "data"),
        "eval": from_dict(task_cls.EvalConfig, raw.get("eval") or {}, "eval"),
        "train": from_dict(TrainConfig, train_raw, "train"),
    }
    return from_dict(RunConfig, parts)


def with_added_keys(saved: Mapping) -> dict:
    """A saved run's configuration (as read from its ``config.toml``) with every key added since at the value the
    run was trained with (its section class's ``ADDED``), not today's default: the run opens and resumes as it was
    trained. An unknown task or model is left for :func:`resolve_config` to report."""
    saved = copy.deepcopy(dict(saved))
    model = saved.get("model") if isinstance(saved.get("model"), dict) else {}
    try:
        task_cls = get_task(str(saved.get("task")))
        model_config = get_model(task_cls.name, str(model.get("name") or task_cls.default_model)).config
    except ConfigError:
        return saved
    sections = {"model": model_config, "data": task_cls.DataConfig, "eval": task_cls.EvalConfig, "train": TrainConfig}
    for name, cls in sections.items():
        if isinstance(saved.get(name), dict):
            saved[name] = {**getattr(cls, "ADDED", {}), **saved[name]}
    return saved


def _check_sections(raw: Mapping) -> None:
    """A section given a plain value (``model = "mlp"`` in a recipe, ``--set train=5``) is one clear error."""
    for section in ("model", "data", "eval", "train", "log"):
        value = raw.get(section)
        if value is not None and not isinstance(value, dict):
            shown = value.text if isinstance(value, RawValue) else repr(value)
            raise ConfigError(
                f"{section} is a section of settings ([{section}] in TOML, {section}.KEY=VALUE with --set), "
                f"not a value such as {shown}" + ("; the model is chosen by model.name" if section == "model" else "")
            )


def describe(obj: Any) -> str:
    return _first_line(obj.__doc__)


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""
