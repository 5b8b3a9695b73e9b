r"""Task ``forecast``: the next values of a real time series, judged by a rolling-origin backtest.

The series is cut in time: the first part trains, the next ``val_fraction`` picks the best checkpoint, the last
``test_fraction`` is the backtest. From every origin t of a part (every ``stride`` steps), a model sees the
``window`` values before t and forecasts the ``horizon`` values from t on. The scaler is fitted on the training
part, the networks train on windows that lie wholly inside it, and ARIMA's coefficients are estimated on it:
no forecast ever sees a value at or after its origin (``tests/test_forecast.py`` perturbs the future to check).

Metrics, over every origin and every step of the horizon: MAE, RMSE and MASE, the MAE divided by the in-sample
one-step error of the seasonal-naive forecast on the training part (Hyndman & Koehler 2006). MASE < 1 beats that
benchmark. Baselines in the same table: naive (the last value), seasonal naive (the value one period earlier) and
ARIMA (statsmodels' SARIMAX, orders per series in :data:`SERIES_DEFAULTS`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo import metrics
from nnzoo.config import DataConfig, check_split_fractions
from nnzoo.data import TensorData, cache_folder
from nnzoo.data.series import BUILTIN_SERIES, Series, load_builtin_series, read_series_csv
from nnzoo.errors import ConfigError, UserError
from nnzoo.files import write_atomic
from nnzoo.nn.forecasters import (
    ConvolutionalForecaster,
    ConvolutionalForecasterConfig,
    RecurrentForecasterConfig,
    ScaledForecaster,
    TransformerForecaster,
    TransformerForecasterConfig,
    recurrent_forecaster,
)
from nnzoo.optional import require
from nnzoo.registry import register_model, register_task
from nnzoo.tasks.base import Splits, Task

# Per built-in series: input window, horizon, scaling and the ARIMA baseline's (p, d, q) and seasonal (P, D, Q).
SERIES_DEFAULTS: dict[str, dict] = {
    # three solar cycles in, half a cycle out; AR(9) is the classic model of the sunspot numbers (Box & Jenkins)
    "sunspots": {"window": 33, "horizon": 5, "scaling": "standard", "arima": (9, 0, 0), "seasonal": (0, 0, 0)},
    # two years in, half a year out; the trend makes relative scaling the natural one
    "co2": {"window": 104, "horizon": 26, "scaling": "relative", "arima": (1, 1, 1), "seasonal": (0, 1, 1)},
    # a local level: ARIMA(0,1,1) is exponential smoothing
    "nile": {"window": 20, "horizon": 5, "scaling": "standard", "arima": (0, 1, 1), "seasonal": (0, 0, 0)},
    "elnino": {"window": 48, "horizon": 12, "scaling": "standard", "arima": (1, 0, 1), "seasonal": (1, 0, 1)},
}
CSV_DEFAULTS = {"window": 30, "horizon": 10, "scaling": "relative", "arima": (1, 1, 1), "seasonal": (0, 0, 0)}


@dataclass
class ForecastData(DataConfig):
    series: Literal["sunspots", "co2", "nile", "elnino"] = "sunspots"
    csv: str = ""  # a CSV file (header, one row per time step, oldest first), used instead of `series`
    column: str = ""  # the CSV column to forecast
    time_column: str = ""  # optional numeric CSV column of times (for figures and predictions)
    period: int = 0  # season length m for seasonal naive and MASE; 0: the series' own (a CSV: 1)
    window: int = 0  # input values per forecast; 0: the series' default
    horizon: int = 0  # values forecast from each origin; 0: the series' default
    scaling: Literal["auto", "standard", "relative"] = "auto"  # auto: the series' default
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    stride: int = 1  # steps between two origins of the backtest
    arima: list[int] = field(default_factory=list)  # (p, d, q); empty: the series' default
    seasonal_arima: list[int] = field(default_factory=list)  # (P, D, Q) with period m; empty: the series' default

    def __post_init__(self) -> None:
        if self.period < 0 or self.window < 0 or self.horizon < 0:
            raise ConfigError("data.period, data.window and data.horizon must be >= 0 (0: the series' default)")
        if self.stride < 1:
            raise ConfigError("data.stride must be >= 1")
        check_split_fractions(self.val_fraction, self.test_fraction)
        for name in ("arima", "seasonal_arima"):
            orders = getattr(self, name)
            if orders and (len(orders) != 3 or min(orders) < 0):
                raise ConfigError(f"data.{name} must be three orders >= 0, such as [1, 1, 1], got {orders}")


def _scaled(core: nn.Module, info: dict) -> ScaledForecaster:
    return ScaledForecaster(core, info["center"], info["scale"], info["scaling"] == "relative")


def _register_recurrent(cell: str, title: str) -> None:
    def build(cfg: RecurrentForecasterConfig, info: dict) -> nn.Module:
        return _scaled(recurrent_forecaster(cell, cfg), info)

    build.__doc__ = f"{title}: encoder–decoder over the horizon, or many-to-one next-step (model.strategy)."
    register_model("forecast", cell, config=RecurrentForecasterConfig)(build)


for _cell, _title in (("rnn", "Elman RNN"), ("lstm", "LSTM"), ("gru", "GRU")):
    _register_recurrent(_cell, _title)


@register_model("forecast", "transformer", config=TransformerForecasterConfig)
def build_transformer(cfg: TransformerForecasterConfig, info: dict) -> nn.Module:
    """Transformer encoder over the window; the last position emits the whole horizon at once."""
    return _scaled(TransformerForecaster(info["horizon"], info["window"] + 1, cfg), info)


@register_model("forecast", "tcn", config=ConvolutionalForecasterConfig)
def build_tcn(cfg: ConvolutionalForecasterConfig, info: dict) -> nn.Module:
    """Temporal convolutional network over the window (causal dilated convolutions); the last position emits the
    horizon."""
    return _scaled(ConvolutionalForecaster(info["horizon"], info["window"], cfg), info)


@dataclass
class Backtest:
    """Where a series is cut: training part ``[0, train_end)``, validation ``[train_end, val_end)``, test after."""

    train_end: int
    val_end: int
    n: int

    def origins(self, split: str, window: int, horizon: int, stride: int) -> np.ndarray:
        """Origins t of a split: training windows lie wholly in the training part; val/test forecasts start in the
        split and end inside it (a validation forecast never reaches the test part)."""
        if split == "train":
            return np.arange(window, self.train_end - horizon + 1)
        start, end = (self.train_end, self.val_end) if split == "val" else (self.val_end, self.n)
        return np.arange(start, end - horizon + 1, stride)


@register_task("forecast")
class Forecast(Task):
    """Forecast a real time series (sunspots, Mauna Loa CO2, Nile, El Niño, or a CSV) with a rolling-origin backtest."""

    DataConfig = ForecastData
    default_model = "lstm"
    metric_names = ("loss", "mae", "rmse", "mase")
    label_smoothing_applies = False  # a regression loss
    # The same budget in steps for every series (200 epochs of sunspots, 30 of CO2), validated every 50 steps.
    train_defaults: ClassVar[dict] = {
        "batch_size": 32,
        "max_steps": 1500,
        "eval_every": 50,
        "lr": 3e-3,
        "weight_decay": 1e-4,
        "optimizer": "adamw",
        "grad_clip": 1.0,
        "schedule": "cosine",
        "monitor": "mase",
        "patience": 10,
    }

    # --- data ----------------------------------------------------------------------------------------------------
    def load_series(self) -> Series:
        cfg = self.cfg.data
        if cfg.csv:
            return read_series_csv(cfg.csv, cfg.column, cfg.period or 1, cfg.time_column)
        series = load_builtin_series(cfg.series)
        if cfg.period:
            series.period = cfg.period
        return series

    def settings(self) -> dict:
        """The data settings in force: the configuration, with the series' defaults where it says 0 or auto."""
        cfg = self.cfg.data
        defaults = CSV_DEFAULTS if cfg.csv else SERIES_DEFAULTS[cfg.series]
        return {
            "window": cfg.window or defaults["window"],
            "horizon": cfg.horizon or defaults["horizon"],
            "scaling": defaults["scaling"] if cfg.scaling == "auto" else cfg.scaling,
            "arima": tuple(cfg.arima or defaults["arima"]),
            "seasonal": tuple(cfg.seasonal_arima or defaults["seasonal"]),
        }

    def build_data(self) -> Splits:
        cfg = self.cfg.data
        series = self.load_series()
        settings = self.settings()
        window, horizon = settings["window"], settings["horizon"]
        n = len(series)
        n_test, n_val = round(n * cfg.test_fraction), round(n * cfg.val_fraction)
        cut = Backtest(n - n_test - n_val, n - n_test, n)
        if min(n_val, n_test) < horizon or cut.train_end < window + horizon + 10:
            raise UserError(
                f"{series.source} has {n} values: too short for window {window} + horizon {horizon} with "
                f"val/test fractions {cfg.val_fraction}/{cfg.test_fraction}; the training part "
                f"({cut.train_end} values) needs at least window + horizon + 10, and the validation and test parts "
                f"({n_val}, {n_test}) at least the horizon each. Shorten data.window or data.horizon."
            )
        if cut.train_end <= series.period:
            raise UserError(
                f"the training part ({cut.train_end} values) must be longer than the period {series.period}"
            )
        train_part = series.values[: cut.train_end]
        mase_scale = metrics.seasonal_naive_scale(train_part, series.period)
        if mase_scale == 0:
            raise UserError(
                f"the training part repeats itself exactly every {series.period} values, so the seasonal-naive "
                "forecast is perfect there and MASE would divide by zero; set data.period to another season length"
            )
        relative = settings["scaling"] == "relative"
        spread = np.diff(train_part) if relative else train_part
        self.series, self.cut = series, cut
        self.info = {
            "series": series.name,
            "source": series.source,
            "unit": series.unit,
            "period": series.period,
            **{k: settings[k] for k in ("window", "horizon", "scaling")},
            "center": float(train_part.mean()),
            "scale": float(spread.std()) or 1.0,
            "mase_scale": mase_scale,
            "length": n,
            "train_end": cut.train_end,
            "val_end": cut.val_end,
        }
        return {split: self.windows(split) for split in ("train", "val", "test")}

    def origins(self, split: str) -> np.ndarray:
        """The origins of ``split`` in time order: every one for training, every ``data.stride``-th otherwise."""
        stride = 1 if split == "train" else self.cfg.data.stride
        return self.cut.origins(split, self.info["window"], self.info["horizon"], stride)

    def windows(self, split: str) -> TensorData:
        """(window (N, W), target (N, H), origin (N,)) for every origin of ``split``, in time order."""
        window, horizon = self.info["window"], self.info["horizon"]
        origins = self.origins(split)
        values = torch.tensor(self.series.values, dtype=torch.float32)
        x = torch.stack([values[t - window : t] for t in origins]) if len(origins) else torch.zeros(0, window)
        y = torch.stack([values[t : t + horizon] for t in origins]) if len(origins) else torch.zeros(0, horizon)
        return TensorData(x, y, torch.as_tensor(origins, dtype=torch.long))

    @classmethod
    def prepare_data(cls) -> str:
        return ", ".join(f"{name} {len(load_builtin_series(name))}" for name in BUILTIN_SERIES)

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: ScaledForecaster, batch: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        window, target, _ = batch
        steps = target.shape[1] if model.train_steps_all else 1
        return F.mse_loss(model.scaled_forecast(window, steps), model.to_scaled(window, target[:, :steps]))

    def forecasts(self, model: ScaledForecaster, dataset: TensorData) -> Tensor:
        """The model's forecasts (N, H) from every origin of a split."""
        horizon = self.info["horizon"]
        return torch.cat([model(window, horizon) for window, _, _ in self.batches(dataset)]).float().cpu()

    def evaluate(self, model: ScaledForecaster, dataset: TensorData) -> dict[str, float]:
        prediction = self.forecasts(model, dataset)
        target = dataset.tensors[1]
        scaled_error = (prediction - target) / self.info["scale"]  # the reference of the scaler cancels out
        return {"loss": float(torch.mean(scaled_error**2)), **self.score(prediction, target)}

    def score(self, prediction: Tensor, target: Tensor) -> dict[str, float]:
        return {
            "mae": metrics.mae(prediction, target),
            "rmse": metrics.rmse(prediction, target),
            "mase": metrics.mase(prediction, target, self.info["mase_scale"]),
        }

    def baselines(self, data: Splits, split: str) -> dict[str, dict[str, float]]:
        target = data[split].tensors[1]
        return {
            name: self.score(torch.as_tensor(f, dtype=torch.float32), target)
            for name, f in self.baseline_forecasts(split).items()
        }

    @functools.cache  # noqa: B019 - one task instance per command: each split's forecasts are made once
    def baseline_forecasts(self, split: str) -> dict[str, np.ndarray]:
        """Naive, seasonal-naive and ARIMA forecasts (N, H) from the same origins as the networks."""
        origins = self.origins(split)
        settings, period = self.settings(), self.series.period
        return {
            "naive": naive_forecasts(self.series.values, origins, self.info["horizon"]),
            f"seasonal naive (m={period})": seasonal_naive_forecasts(
                self.series.values, origins, self.info["horizon"], period
            ),
            arima_name(settings["arima"], settings["seasonal"], period): arima_forecasts(
                self.fitted_arima, self.series.values, origins, self.info["horizon"]
            ),
        }

    @functools.cached_property
    def fitted_arima(self):
        """The ARIMA baseline, its coefficients estimated on the training part (once per command)."""
        settings = self.settings()
        return fit_arima(
            self.series.values[: self.cut.train_end], settings["arima"], settings["seasonal"], self.series.period
        )

    # --- figures -----------------------------------------------------------------------------------------------
    def figures(self, model: ScaledForecaster, data: Splits, split: str, folder: Path) -> list[Path]:
        from nnzoo.viz.forecast import plot_backtest, plot_error_by_horizon

        dataset = data[split]
        prediction = self.forecasts(model, dataset).numpy()
        target, origins = dataset.tensors[1].numpy(), dataset.tensors[2].numpy()
        baselines = self.baseline_forecasts(split)
        label = self.cfg.model.name
        errors = {label: np.abs(prediction - target).mean(0)}
        errors.update({name: np.abs(f - target).mean(0) for name, f in baselines.items()})
        arima = next(name for name in baselines if name.startswith(("ARIMA", "SARIMA")))
        return [
            plot_backtest(
                self.series,
                origins,
                {label: prediction, arima: baselines[arima]},
                self.cut,
                folder / f"forecast_{split}.png",
                f"{self.series.name}, {split} backtest",
            ),
            plot_error_by_horizon(
                errors,
                folder / f"error_by_horizon_{split}.png",
                f"{self.series.name}: MAE by horizon ({split}, {len(origins)} origins)",
                self.series.unit,
            ),
        ]

    # --- prediction --------------------------------------------------------------------------------------------
    def predict(self, model: ScaledForecaster, inputs: list, *, steps: int | None = None) -> list[list[float]]:
        """The next ``steps`` values (default: the trained horizon) after each history, a sequence of at least
        ``info["window"]`` values of the series in its own units, oldest first (the last ``window`` are read).
        Beyond the trained horizon the forecasts are fed back as inputs."""
        steps = steps or self.info["horizon"]
        if not 1 <= steps <= 10_000:
            raise UserError(f"steps must be between 1 and 10000, got {steps}")
        window, forecasts = self.info["window"], []
        for values in inputs:
            history = torch.as_tensor(np.asarray(values, dtype=np.float32)).flatten()
            if len(history) < window:
                raise UserError(f"a history of {len(history)} values; the model needs the last {window}")
            forecasts.append(rolled_forecast(model, history[-window:].to(self.device), steps, self.info["horizon"]))
        return [forecast.tolist() for forecast in forecasts]


