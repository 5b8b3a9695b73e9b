"""nnzoo's Python API: the one place a run's life is written.

:func:`train` creates (or resumes) a run folder and trains it; :func:`open` opens a trained one. Both give a
:class:`Run`, which evaluates, predicts and draws. The command line, the experiments and the tests call these
functions; nothing else resolves a configuration, seeds, builds a model and fits it.

Example::

    >>> import nnzoo
    >>> run = nnzoo.train("regression", model="mlp", overrides=["train.max_steps=50"], run_dir=tmp / "r",
    ...                   progress=False)
    >>> run.config.model.hidden, run.state["step"]
    ([64, 64], 50)
    >>> nnzoo.open(tmp / "r").evaluate("test")["rmse"] < 8  # k$; predicting the mean gives 7.9
    True

Messages (the start of a training, a resume with nothing left to do) go to the ``nnzoo`` logger; the CLI shows
them, a Python program sees warnings only, unless it configures :mod:`logging`.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

import nnzoo.tasks  # noqa: F401  (registers every task and model)
from nnzoo import _API, pretrained, registry
from nnzoo.config import RunConfig, find_recipe, load_toml, packaged_recipes, to_dict
from nnzoo.errors import UserError
from nnzoo.tasks.base import Splits, Task
from nnzoo.training import distributed
from nnzoo.training.checkpoint import load_checkpoint
from nnzoo.training.metrics_log import read_metrics
from nnzoo.training.run import CheckpointName, RunDir, TrainedModel, default_run_dir, load_trained
from nnzoo.training.runtime import resolve_device, seed_everything
from nnzoo.training.trainer import Trainer, evaluate

log = logging.getLogger("nnzoo")


def list_tasks() -> list[str]:
    """The registered tasks, by name.

    Example::

        >>> "regression" in nnzoo.list_tasks()
        True
    """
    return list(registry.tasks())


def list_models(task: str) -> list[str]:
    """The models registered for ``task``, its default first.

    Example::

        >>> nnzoo.list_models("regression")
        ['linear', 'mlp']
    """
    default = registry.get_task(task).default_model
    return sorted(registry.models(task), key=lambda name: name != default)


def list_recipes(task: str | None = None) -> list[str]:
    """The recipes shipped with nnzoo (of ``task`` only, if given), as the names ``TASK/NAME`` that ``recipe=``
    and ``nnzoo train --recipe`` take; each is the configuration of one of the README's results.

    Example::

        >>> nnzoo.list_recipes("regression")
        ['regression/linear-adam', 'regression/linear-sgd', 'regression/mlp']
    """
    if task is not None:
        registry.get_task(task)  # an unknown task is an error, not an empty list
    return packaged_recipes(task)


def list_pretrained(task: str | None = None) -> list[str]:
    """The trained models shipped with nnzoo (of ``task`` only, if given), as the names ``TASK/NAME`` that
    :func:`open`, ``nnzoo predict`` and ``nnzoo eval`` take in place of a run folder (:mod:`nnzoo.pretrained`)."""
    if task is not None:
        registry.get_task(task)
    return [name for name, card in pretrained.cards().items() if task in (None, card.task)]


def resolve_config(
    task: str | None = None,
    *,
    model: str | None = None,
    recipe: str | Path | None = None,
    overrides: Sequence[str] = (),
    seed: int | None = None,
    device: str | None = None,
    init: str | Path | None = None,
) -> RunConfig:
    """The configuration a run with these choices would have: every field, typed and checked, without training.
    With ``init`` (a run folder or a shipped model's name: ``train.init``), the task and the model section are the
    source's unless the recipe or ``model`` give them.

    Example::

        >>> cfg = nnzoo.resolve_config("regression", model="mlp", overrides=["model.hidden=[32]"])
        >>> cfg.model.hidden, cfg.train.optimizer
        ([32], 'adamw')
    """
    raw = load_toml(find_recipe(recipe)) if recipe is not None else {}
    overrides = _override_list(overrides)
    if init is not None:
        source = RunDir(pretrained.locate(init)).load_config()
        raw.setdefault("task", task or source.task)
        if model is None and "model" not in raw and raw["task"] == source.task:
            raw["model"] = to_dict(source.model)
        overrides = [*overrides, f"train.init={init}"]
    return registry.resolve_config(raw, task=task, model=model, overrides=overrides, seed=seed, device=device)


def train(
    task: str | None = None,
    *,
    model: str | None = None,
    recipe: str | Path | None = None,
    overrides: Sequence[str] = (),
    run_dir: str | Path | None = None,
    seed: int | None = None,
    device: str | None = None,
    progress: bool = True,
    figures: bool = True,
    resume: str | Path | None = None,
    init: str | Path | None = None,
) -> Run:
    """Train ``model`` on ``task`` into a new run folder, or continue the run in ``resume``; return it, opened.

    Args:
        task: a registered task name (:func:`list_tasks`). A ``recipe`` may name it instead.
        model: a registered model name of the task (:func:`list_models`); the task's default model if None, or
            the recipe's.
        recipe: a TOML file with any of the config sections, or the name ``TASK/NAME`` of a recipe shipped with
            nnzoo (:func:`list_recipes`), e.g. ``"g2p/lstm-attention"``; an existing file wins.
        overrides: ``"section.key=value"`` strings, as ``nnzoo train --set`` takes them; they win over the recipe.
        run_dir: the run folder, new or empty (default ``runs/TASK/MODEL-TIME``).
        seed: of initialisation, batch order and dropout (default: the recipe's, else 0).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (default: the recipe's, else ``auto``).
        progress: show a progress bar and log what is trained where.
        figures: write the training curves and the task's figures of the validation split at the end.
        resume: a run folder to continue from its last checkpoint, as configured; only ``train.*`` and ``log.*``
            overrides and the device may change.
        init: start from the weights of a trained run or shipped model (its name, :func:`list_pretrained`) instead
            of random ones: fine-tuning. Same task and model settings, and data giving the same vocabularies; the
            model section is the source's unless ``model`` or the recipe give one. Recorded as ``train.init``.

    A run killed at any moment continues with ``train(resume=path)`` and, on the CPU, ends with the same weights
    as an uninterrupted one. Inside ``torchrun`` every process calls ``train`` and trains its shard of each batch
    (:mod:`nnzoo.training.distributed`); rank 0 writes the folder.

    Example::

        >>> run = nnzoo.train("regression", overrides=["train.max_steps=20"], run_dir=tmp / "linear",
        ...                   progress=False, figures=False)
        >>> run.config.model.name, run.state["finished"]
        ('linear', True)
    """
    overrides = _override_list(overrides)
    if resume is not None:
        if task or model or recipe or seed is not None or run_dir or init is not None:
            raise UserError("--resume continues a run as configured; only --set train.*/log.* and --device may change")
        for override in overrides:
            if not override.startswith(("train.", "log.")):
                raise UserError(f"--resume cannot change {override.split('=')[0]!r}; only train.* and log.* keys")
        folder = RunDir(resume)
        cfg = folder.load_config(overrides)
    else:
        cfg = resolve_config(task, model=model, recipe=recipe, overrides=overrides, seed=seed, device=device, init=init)
        folder = RunDir(run_dir or default_run_dir(cfg))
    created = resume is None and not folder.path.exists()
    try:
        with ExitStack() as holding:
            # One training per folder, for its whole life; under torchrun rank 0 holds it (its folder is the run's).
            if distributed.env_rank() == 0:
                holding.enter_context(folder.locked())
            return _train_locked(cfg, folder, resume is not None, bool(overrides), device, progress, figures)
    except BaseException:
        if created and folder.is_empty():  # a new run that failed before writing anything leaves no folder
            shutil.rmtree(folder.path, ignore_errors=True)
        raise


def _train_locked(
    cfg: RunConfig, folder: RunDir, resuming: bool, changed: bool, device: str | None, progress: bool, figures: bool
) -> Run:
    """:func:`train`'s work, with the run folder locked (on rank 0). Nothing is written to the folder until the
    whole configuration has been checked against the task and its data."""
    resume_from = None
    if resuming:
        resume_from = folder.resume_checkpoint(cfg)  # None: killed before its first checkpoint, so from step 0
        if resume_from is not None and resume_from.state.get("finished") and not changed:
            if distributed.env_rank() == 0:
                state = resume_from.state
                log.warning("%s already finished at step %s (%s); nothing to do", folder, state["step"],
                            state["stop_reason"])  # fmt: skip
            return open(folder.path, device=device or cfg.device)
    elif distributed.env_rank() == 0 and not folder.is_empty():  # rank 0 holds the lock; the others may see it work
        raise UserError(f"{folder} is not empty; resume it with --resume {folder} or choose another --run-dir")

    # Every process (one, or each rank of a multi-process run) trains; rank 0 alone writes to the run folder.
    with distributed.setup(resolve_device(device or cfg.device)) as (world, dev):
        if not resuming:  # under torchrun each process named its own default folder: rank 0's wins
            folder = RunDir(world.broadcast(str(folder.path)))
        runner, data, network = _start(cfg, dev, world)
        if resuming:
            folder.check_info(runner.info)
        elif cfg.train.init:
            _start_from(cfg, runner.info, network)
        trainer = Trainer(runner, network, data, folder, quiet=not progress)  # checks the config against the task
        world.barrier()  # every rank has read config.toml and info.json before rank 0 rewrites them
        if world.is_main:
            if not resuming:
                folder.create_identity()
            folder.save_info(runner.info)
            folder.save_config(cfg)  # last: a folder with a config.toml is a run
            trainer.identity = folder.identity(cfg)
        if progress and world.is_main:
            parameters = sum(p.numel() for p in network.parameters())
            sizes = ", ".join(f"{k} {len(v)}" for k, v in data.items())
            where = f"{dev}" if world.size == 1 else f"{dev.type} × {world.size} processes"
            log.info("%s/%s: %s parameters on %s; data: %s; run folder %s", cfg.task, cfg.model.name,
                     f"{parameters:,}", where, sizes, folder)  # fmt: skip
        trainer.fit(resume_from)
    # The training task, which built the data (and any state a task keeps from it), with the best weights (the
    # last ones if no validation score was ever finite).
    which: CheckpointName = "best" if folder.best.is_file() else "last"
    if which == "last":
        log.warning("%s: no validation score was finite, so there is no best checkpoint; opened the last", folder)
    run = Run(TrainedModel(folder, cfg, runner, load_trained(folder.path, device=dev, checkpoint=which).model), data,
              checkpoint=which)  # fmt: skip
    if figures and world.is_main:
        run.figures("val")
    return run


def _start_from(cfg: RunConfig, info: dict, network: nn.Module) -> None:
    """Load the weights of ``cfg.train.init`` into the new run's ``network``: one clear line unless it is a model
    of the same task, model settings and vocabularies."""
    source = load_trained(cfg.train.init, device="cpu")
    if (source.config.task, source.config.model) != (cfg.task, cfg.model):
        raise UserError(
            f"--init {cfg.train.init} is a {source.config.task}/{source.config.model.name} model with other settings "
            f"than this {cfg.task}/{cfg.model.name} run; give the same model section (or none, to take its own)"
        )
    if source.task.info != info:
        raise UserError(
            f"--init {cfg.train.init} was trained on data with other vocabularies or statistics than this run's "
            "(its data.* settings differ); fine-tuning needs the same"
        )
    network.load_state_dict(source.model.state_dict())


class Start(NamedTuple):
    """What a run starts from: its configuration, the task (data loaded), the splits, the untrained model."""

    config: RunConfig
    task: Task
    data: Splits
    model: nn.Module


def build(
    task: str | None = None,
    *,
    model: str | None = None,
    recipe: str | Path | None = None,
    overrides: Sequence[str] = (),
    seed: int | None = None,
    device: str | None = None,
) -> Start:
    """What :func:`train` with these choices would start from, without training or writing anything: the config,
    the task with its data, and the model with the same initial weights (to inspect them, or to measure something
    at initialisation).

    Example::

        >>> start = nnzoo.build("regression", model="mlp", overrides=["model.hidden=[8]"])
        >>> sum(p.numel() for p in start.model.parameters()), len(start.data["train"])
        (121, 354)
    """
    cfg = resolve_config(task, model=model, recipe=recipe, overrides=overrides, seed=seed, device=device)
    return Start(cfg, *_start(cfg, resolve_device(cfg.device), distributed.World()))


def _start(cfg: RunConfig, device: torch.device, world: distributed.World) -> tuple[Task, Splits, nn.Module]:
    """The task, its data and its freshly initialised model: the one sequence every run starts with."""
    task = registry.get_task(cfg.task)(cfg, device)
    with world.main_first():  # rank 0 fills any data cache, then the others read it
        data = task.build_data()
    seed_everything(cfg.seed)
    return task, data, task.build_model()


def open(
    path: str | Path, *, checkpoint: CheckpointName = "best", device: str = "auto", overrides: Sequence[str] = ()
) -> Run:
    """A trained run, its ``checkpoint`` loaded onto ``device``, in eval mode. The data is read when an evaluation
    or a figure needs it. ``overrides`` change how it evaluates and predicts (``eval.*`` keys only, as ``--set``
    takes them: ``["eval.beam_size=10"]``).

    Example::

        >>> run = nnzoo.open(tmp / "r", checkpoint="last")
        >>> run.config.task, run.model.training
        ('regression', False)
    """
    trained = load_trained(path, device=device, checkpoint=checkpoint, overrides=overrides)
    return Run(trained, checkpoint=checkpoint)


def open_ensemble(
    paths: Sequence[str | Path],
    *,
    checkpoint: CheckpointName = "best",
    device: str = "auto",
    overrides: Sequence[str] = (),
) -> Run:
    """Trained runs of one task and the same data, as one model: ``run.model`` decodes with the mean of their
    next-symbol probabilities (:class:`~nnzoo.nn.Seq2SeqEnsemble`; the sequence-to-sequence tasks). It evaluates
    and predicts as one run does; its configuration, data and folder are the first run's.

    Example::

        >>> nnzoo.open_ensemble([tmp / "r", tmp / "r"])
        Traceback (most recent call last):
        ...
        nnzoo.errors.UserError: task 'regression' has no ensembles; the sequence-to-sequence tasks (g2p, translate) do
    """
    runs = [open(path, checkpoint=checkpoint, device=device, overrides=overrides) for path in paths]
    if len(runs) < 2:
        raise UserError(f"an ensemble needs at least two run folders, got {len(runs)}")
    first = runs[0]
    for run in runs[1:]:
        if (run.config.task, run.config.data, run.task.info) != (first.config.task, first.config.data, first.task.info):
            raise UserError(
                f"{run.path} was not trained on the same task, data and vocabularies as {first.path}; "
                "an ensemble needs them equal"
            )
    model = first.task.ensemble([run.model for run in runs])
    return Run(TrainedModel(first.folder, first.config, first.task, model), checkpoint=checkpoint)


class Run:
    """A run folder, opened: what it was trained as, its model, its log; it evaluates, predicts and draws.

    Attributes:
        path: the run folder.
        config: the resolved :class:`~nnzoo.config.RunConfig` (its ``config.toml``).
        task: the :class:`~nnzoo.tasks.base.Task`, with the ``info`` the model was built from.
        model: the ``nn.Module``, weights of ``checkpoint`` loaded, in eval mode.
        checkpoint: ``best`` (the best validation score), ``last``, or ``average`` (the mean of the snapshots kept
            with ``train.keep_evals``).
    """

    def __init__(self, trained: TrainedModel, data: Splits | None = None, checkpoint: CheckpointName = "best"):
        self.folder = trained.run
        self.path: Path = trained.run.path
        self.config: RunConfig = trained.config
        self.task: Task = trained.task
        self.model: nn.Module = trained.model
        self.checkpoint = checkpoint
        self._data = data

    def __repr__(self) -> str:
        return f"Run('{self.path}', task={self.config.task!r}, model={self.config.model.name!r})"

    @property
    def device(self) -> torch.device:
        return self.task.device

    @property
    def data(self) -> Splits:
        """The train/val/test splits, loaded on first use and checked against what the model was trained on."""
        if self._data is None:
            info = self.task.info
            data = self.task.build_data()
            self.folder.check_info(self.task.info)
            self.task.info, self._data = info, data
        return self._data

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """The training log (``metrics.jsonl``): one record per logged step or evaluation, with ``step``,
        ``epoch``, ``split`` ("train" or "val") and the values.

        Example::

            >>> [r["split"] for r in nnzoo.open(tmp / "r").metrics][-2:]
            ['train', 'val']
        """
        return read_metrics(self.folder.metrics)

    @property
    def state(self) -> dict[str, Any]:
        """The training state in the last checkpoint: ``step``, ``finished``, ``stop_reason``, ``best`` (the best
        value of ``train.monitor``), ``best_step``, ``elapsed_seconds``.

        Example::

            >>> state = nnzoo.open(tmp / "r").state
            >>> state["step"], state["finished"], state["stop_reason"]
            (50, True, 'finished 50 steps')
        """
        last = self.folder.last if self.folder.last.is_file() else self.folder.best  # a shipped model has no last
        state = load_checkpoint(last).state
        return {key: value for key, value in state.items() if key != "window"}

    @property
    def pretrained(self) -> bool:
        """Whether this is a model that ships with nnzoo (:mod:`nnzoo.pretrained`), whose folder is not written to."""
        return pretrained.is_shipped(self.path)

    def evaluate(self, split: str = "test") -> dict[str, float]:
        """The task's metrics (``task.metric_names``) of the model on ``split``.

        Example::

            >>> sorted(nnzoo.open(tmp / "r").evaluate("val"))
            ['loss', 'mae', 'r2', 'rmse']
        """
        dataset = self.data.get(split)
        if dataset is None or len(dataset) == 0:
            raise UserError(f"{self.path} has no {split} split (check its data.* fractions)")
        return evaluate(self.task, self.model, dataset)

    def baselines(self, split: str = "test") -> dict[str, dict[str, float]]:
        """Reference results on ``split`` that need no training (closed forms, naive predictors), by name.

        Example::

            >>> sorted(nnzoo.open(tmp / "r").baselines("test"))
            ['closed-form least squares', 'training mean']
        """
        return self.task.baselines(self.data, split)

    def predict(self, inputs: Iterable[Any], **options: Any) -> list[Any]:
        """The model's answer for each input, as the task's typed results (not text): e.g. a number for a table
        row, phonemes for a word, a label with probabilities for an image. ``options`` are the task's
        (``beam_size=``, ``temperature=`` …; see its ``predict``).

        Example::

            >>> row = {"CRIM": 0.006, "ZN": 18, "INDUS": 2.3, "CHAS": 0, "NOX": 0.54, "RM": 6.6, "AGE": 65,
            ...        "DIS": 4.1, "RAD": 1, "TAX": 296, "PTRATIO": 15.3, "B": 397, "LSTAT": 5}
            >>> [value] = nnzoo.open(tmp / "r").predict([row])
            >>> 10 < value < 50  # k$
            True
        """
        if isinstance(inputs, (str, bytes)):
            raise UserError("predict takes a list of inputs; put a single one in a list")
        with torch.no_grad():
            return self.task.predict(self.model, list(inputs), **options)

    def figures(self, split: str = "val", folder: str | Path | None = None) -> list[Path]:
        """Draw the training curves and the task's figures of ``split`` into ``folder`` (default: the run's
        ``figures/``; a shipped model's folder is not written to, so it needs ``folder``); return the paths written.

        Example::

            >>> [path.name for path in nnzoo.open(tmp / "r").figures("test", folder=tmp / "drawn")]
            ['curves.png', 'predicted_vs_true_test.png']
        """
        from nnzoo.viz import plot_training_curves

        if folder is None and self.pretrained:
            raise UserError(f"{self.path} is a model shipped with nnzoo; give the folder to draw into")
        folder = Path(folder) if folder is not None else self.folder.figures
        paths = []
        records = self.metrics
        if records:
            paths.append(plot_training_curves(records, folder / "curves.png"))
        self.model.eval()
        with torch.no_grad():
            paths += self.task.figures(self.model, self.data, split, folder)
        return paths

    def resume(self, *, overrides: Sequence[str] = (), device: str | None = None, progress: bool = True) -> Run:
        """Continue training this run from its last checkpoint (:func:`train` with ``resume=``); ``overrides`` may
        change ``train.*`` and ``log.*`` keys.

        Example::

            >>> run = nnzoo.open(tmp / "r")
            >>> run.resume(progress=False).state["step"]  # already finished: nothing to do
            50
        """
        if self.pretrained:
            raise UserError(f"{self.path} is a model shipped with nnzoo; it has no training state to resume")
        return train(resume=self.path, overrides=overrides, device=device, progress=progress)


def _override_list(overrides: Sequence[str]) -> list[str]:
    if isinstance(overrides, str):
        raise UserError(f"overrides is a list of 'key=value' strings, e.g. [{overrides!r}]")
    return list(overrides)


__all__ = ["Start", *_API]
