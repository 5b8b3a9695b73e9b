"""What a task provides: data, loss, metrics, figures and typed predictions.

A task owns its data, its model head, its loss and its metrics; the :class:`~nnzoo.training.Trainer` knows nothing
else about it. Subclasses register with ``@register_task("name")`` and their models with
``@register_model("name", "model")``. A task knows nothing of the command line or of file formats for export:
``predict`` takes Python inputs and returns Python results (numbers, strings, tensors, small dataclasses), which
the CLI's adapter for the task (:mod:`nnzoo.cli.predict`) reads from arguments and prints.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from nnzoo import registry
from nnzoo.config import DataConfig, EvalConfig, RunConfig
from nnzoo.errors import UserError
from nnzoo.nn.recurrent import set_recurrent_path
from nnzoo.training.runtime import to_device

Splits = dict[str, Dataset]  # "train", "val", "test"


@dataclass(frozen=True)
class Classification:
    """A classifier's answer for one input: the most probable label, and every label's probability."""

    label: str
    probabilities: Mapping[str, float]

    def top(self, k: int) -> list[tuple[str, float]]:
        """The ``k`` most probable labels with their probabilities, most probable first."""
        return sorted(self.probabilities.items(), key=lambda item: -item[1])[:k]


@dataclass(frozen=True)
class Published:
    """A published result, for context next to ours (``nnzoo report``): the system, its metrics in the task's own
    names and units, where it comes from, and the data settings it applies to (``data.dataset``: …)."""

    system: str
    metrics: Mapping[str, float]
    source: str
    when: Mapping[str, Any] = field(default_factory=dict)

    def applies_to(self, cfg: RunConfig) -> bool:
        return all(getattr(cfg.data, key, None) == value for key, value in self.when.items())


class Task:
    """Base class of every task. Class attributes describe it; methods build and judge its models."""

    name: ClassVar[str]
    DataConfig: ClassVar[type[DataConfig]] = DataConfig
    EvalConfig: ClassVar[type[EvalConfig]] = EvalConfig
    default_model: ClassVar[str]
    train_defaults: ClassVar[Mapping[str, Any]] = {}  # below the model's defaults and the recipe
    metric_names: ClassVar[tuple[str, ...]] = ("loss",)  # what evaluate() returns, in display order
    # Whether the training loss honours train.label_smoothing (classification losses do, regression losses not).
    label_smoothing_applies: ClassVar[bool] = True
    published: ClassVar[tuple[Published, ...]] = ()  # published results on the same data, as reported

    def __init__(self, cfg: RunConfig, device: torch.device | None = None):
        self.cfg = cfg
        self.device = device or torch.device("cpu")
        # JSON-able facts the model is built from (sizes, vocabularies, scaler statistics). build_data() fills
        # it; it is saved with the run so that predict() can rebuild the model without loading the data.
        self.info: dict[str, Any] = {}
        self.run_dir: Path | None = None  # the run folder while training (the GAN records its progress there)

    # --- data and model --------------------------------------------------------------------------------------
    def build_data(self) -> Splits:
        raise NotImplementedError

    def build_model(self) -> nn.Module:
        entry = registry.get_model(self.name, self.cfg.model.name)
        return set_recurrent_path(entry.build(self.cfg.model, self.info), self.cfg.train.recurrent_path)

    def ensemble(self, models: list[nn.Module]) -> nn.Module:
        """Trained models of this task (same vocabularies) as one model, for :func:`nnzoo.open_ensemble`."""
        raise UserError(f"task {self.name!r} has no ensembles; the sequence-to-sequence tasks (g2p, translate) do")

    @classmethod
    def prepare_data(cls) -> str:
        """Load (and cache) every data set of the task once; return a one-line summary for ``nnzoo data``."""
        return "nothing to prepare"

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: Any) -> Tensor | dict[str, Tensor]:
        """The training loss of one batch: a scalar, or a dict whose "loss" is optimised and the rest logged."""
        raise NotImplementedError

    def training_state(self) -> dict[str, Tensor]:
        """What the task carries from one training batch to the next (a recurrent state, say), as named tensors.
        The trainer saves it in every checkpoint and hands it to :meth:`load_training_state` on resume, so that a
        resumed run trains exactly as an uninterrupted one. Most tasks carry nothing."""
        return {}

    def load_training_state(self, state: Mapping[str, Tensor]) -> None:
        """Take back what :meth:`training_state` returned (an empty mapping: nothing carried yet)."""

    def evaluate(self, model: nn.Module, dataset: Dataset) -> dict[str, float]:
        """Metrics of ``model`` on a split; called in eval mode under ``torch.no_grad()``."""
        raise NotImplementedError

    def validate(self, model: nn.Module, dataset: Dataset) -> dict[str, float]:
        """The evaluation that monitors training (best checkpoint, early stopping): by default :meth:`evaluate`;
        a task may make it cheaper (e.g. greedy instead of beam search). Same metric names."""
        return self.evaluate(model, dataset)

    def baselines(self, data: Splits, split: str) -> dict[str, dict[str, float]]:
        """Reference results on ``split`` that need no training (closed forms, naive predictors)."""
        return {}

    def figures(self, model: nn.Module, data: Splits, split: str, folder: Path) -> list[Path]:
        """Write the task's figures for ``split`` into ``folder``; return their paths."""
        return []

    # --- prediction --------------------------------------------------------------------------------------------
    def predict(self, model: nn.Module, inputs: list[Any], **options: Any) -> list[Any]:
        """The model's answer for each of ``inputs`` (the task's Python types, e.g. rows, words, images), as typed
        results in the same order. Called in eval mode under ``torch.no_grad()``; bad input is a :class:`UserError`
        that names what is wrong and what is accepted."""
        raise NotImplementedError

    # --- helpers for subclasses ------------------------------------------------------------------------------
    def batches(self, dataset: Dataset, batch_size: int | None = None) -> Iterator[Any]:
        """The split in order, in batches of ``batch_size`` (default: the evaluation batch size), on the device."""
        size = batch_size or self.cfg.train.eval_batch_size or self.cfg.train.batch_size
        collate = getattr(dataset, "collate", None)
        loader = DataLoader(dataset, batch_size=size, shuffle=False, collate_fn=collate)
        for batch in loader:
            yield to_device(batch, self.device)
