r"""Task ``regression``: multiple linear regression with 13 inputs, the notes' first example.

Boston housing (506 districts, 13 inputs such as crime rate CRIM and rooms per dwelling RM) predicts MEDV, the
median home value in k$. Inputs and target are standardised with training-split statistics; the model sees
:math:`z = (x - \mu_x) / \sigma_x` and predicts :math:`(y - \mu_y) / \sigma_y`, so its loss is the MSE in units of
the target's spread and its linear coefficients are comparable across features. Those statistics are buffers of
the model, which therefore takes and returns values in the table's own units.

The ``linear`` model trained by gradient descent must reach the closed-form least-squares solution
:math:`\hat\beta = (Z^\top Z)^{-1} Z^\top t`; the tests check it to 1e-3, and ``nnzoo eval`` reports the closed
form as a baseline beside every run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo import metrics
from nnzoo.config import DataConfig, ModelConfig
from nnzoo.data import TensorData, split_indices
from nnzoo.data.tables import BUILTIN_TABLES, Table, design_matrix, load_builtin, read_csv
from nnzoo.errors import ConfigError, UserError
from nnzoo.nn.mlp import MLP, LinearRegression, MLPConfig
from nnzoo.registry import register_model, register_task
from nnzoo.tasks.base import Published, Splits, Task
from nnzoo.viz.saving import save_figure


@dataclass
class RegressionData(DataConfig):
    table: Literal["boston", "diabetes", "wine"] = "boston"
    csv: str = ""  # a CSV file with a header line, used instead of `table`
    target: str = ""  # the column to predict; default: the table's own (MEDV, progression, alcohol)
    drop: list[str] = field(default_factory=list)  # columns left out of the inputs, e.g. ["B"]
    one_hot: list[str] = field(default_factory=list)  # categorical columns, one indicator per training category
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    split_seed: int = 0  # the split does not change with the training seed

    def __post_init__(self) -> None:
        if not 0 < self.val_fraction < 1 or not 0 <= self.test_fraction < 1:
            raise ConfigError("data.val_fraction must be in (0, 1) and data.test_fraction in [0, 1)")
        if self.val_fraction + self.test_fraction >= 1:
            raise ConfigError("data.val_fraction + data.test_fraction must be below 1")


class Standardized(nn.Module):
    r"""A regression network between the training split's scalers.

    .. math::
        \hat y = \mu_y + \sigma_y \, f\!\left(\frac{x - \mu_x}{\sigma_x}\right)

    Shapes: x (B, d) in the table's units -> ŷ (B,) in the target's units. ``core`` maps (B, d) -> (B, 1).
    """

    def __init__(self, core: nn.Module, info: dict):
        super().__init__()
        self.core = core
        self.register_buffer("x_mean", torch.tensor(info["x_mean"], dtype=torch.float32))
        self.register_buffer("x_std", torch.tensor(info["x_std"], dtype=torch.float32))
        self.register_buffer("y_mean", torch.tensor(info["y_mean"], dtype=torch.float32))
        self.register_buffer("y_std", torch.tensor(info["y_std"], dtype=torch.float32))

    def scaled(self, x: Tensor) -> Tensor:
        """The core's output, in standard deviations of the target: (B, d) -> (B,)."""
        return self.core((x - self.x_mean) / self.x_std).squeeze(-1)

    def scale_target(self, y: Tensor) -> Tensor:
        return (y - self.y_mean) / self.y_std

    def forward(self, x: Tensor) -> Tensor:
        return self.y_mean + self.y_std * self.scaled(x)


@register_model("regression", "linear")
def build_linear(cfg: ModelConfig, info: dict) -> nn.Module:
    """One neuron, no activation: ŷ = w·x + b (multiple linear regression)."""
    return Standardized(LinearRegression(len(info["features"]), 1), info)


