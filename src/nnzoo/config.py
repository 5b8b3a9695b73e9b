"""Typed configuration: dataclasses loaded from TOML recipes and overridden with ``--set key=value``.

A run's configuration is one :class:`RunConfig`. Its ``data``, ``eval`` and ``model`` sections are dataclasses
chosen by the task and the model (each registers its own), ``train`` and ``log`` are shared by every task.
Resolution, in increasing precedence::

    dataclass defaults < task's train defaults < model's train defaults < recipe (TOML) < --model/--seed/--device
    < --set a.b=value

Every value is checked against its field's type; an unknown key or a wrong type is a :class:`ConfigError` that
names the key and lists what is valid.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib.resources
import math
import os
import re
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

import tomli_w

from nnzoo.errors import ConfigError, require
from nnzoo.files import write_atomic

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


# --------------------------------------------------------------------------------------------------------------
# Sections shared by every run
# --------------------------------------------------------------------------------------------------------------


@dataclass
class ModelConfig:
    """Base of every model's configuration; ``name`` is the registered model name."""

    name: str = ""


def model_section(hyper: type | None, defaults: Mapping[str, Any] | None = None) -> type[ModelConfig]:
    """The ``[model]`` table of a run: ``name`` (the registered model), then the fields of ``hyper``, the config
    dataclass that sits beside the model in :mod:`nnzoo.nn` and holds its hyper-parameters and their defaults.

    ``defaults`` replaces some of those defaults for one task (a task's images are smaller, its U-Net shallower);
    this is the only other place a default may come from, and it is visible in ``nnzoo train --print-config``.
    An instance is also an instance of ``hyper``, so the model takes it as its config.
    """
    if hyper is None:
        if defaults:
            raise ValueError("defaults need a config dataclass to change")
        return ModelConfig
    hints = get_type_hints(hyper)
    known = {f.name for f in dataclasses.fields(hyper)}
    unknown = set(defaults or {}) - known
    if unknown:
        raise ValueError(f"{hyper.__name__} has no field {', '.join(sorted(unknown))}")
    changed = [
        (key, hints[key], field(default_factory=functools.partial(copy.deepcopy, value)))
        for key, value in (defaults or {}).items()
    ]
    # Bases in this order put `name` first in the table (dataclass fields follow the reversed MRO).
    return dataclasses.make_dataclass(hyper.__name__, changed, bases=(hyper, ModelConfig))


@dataclass
class DataConfig:
    """Base of every task's data configuration."""


@dataclass
class EvalConfig:
    """Base of every task's evaluation configuration (e.g. the beam size of a sequence task)."""


