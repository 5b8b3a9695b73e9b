"""What a task provides to the trainer and the command line.

A task owns its data, its model head, its loss and its metrics; the :class:`~nnzoo.training.Trainer` knows nothing
else about it. Subclasses register with ``@register_task("name")`` and their models with
``@register_model("name", "model")``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from nnzoo import registry
from nnzoo.config import DataConfig, EvalConfig, RunConfig
from nnzoo.errors import UserError
from nnzoo.training.runtime import to_device

if TYPE_CHECKING:
    from nnzoo.export import ExportSpec

Splits = dict[str, Dataset]  # "train", "val", "test"


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
    # Why `nnzoo export` refuses the task's models; the tasks it can export override export_spec() instead.
    not_exportable_because: ClassVar[str] = "the task defines no ONNX export"

    def __init__(self, cfg: RunConfig, device: torch.device | None = None):
        self.cfg = cfg
        self.device = device or torch.device("cpu")
        # JSON-able facts the model is built from (sizes, vocabularies, scaler statistics). build_data() fills
        # it; it is saved with the run so that predict() can rebuild the model without loading the data.
        self.info: dict[str, Any] = {}
        self.run_dir: Path | None = None  # the run folder, once there is one (predict writes figures there)

    # --- data and model --------------------------------------------------------------------------------------
    def build_data(self) -> Splits:
        raise NotImplementedError

    def build_model(self) -> nn.Module:
        entry = registry.get_model(self.name, self.cfg.model.name)
        return entry.build(self.cfg.model, self.info)

    @classmethod
    def prepare_data(cls) -> str:
        """Load (and cache) every data set of the task once; return a one-line summary for ``nnzoo data``."""
        return "nothing to prepare"

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: Any) -> Tensor | dict[str, Tensor]:
        """The training loss of one batch: a scalar, or a dict whose "loss" is optimised and the rest logged."""
        raise NotImplementedError

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
    def add_predict_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("inputs", nargs="*")

    def predict(self, model: nn.Module, args: argparse.Namespace) -> str:
        """Run the model on the user's inputs; return the text to print."""
        raise NotImplementedError

    # --- export ------------------------------------------------------------------------------------------------
    def export_spec(self, model: nn.Module) -> ExportSpec:
        """What ``nnzoo export`` traces for ``model``: the module, example inputs, names and variable axes (see
        :class:`nnzoo.export.ExportSpec`). Tasks whose models answer in one forward pass override it; this one
        refuses, saying why and which tasks can be exported."""
        from nnzoo.export import exportable_tasks

        raise UserError(
            f"{self.name}/{self.cfg.model.name} cannot be exported to ONNX: {self.not_exportable_because}; "
            f"exportable tasks: {', '.join(exportable_tasks())}"
        )

    # --- helpers for subclasses ------------------------------------------------------------------------------
    def batches(self, dataset: Dataset, batch_size: int | None = None) -> Iterator[Any]:
        """The split in order, in batches of ``batch_size`` (default: the evaluation batch size), on the device."""
        size = batch_size or self.cfg.train.eval_batch_size or self.cfg.train.batch_size
        collate = getattr(dataset, "collate", None)
        loader = DataLoader(dataset, batch_size=size, shuffle=False, collate_fn=collate)
        for batch in loader:
            yield to_device(batch, self.device)