@register_model(
    "regression", "mlp", config=MLPConfig, train_defaults={"optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-4}
)
def build_mlp(cfg: MLPConfig, info: dict) -> nn.Module:
    """Multi-layer perceptron (hidden sizes and activation configurable)."""
    return Standardized(MLP(len(info["features"]), 1, cfg), info)


@register_task("regression")
class Regression(Task):
    """Predict a number from a table's columns (Boston housing: 13 inputs -> median home value)."""

    DataConfig = RegressionData
    default_model = "linear"
    metric_names = ("loss", "rmse", "mae", "r2")
    published = (
        Published(
            "Harrison & Rubinfeld's hedonic regression (in-sample, log target, transformed features)",
            {"r2": 0.81},
            "Harrison & Rubinfeld (1978), J. Environ. Econ. Manag. 5(1)",
        ),
    )
    label_smoothing_applies = False  # a regression loss
    train_defaults: ClassVar[dict] = {
        "batch_size": 32,
        "epochs": 200,
        "lr": 0.01,
        "schedule": "cosine",
        "monitor": "rmse",
    }

    # --- data ----------------------------------------------------------------------------------------------------
    def load_table(self) -> Table:
        cfg = self.cfg.data
        return read_csv(cfg.csv) if cfg.csv else load_builtin(cfg.table)

    def build_data(self) -> Splits:
        cfg = self.cfg.data
        table = self.load_table()
        target = cfg.target or table.default_target
        if not target:
            raise UserError(
                f"name the column to predict with --set data.target=NAME; columns: {', '.join(table.columns)}"
            )
        table.require([target], "target")
        table.require(cfg.drop, "data.drop")
        table.require(cfg.one_hot, "data.one_hot")
        columns = [c for c in table.columns if c != target and c not in cfg.drop]
        if not columns:
            raise UserError(f"no input columns left in {table.source} after taking the target and data.drop out")
        if len(table) < 10:
            raise UserError(f"{table.source} has {len(table)} rows; at least 10 are needed for a train/val/test split")
        rows = split_indices(len(table), cfg.val_fraction, cfg.test_fraction, cfg.split_seed)
        one_hot = {c: table.categories(c, rows["train"]) for c in columns if c in cfg.one_hot}
        x, features = design_matrix(table, columns, one_hot)
        y = table.numeric(target)
        x_mean, x_std = x[rows["train"]].mean(0), x[rows["train"]].std(0)
        x_std[x_std == 0] = 1.0  # a constant column carries no information; leave it unscaled
        y_std = y[rows["train"]].std()
        self.info = {
            "source": table.source,
            "columns": columns,
            "one_hot": one_hot,
            "features": features,
            "target": target,
            "x_mean": x_mean.tolist(),
            "x_std": x_std.tolist(),
            "y_mean": float(y[rows["train"]].mean()),
            "y_std": float(y_std) if y_std > 0 else 1.0,
        }
        xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
        return {name: TensorData(xt[idx], yt[idx]) for name, idx in rows.items()}

    @classmethod
    def prepare_data(cls) -> str:
        tables = [load_builtin(name) for name in BUILTIN_TABLES]
        return ", ".join(f"{name} {len(t)}×{len(t.columns)}" for name, t in zip(BUILTIN_TABLES, tables))

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: Standardized, batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch
        return F.mse_loss(model.scaled(x), model.scale_target(y))

    def evaluate(self, model: Standardized, dataset: TensorData) -> dict[str, float]:
        prediction = torch.cat([model(x) for x, _ in self.batches(dataset)]).float().cpu()
        return self._score(prediction, dataset.tensors[1])

    def _score(self, prediction: Tensor, target: Tensor) -> dict[str, float]:
        scaled_error = (prediction - target) / self.info["y_std"]
        return {
            "loss": float(torch.mean(scaled_error**2)),
            "rmse": metrics.rmse(prediction, target),
            "mae": metrics.mae(prediction, target),
            "r2": metrics.r2(prediction, target),
        }

    def closed_form(self, data: Splits) -> tuple[np.ndarray, float]:
        """Least-squares weights and bias on the standardised training split (float64, via ``lstsq``)."""
        z, t = self._standardized(data["train"])
        solution, *_ = np.linalg.lstsq(np.column_stack([z, np.ones(len(z))]), t, rcond=None)
        return solution[:-1], float(solution[-1])

    def _standardized(self, dataset: TensorData) -> tuple[np.ndarray, np.ndarray]:
        x, y = (t.double().numpy() for t in dataset.tensors)
        info = self.info
        return (x - np.array(info["x_mean"])) / np.array(info["x_std"]), (y - info["y_mean"]) / info["y_std"]

    def baselines(self, data: Splits, split: str) -> dict[str, dict[str, float]]:
        weights, bias = self.closed_form(data)
        z, _ = self._standardized(data[split])
        target = data[split].tensors[1]
        least_squares = torch.tensor(self.info["y_mean"] + self.info["y_std"] * (z @ weights + bias))
        mean = torch.full_like(target, self.info["y_mean"])
        return {
            "closed-form least squares": self._score(least_squares.float(), target),
            "training mean": self._score(mean, target),
        }

    # --- figures -----------------------------------------------------------------------------------------------
    def figures(self, model: Standardized, data: Splits, split: str, folder: Path) -> list[Path]:
        dataset = data[split]
        with torch.no_grad():
            prediction = torch.cat([model(x) for x, _ in self.batches(dataset)]).float().cpu()
        target = dataset.tensors[1]
        score = self._score(prediction, target)
        unit = self.info["target"]
        fig = Figure(figsize=(4.6, 4.4), layout="constrained")
        ax = fig.subplots()
        ax.scatter(target, prediction, s=12, alpha=0.7)
        low, high = float(min(target.min(), prediction.min())), float(max(target.max(), prediction.max()))
        ax.plot([low, high], [low, high], color="0.4", lw=1, ls="--", label="ŷ = y")
        ax.set(
            xlabel=f"true {unit}",
            ylabel=f"predicted {unit}",
            title=f"{split}: RMSE {score['rmse']:.3g}, R² {score['r2']:.3f}",
        )
        ax.legend(loc="upper left")
        paths = [folder / f"predicted_vs_true_{split}.png"]
        save_figure(fig, paths[0], dpi=110)

        if isinstance(model.core, LinearRegression):
            weights, _ = self.closed_form(data)
            trained = model.core.weight.detach().cpu().numpy().ravel()
            names = self.info["features"]
            fig = Figure(figsize=(max(5.0, 0.45 * len(names) + 2), 3.6), layout="constrained")
            ax = fig.subplots()
            pos = np.arange(len(names))
            ax.bar(pos - 0.2, weights, 0.4, label="closed form")
            ax.bar(pos + 0.2, trained, 0.4, label="trained")
            ax.set_xticks(pos, names, rotation=60, ha="right")
            ax.set(ylabel="standardised coefficient", title=f"coefficients for {unit}")
            ax.axhline(0, color="0.5", lw=0.8)
            ax.legend()
            paths.append(folder / "coefficients.png")
            save_figure(fig, paths[1], dpi=110)
        return paths

    # --- prediction --------------------------------------------------------------------------------------------
    def predict(self, model: Standardized, inputs: list, **options) -> list[float]:
        """The target, in its units, for each row: a mapping of every input column to its value (text or number,
        as in the CSV), or a sequence of the values in ``info["columns"]`` order.

        Example: ``run.predict([{"CRIM": 0.006, …, "LSTAT": 5.0}])`` gives ``[MEDV]`` in k$.
        """
        if options:
            raise UserError(f"regression's predict takes no options, got {', '.join(options)}")
        if not inputs:
            return []
        columns = self.info["columns"]
        rows = []
        for row in inputs:
            if isinstance(row, Mapping):
                missing = [c for c in columns if c not in row]
                if missing:
                    raise UserError(f"a row lacks the column(s) {', '.join(missing)}; it needs {', '.join(columns)}")
                rows.append([row[c] for c in columns])
            else:
                values = list(row)
                if len(values) != len(columns):
                    raise UserError(f"a row needs {len(columns)} values ({', '.join(columns)}), got {len(values)}")
                rows.append(values)
        values = {c: np.array([r[i] for r in rows], dtype=object) for i, c in enumerate(columns)}
        table = Table("input", values, np.arange(1, len(rows) + 1), line_name="row")
        x, _ = design_matrix(table, columns, self.info["one_hot"])
        return model(torch.tensor(x, dtype=torch.float32, device=self.device)).cpu().tolist()