@dataclass
class TrainConfig:
    """Optimisation, schedule, evaluation and checkpointing; the same for every task."""

    optimizer: Literal["sgd", "adam", "adamw"] = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0  # L2 penalty (sgd, adam) or decoupled decay (adamw)
    # Which parameters decay: "all", or "matrices" (those of 2 or more dimensions: weights and embeddings, not
    # biases, LayerNorm gains or positions' offsets), the usual choice for Transformers.
    weight_decay_on: Literal["all", "matrices"] = "all"
    beta1: float = 0.9  # adam, adamw: decay of the running mean of gradients (GANs use 0.5)
    beta2: float = 0.999  # adam, adamw: decay of the running mean of squared gradients
    label_smoothing: float = 0.0  # classification losses: mix this much of the uniform distribution into targets
    schedule: Literal["constant", "step", "cosine"] = "constant"
    warmup_steps: int = 0  # linear warm-up from 0 before any schedule
    lr_step_every: int = 1000  # "step" schedule: multiply the rate by lr_gamma every this many steps
    lr_gamma: float = 0.1
    min_lr_ratio: float = 0.0  # "cosine" schedule: final rate = lr * min_lr_ratio
    batch_size: int = 32
    eval_batch_size: int = 0  # 0: same as batch_size
    epochs: int = 10
    max_steps: int = 0  # > 0: stop after this many optimiser steps instead of after `epochs`
    shuffle: bool = True
    grad_clip: float = 0.0  # clip the global gradient norm to this value; 0: off
    eval_every: int = 0  # evaluate every this many steps; 0: at the end of every epoch
    checkpoint_every: int = 0  # also write `last` every this many steps; 0: only after evaluations
    # Keep the weights of the newest N evaluations in snapshots/ (N files): `--checkpoint average` opens their mean,
    # checkpoint averaging. 0: none.
    keep_evals: int = 0
    # Start from trained weights instead of random ones: a run folder, or a shipped model's name (nnzoo list
    # --pretrained), of the same task and model; "": from scratch. Fine-tuning: `nnzoo train --init g2p`.
    init: str = ""
    monitor: str = "loss"  # validation metric that picks the best checkpoint and drives early stopping
    monitor_mode: Literal["min", "max"] = "min"
    patience: int = 0  # early stopping: evaluations without improvement before stopping; 0: off
    # The precision of the forward pass (autocast; weights, optimiser and checkpoints stay float32): "auto" is bf16
    # on GPUs that compute it natively (compute capability >= 8.0), fp16 with loss scaling on older GPUs, and fp32 on
    # the CPU and MPS; "bf16" and "fp16" ask for that precision on any device.
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    # Which kernel the RNN, LSTM and GRU layers run (see nnzoo.nn.recurrent): "auto" is the fastest on the device
    # (on the CPU: nnzoo's BPTT for RNN/GRU, PyTorch's fused LSTM; on a GPU: cuDNN). All give the same results up
    # to rounding, so this changes speed, not the model; resume may change it.
    recurrent_path: Literal["auto", "fast", "reference", "native"] = "auto"
    # torch.compile the model's forward while it trains (validation included; nnzoo eval runs eager). The first steps
    # compile (seconds to a minute); where it pays off: docs/gpu.md ("Compilation"). Needs a C++ compiler on the CPU.
    compile: bool = False
    # Keys added since, with the value that reproduces a run saved before them (RunDir.load_config applies it).
    ADDED: ClassVar[dict[str, Any]] = {"recurrent_path": "fast", "weight_decay_on": "all"}
    # Keys of earlier versions, read as today's, so that their runs still open and resume.
    RENAMED: ClassVar[dict[str, Callable[[Any], tuple[str, Any]]]] = {
        "amp": lambda on: ("precision", "auto" if _coerce(bool, on, "train.amp") else "fp32"),
    }

    def __post_init__(self) -> None:
        for name in ("lr", "momentum", "weight_decay", "beta1", "beta2", "lr_gamma", "grad_clip", "min_lr_ratio"):
            require(math.isfinite(getattr(self, name)), f"train.{name} must be a finite number")
        require(self.lr > 0, "train.lr must be > 0")
        require(0 <= self.momentum < 1, "train.momentum must be in [0, 1)")
        require(self.lr_gamma > 0, "train.lr_gamma must be > 0")
        require(self.batch_size >= 1, "train.batch_size must be >= 1")
        require(self.eval_batch_size >= 0, "train.eval_batch_size must be >= 0")
        require(self.epochs >= 1 or self.max_steps >= 1, "train.epochs or train.max_steps must be >= 1")
        require(self.max_steps >= 0, "train.max_steps must be >= 0")
        require(self.grad_clip >= 0, "train.grad_clip must be >= 0 (0 turns clipping off)")
        require(self.weight_decay >= 0, "train.weight_decay must be >= 0")
        require(0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "train.beta1 and train.beta2 must be in [0, 1)")
        require(0 <= self.label_smoothing < 1, "train.label_smoothing must be in [0, 1)")
        require(self.warmup_steps >= 0, "train.warmup_steps must be >= 0")
        require(self.lr_step_every >= 1, "train.lr_step_every must be >= 1")
        require(0 <= self.min_lr_ratio <= 1, "train.min_lr_ratio must be in [0, 1]")
        require(self.eval_every >= 0 and self.checkpoint_every >= 0, "train.eval_every/checkpoint_every >= 0")
        require(self.patience >= 0, "train.patience must be >= 0 (0 turns early stopping off)")
        require(self.keep_evals >= 0, "train.keep_evals must be >= 0 (0 keeps no snapshots)")


# The training recipe of nnzoo's Transformer language model (docs/text.md, "The Transformer's recipe"): AdamW,
# decoupled weight decay 0.1 on matrices only, a linear warm-up, then cosine decay to a tenth of the rate (measured:
# better than decay to 0), the gradient norm clipped at 1. beta2 = 0.99 and decay on matrices measured level with
# the alternatives at 300 steps; they are the field's usual choice. A task registers its Transformer with these as
# train_defaults and adds its own rate and warm-up.
TRANSFORMER_TRAINING: dict[str, Any] = {
    "optimizer": "adamw",
    "beta2": 0.99,
    "weight_decay": 0.1,
    "weight_decay_on": "matrices",
    "schedule": "cosine",
    "min_lr_ratio": 0.1,
    "grad_clip": 1.0,
}


@dataclass
class LogConfig:
    every: int = 10  # write the mean training loss to metrics.jsonl every this many steps
    tensorboard: bool = False  # also write TensorBoard scalars to RUN_DIR/tensorboard

    def __post_init__(self) -> None:
        require(self.every >= 1, "log.every must be >= 1")


@dataclass
class RunConfig:
    task: str
    model: ModelConfig
    data: DataConfig
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    log: LogConfig = field(default_factory=LogConfig)
    seed: int = 0
    device: str = "auto"  # auto (CUDA, then MPS, then the CPU), cpu, cuda, cuda:N or mps

    def __post_init__(self) -> None:
        require(
            DEVICE_PATTERN.fullmatch(self.device) is not None,
            f"device must be auto, cpu, cuda, cuda:N or mps; got {self.device!r}",
        )


DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def check_split_fractions(val_fraction: float, test_fraction: float) -> None:
    """For data sections with ``val_fraction``/``test_fraction``: both in (0, 1), with a sum below 1."""
    require(
        0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1,
        "data.val_fraction and data.test_fraction must be in (0, 1) with a sum below 1",
    )


@dataclass
class ImageDataConfig(DataConfig):
    """The data section shared by the image tasks (``nnzoo.data.images.image_splits``); each task narrows
    ``dataset`` to the data sets it accepts and adds its own fields."""

    dataset: str = "fashion-mnist"
    val_fraction: float = 0.1  # of the training images (Fashion-MNIST) or of all images (the other data sets)
    test_fraction: float = 0.2  # the other data sets only: Fashion-MNIST has its official test set
    max_train: int = 0  # keep the first N training images, for quick runs; 0: all

    def __post_init__(self) -> None:
        check_split_fractions(self.val_fraction, self.test_fraction)
        require(self.max_train >= 0, "data.max_train must be >= 0 (0: all training images)")


# --------------------------------------------------------------------------------------------------------------
# Dataclass <-> dict with type checking
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawValue:
    """A value from the command line: its text, and the same text read as a TOML value (``1e-3``, ``true``,
    ``["B"]``). String fields take the text as typed, so ``--set data.target=1`` means the column "1"."""

    text: str
    parsed: Any