def rolled_forecast(model: ScaledForecaster, history: Tensor, steps: int, block: int) -> np.ndarray:
    """``steps`` values after ``history`` (W,): forecast ``block`` values, append them, repeat."""
    window = history.clone()
    out: list[Tensor] = []
    with torch.no_grad():
        while len(out) < steps:
            values = model(window.unsqueeze(0), block)[0]
            out.extend(values.unbind(0))
            window = torch.cat([window, values])[-len(history) :]
    return torch.stack(out[:steps]).cpu().numpy()


def naive_forecasts(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """ŷ_{t+h} = y_{t-1}: the last value, repeated over the horizon. Shape (N, H)."""
    return np.repeat(values[origins - 1][:, None], horizon, axis=1)


def seasonal_naive_forecasts(values: np.ndarray, origins: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """ŷ_{t+h} = y_{t+h-m·k} with k = ⌊h/m⌋ + 1: the last observed value of the same season. Shape (N, H)."""
    steps = np.arange(horizon)
    lag = period * (steps // period + 1)
    return values[origins[:, None] + steps[None, :] - lag[None, :]]


def arima_name(order: tuple, seasonal: tuple, period: int) -> str:
    if any(seasonal) and period > 1:
        return f"SARIMA{tuple(order)}{tuple(seasonal)}[{period}]"
    return f"ARIMA{tuple(order)}"


def fit_arima(history: np.ndarray, order: tuple, seasonal: tuple, period: int) -> Any:
    """statsmodels' SARIMAX with ``order`` (p, d, q) and, when the series has a period, ``seasonal`` (P, D, Q),
    fitted by maximum likelihood on ``history``.

    The estimated coefficients are kept in ``$NNZOO_CACHE/arima`` under a hash of the data and the orders: the
    seasonal CO2 model takes a minute or more to fit, and every run and evaluation on a series shares it.
    """
    SARIMAX = require("statsmodels.tsa.statespace.sarimax", "the forecast task's ARIMA baseline").SARIMAX

    seasonal_order = (*seasonal, period) if any(seasonal) and period > 1 else (0, 0, 0, 0)
    model = SARIMAX(history, order=tuple(order), seasonal_order=seasonal_order)
    key = hashlib.sha1(np.ascontiguousarray(history, dtype=np.float64).tobytes())
    key.update(repr((tuple(order), seasonal_order)).encode())
    cached = cache_folder() / "arima" / f"{key.hexdigest()}.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the forecasts are judged by the metrics
        if cached.is_file():
            return model.filter(np.array(json.loads(cached.read_text())["params"]))
        fitted = model.fit(disp=False)
    # atomic: a concurrent run reads the old file or the new one, never half of one
    write_atomic(cached, json.dumps({"order": list(order), "seasonal": list(seasonal_order),
                                     "params": fitted.params.tolist()}))  # fmt: skip
    return fitted


def arima_forecasts(fitted: Any, values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Forecasts (N, H) of a fitted ARIMA from each origin.

    The model is run over the series with its coefficients fixed (Kalman filter); the forecast from origin t is a
    dynamic prediction from t, which uses the filtered state at t-1 and nothing later.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = fitted.apply(values)
        rows = [full.get_prediction(start=t, end=t + horizon - 1, dynamic=True).predicted_mean for t in origins]
    return np.asarray(rows, dtype=np.float64).reshape(len(origins), horizon)
