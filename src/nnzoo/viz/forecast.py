"""Forecasting figures: the backtest against the truth, the error by horizon, and a forecast of the future."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from nnzoo.viz.saving import save_figure


def plot_backtest(
    series: Any, origins: np.ndarray, forecasts: dict[str, np.ndarray], cut: Any, path: Path, title: str
) -> Path:
    """Top: the series around the backtest, with each model's one-step-ahead forecasts and its full-horizon
    forecasts from a few origins. Bottom: the same forecasts, the last step of the horizon only."""
    horizon = next(iter(forecasts.values())).shape[1]
    start = max(0, int(origins[0]) - 3 * horizon)
    times, values = series.times, series.values
    fig = Figure(figsize=(10, 6.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    for ax, step, name in ((top, 0, "1 step ahead"), (bottom, horizon - 1, f"{horizon} steps ahead")):
        ax.plot(times[start:], values[start:], color="black", lw=1.1, label="truth")
        for i, (label, forecast) in enumerate(forecasts.items()):
            ax.plot(times[origins + step], forecast[:, step], lw=1, color=f"C{i}", label=f"{label}, {name}")
        ax.axvline(times[cut.train_end], color="0.6", ls=":", lw=1)
        ax.axvline(times[cut.val_end], color="0.6", ls="--", lw=1)
        ax.set(ylabel=series.unit)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    # whole forecast paths from a few origins, drawn thin on the top panel
    for origin_index in np.linspace(0, len(origins) - 1, num=min(5, len(origins))).astype(int):
        t = int(origins[origin_index])
        for i, forecast in enumerate(forecasts.values()):
            top.plot(times[t : t + horizon], forecast[origin_index], color=f"C{i}", lw=0.8, alpha=0.6, ls="--")
    top.set_title(f"{title} (dotted line: validation starts; dashed: test starts; dashed curves: whole forecasts)")
    bottom.set(xlabel="time")
    return save_figure(fig, path, dpi=110)


def plot_error_by_horizon(errors: dict[str, np.ndarray], path: Path, title: str, unit: str) -> Path:
    """Mean absolute error against the number of steps ahead, one line per forecaster."""
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    for label, mae in errors.items():
        ax.plot(np.arange(1, len(mae) + 1), mae, marker=".", label=label)
    ax.set(xlabel="steps ahead", ylabel=f"MAE ({unit})", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=110)


def plot_future(series: Any, times: np.ndarray, future: np.ndarray, path: Path, title: str) -> Path:
    """The end of the series and the forecast that continues it."""
    shown = min(len(series), max(4 * len(future), 60))
    fig = Figure(figsize=(8, 3.8), layout="constrained")
    ax = fig.subplots()
    ax.plot(series.times[-shown:], series.values[-shown:], color="black", lw=1.1, label="history")
    ax.plot(np.r_[series.times[-1], times], np.r_[series.values[-1], future], color="C0", lw=1.4, label="forecast")
    ax.set(xlabel="time", ylabel=series.unit, title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return save_figure(fig, path, dpi=110)