def from_dict(cls: type, data: Any, where: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping, checking keys and types; ``where`` names the section in errors."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'the configuration'} must be a table of keys, got {_show(data)}")
    renamed = getattr(cls, "RENAMED", {})
    if any(key in renamed for key in data):  # an earlier version's key: its value in today's key, unless given
        data = {**dict(renamed[key](value) for key, value in data.items() if key in renamed),
                **{key: value for key, value in data.items() if key not in renamed}}  # fmt: skip
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [key for key in data if key not in fields]
    if unknown:
        section = f" in [{where}]" if where else ""
        raise ConfigError(f"unknown key '{_join(where, unknown[0])}'; valid keys{section}: {', '.join(fields)}")
    hints = get_type_hints(cls)
    kwargs = {name: _coerce(hints[name], value, _join(where, name)) for name, value in data.items()}
    missing = [f.name for f in fields.values() if f.name not in kwargs and _has_no_default(f)]
    if missing:
        raise ConfigError(f"missing key '{_join(where, missing[0])}'")
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """Dataclass -> plain dict for TOML; ``None`` values are left out (TOML has no null)."""
    if dataclasses.is_dataclass(obj):
        out = {}
        for f in dataclasses.fields(obj):
            value = to_dict(getattr(obj, f.name))
            if value is not None:
                out[f.name] = value
        return out
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = get_origin(tp)
    if isinstance(value, RawValue):
        value = value.text if _takes_text(tp) and not isinstance(value.parsed, str) else value.parsed
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return value if isinstance(value, tp) else from_dict(tp, value, where)
    if origin is Literal:
        choices = get_args(tp)
        if value in choices and type(value) in {type(c) for c in choices}:
            return value
        raise ConfigError(f"{where} must be one of {', '.join(map(repr, choices))}; got {_show(value)}")
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, where)
            except ConfigError as error:
                errors.append(error)
        raise errors[0]
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin in (list, tuple):
        if isinstance(value, (list, tuple)):
            args = get_args(tp)
            if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
                if len(value) != len(args):
                    raise ConfigError(f"{where} must have {len(args)} items, got {len(value)}")
                return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
            item = args[0] if args else Any
            items = [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
            return tuple(items) if origin is tuple else items
    elif origin is dict:
        if isinstance(value, Mapping):
            _, value_type = get_args(tp) or (str, Any)
            return {str(k): _coerce(value_type, v, f"{where}.{k}") for k, v in value.items()}
    else:  # pragma: no cover - a field type this module does not know is a programming error
        raise TypeError(f"unsupported config field type {tp!r} at {where}")
    raise ConfigError(f"{where} must be {_describe(tp)}; got {_show(value)}")


def _takes_text(tp: Any) -> bool:
    if tp is str:
        return True
    if get_origin(tp) is Literal:
        return all(isinstance(c, str) for c in get_args(tp))
    if get_origin(tp) in (Union, types.UnionType):
        return any(_takes_text(a) for a in get_args(tp))
    return False


def _describe(tp: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if tp in names:
        return names[tp]
    origin = get_origin(tp)
    if origin in (list, tuple):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s" if args else "a list"
    if origin is dict:
        return "a table"
    return str(tp)


def _show(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "table"}
    return f"{value!r} ({kind.get(type(value), type(value).__name__)})"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _has_no_default(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


# --------------------------------------------------------------------------------------------------------------
# TOML and --set overrides
# --------------------------------------------------------------------------------------------------------------


def load_toml(path: str | Path | Traversable) -> dict:
    """A recipe or ``config.toml``, parsed; any reason it cannot be read is one :class:`ConfigError` line."""
    path = Path(path) if isinstance(path, (str, os.PathLike)) else path
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give a TOML file (a recipe, or a run's config.toml)")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"recipe file not found: {path}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; a recipe is a TOML file") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None


PACKAGED_RECIPES = "recipes"  # inside the package: nnzoo/recipes/TASK/NAME.toml, one per README row


def packaged_recipes(task: str | None = None) -> list[str]:
    """The names ``TASK/NAME`` of the recipes shipped inside the package (of ``task`` only, if given), sorted;
    ``--recipe`` and ``recipe=`` take them as they are."""
    root = importlib.resources.files("nnzoo") / PACKAGED_RECIPES
    if not root.is_dir():  # pragma: no cover - an installation without its package data
        return []
    folders = sorted((folder for folder in root.iterdir() if folder.is_dir()), key=lambda folder: folder.name)
    return [
        f"{folder.name}/{name}"
        for folder in folders
        if task is None or folder.name == task
        for name in sorted(f.name.removesuffix(".toml") for f in folder.iterdir() if f.name.endswith(".toml"))
    ]


def find_recipe(recipe: str | Path) -> Path | Traversable:
    """The TOML file that ``recipe`` names: a path to an existing file first, else a packaged recipe
    ``TASK/NAME`` (``.toml`` optional, see :func:`packaged_recipes`); anything else is one :class:`ConfigError` line
    that says what is accepted. The packaged recipes are found wherever nnzoo is installed, from any folder."""
    path = Path(recipe)
    if path.is_file():
        return path
    packaged = packaged_recipes()
    name = path.as_posix().removesuffix(".toml")
    if not path.is_absolute() and name in packaged:
        task, _, stem = name.partition("/")
        return importlib.resources.files("nnzoo") / PACKAGED_RECIPES / task / f"{stem}.toml"
    if path.exists():  # a folder or another kind of file: load_toml says what is wrong with it
        return path
    tasks = sorted({known.partition("/")[0] for known in packaged})
    task = path.parent.name  # "g2p/lstm" and also an old path such as recipes/g2p/lstm-attention.toml
    if task in tasks:
        known = f"{task}'s recipes: {', '.join(packaged_recipes(task))}"
    else:
        known = f"tasks with recipes: {', '.join(tasks)} (`nnzoo list` names them)"
    raise ConfigError(
        f"recipe not found: {str(recipe)!r} is neither a TOML file nor a packaged recipe TASK/NAME; {known}"
    )


def to_toml(cfg: RunConfig) -> str:
    """The configuration as a TOML recipe (every field), as ``config.toml`` and ``--print-config`` show it."""
    return tomli_w.dumps(to_dict(cfg))


def dump_toml(cfg: RunConfig, path: str | Path) -> None:
    """Write ``cfg`` as TOML, atomically."""
    write_atomic(path, to_toml(cfg))


def parse_override(text: str) -> tuple[list[str], RawValue]:
    """``"model.hidden=[64, 64]"`` -> (["model", "hidden"], RawValue("[64, 64]", [64, 64])). The value is read as
    TOML; what TOML cannot read is a bare word (``relu``, a path) or a list of bare words (``[B, LSTAT]``)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set expects key=value such as train.lr=0.01, got {text!r}")
    raw = raw.strip()
    try:
        parsed = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if raw.startswith("[") and raw.endswith("]"):  # a list of bare words: [lstm, gru]
            parsed = [word.strip() for word in raw[1:-1].split(",") if word.strip()]
        else:
            parsed = raw  # a bare word such as relu or a path needs no quotes
    return key.split("."), RawValue(raw, parsed)


def apply_overrides(raw: dict, overrides: Iterable[str]) -> dict:
    for text in overrides:
        keys, value = parse_override(text)
        node = raw
        for i, key in enumerate(keys[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"cannot set {text!r}: '{'.'.join(keys[: i + 1])}' is a value, not a section")
            node = child
        node[keys[-1]] = value
    return raw


__all__ = [
    "ConfigError",
    "DataConfig",
    "EvalConfig",
    "LogConfig",
    "ModelConfig",
    "RawValue",
    "RunConfig",
    "TrainConfig",
    "apply_overrides",
    "dump_toml",
    "find_recipe",
    "from_dict",
    "load_toml",
    "packaged_recipes",
    "parse_override",
    "to_dict",
    "to_toml",
]
