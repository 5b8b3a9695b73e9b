"""Task ``forecast``: metrics by hand, the baselines, no leakage from the future, a metric-gated run, clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

import nnzoo
from nnzoo import metrics
from nnzoo.cli import main
from nnzoo.data.series import load_builtin_series
from nnzoo.errors import UserError
from nnzoo.nn.forecasters import (
    NextStepForecaster,
    RecurrentForecasterConfig,
    ScaledForecaster,
    Seq2SeqForecaster,
    TransformerForecaster,
    TransformerForecasterConfig,
)
from nnzoo.registry import resolve_config
from nnzoo.tasks.forecast import (
    Forecast,
    arima_forecasts,
    fit_arima,
    naive_forecasts,
    seasonal_naive_forecasts,
)
from nnzoo.training import seed_everything


def write_series(path, values, column="value"):
    path.write_text(f"{column}\n" + "\n".join(f"{v:.6f}" for v in values) + "\n")
    return path


def sine(n=240, period=20, noise=0.0, seed=0):
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 10 + 3 * np.sin(2 * np.pi * t / period) + noise * rng.standard_normal(n)


# matplotlib's first four colours of a figure's lines, C0 to C3
LINE_COLOURS = {"C0": (31, 119, 180), "C1": (255, 127, 14), "C2": (44, 160, 44), "C3": (214, 39, 40)}


def read_figure(path, size) -> np.ndarray:
    """The PNG at ``path``, (height, width, RGB), checked to be ``size`` (width, height) and not blank."""
    image = Image.open(path)
    assert image.size == size, (path, image.size)
    rgb = np.asarray(image.convert("RGB")).astype(int)
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 100, path  # lines, text, antialiasing: many colours
    return rgb


def pixels_of(rgb, colour) -> np.ndarray:
    """Where ``rgb`` (H, W, 3) shows a line of ``colour`` (a name of LINE_COLOURS, or "black")."""
    if colour == "black":
        return (rgb < 80).all(-1)
    return np.abs(rgb - np.array(LINE_COLOURS[colour])).max(-1) <= 40


def on_csv(csv, overrides=()) -> list[str]:
    """The overrides of a forecast of the CSV's column ``value``: windows of 20, horizon 5, period 20."""
    return [f"data.csv={csv}", "data.column=value", "data.period=20", "data.window=20", "data.horizon=5", *overrides]


def make_task(csv, model="lstm", overrides=()):
    cfg = resolve_config(task="forecast", model=model, overrides=on_csv(csv, overrides))
    return Forecast(cfg)


# --- metrics and baselines ------------------------------------------------------------------------------------------
def test_mase_is_mae_over_the_in_sample_seasonal_naive_error():
    history = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    # period 1: mean |diff| = (1 + 2 + 3 + 4) / 4 = 2.5; period 2: (3 + 5 + 7) / 3 = 5
    assert metrics.seasonal_naive_scale(history, 1) == pytest.approx(2.5)
    assert metrics.seasonal_naive_scale(history, 2) == pytest.approx(5.0)
    prediction, target = torch.tensor([1.0, 2.0]), torch.tensor([2.0, 4.0])  # MAE 1.5
    assert metrics.mase(prediction, target, 2.5) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="more than period"):
        metrics.seasonal_naive_scale(history, 5)


def test_naive_and_seasonal_naive_forecasts_by_hand():
    values = np.arange(10.0) * 10  # 0, 10, …, 90
    origins = np.array([4, 6])
    assert naive_forecasts(values, origins, 3).tolist() == [[30, 30, 30], [50, 50, 50]]
    # period 2: from origin 4, steps 4, 5, 6 take the values at 2, 3, 4
    assert seasonal_naive_forecasts(values, origins, 3, 2).tolist() == [[20, 30, 20], [40, 50, 40]]
    assert seasonal_naive_forecasts(values, origins, 3, 1).tolist() == naive_forecasts(values, origins, 3).tolist()


def test_builtin_series_are_real_and_complete():
    sunspots, co2 = load_builtin_series("sunspots"), load_builtin_series("co2")
    assert len(sunspots) == 309 and sunspots.times[0] == 1700 and sunspots.period == 11
    assert len(co2) == 2284 and co2.filled == 59 and not np.isnan(co2.values).any()
    assert 1958 < co2.times[0] < 1959 and co2.step == pytest.approx(7 / 365.25, rel=0.01)
    assert len(load_builtin_series("elnino")) == 732 and len(load_builtin_series("nile")) == 100


# --- architectures ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "core",
    [
        NextStepForecaster("rnn", RecurrentForecasterConfig(hidden_size=8)),
        NextStepForecaster("lstm", RecurrentForecasterConfig(hidden_size=8, num_layers=2)),
        Seq2SeqForecaster("gru", RecurrentForecasterConfig(hidden_size=8)),
        Seq2SeqForecaster("lstm", RecurrentForecasterConfig(hidden_size=8, num_layers=2)),
        TransformerForecaster(
            6, 12, TransformerForecasterConfig(d_model=16, nhead=2, num_layers=1, dim_feedforward=32)
        ),
    ],
    ids=lambda c: type(c).__name__,
)
def test_forecasters_shapes_and_scaling(core):
    model = ScaledForecaster(core, center=100.0, scale=5.0, relative=False).eval()
    window = 100 + 5 * torch.randn(3, 12)
    out = model(window, 6)
    assert out.shape == (3, 6)
    # the wrapper is exactly r + s · core((y - r) / s)
    assert torch.allclose(out, 100 + 5 * core((window - 100) / 5, 6))
    relative = ScaledForecaster(core, center=100.0, scale=5.0, relative=True).eval()
    shifted = window + 1000.0  # relative scaling: a shifted window gives a shifted forecast
    assert torch.allclose(relative(shifted, 6), relative(window, 6) + 1000.0, atol=1e-3)


def test_next_step_forecaster_feeds_its_own_prediction_back():
    torch.manual_seed(0)
    core = NextStepForecaster("gru", RecurrentForecasterConfig(hidden_size=8)).eval()
    window = torch.randn(2, 10)
    two = core(window, 2)
    again = core(torch.cat([window, two[:, :1]], dim=1), 1)  # the window extended by the first forecast
    assert torch.allclose(two[:, 1:], again, atol=1e-6)


def test_forecaster_errors():
    with pytest.raises(ValueError, match="at most 4 steps"):
        TransformerForecaster(4, 5, TransformerForecasterConfig(d_model=8, nhead=2))(torch.randn(2, 5), 5)
    with pytest.raises(ValueError, match=r"shape \(B, W\)"):
        Seq2SeqForecaster("gru", RecurrentForecasterConfig(hidden_size=4))(torch.randn(2, 5, 1), 3)
    with pytest.raises(ValueError, match="cell must be one of"):
        NextStepForecaster("jordan", RecurrentForecasterConfig(hidden_size=4))


# --- no leakage ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "strategy"), [("rnn", "next-step"), ("gru", "seq2seq"), ("transformer", None), ("tcn", None)]
)
def test_perturbing_a_future_value_never_changes_a_past_forecast(tmp_path, model, strategy):
    values = sine(noise=0.3)
    overrides = [f"model.strategy={strategy}"] if strategy else []
    task = make_task(write_series(tmp_path / "series.csv", values), model, overrides)
    data = task.build_data()
    seed_everything(0)
    net = task.build_model().eval()
    origins = data["test"].tensors[2]
    k = int(origins[len(origins) // 2])  # a time step in the middle of the backtest
    changed = values.copy()
    changed[k] += 50.0
    (tmp_path / "future").mkdir()
    other = make_task(write_series(tmp_path / "future" / "series.csv", changed), model, overrides)
    other_data = other.build_data()
    assert {**other.info, "source": ""} == {
        **task.info,
        "source": "",
    }  # the scaler and MASE's scale come from the training part only
    with torch.no_grad():
        before, after = task.forecasts(net, data["test"]), other.forecasts(net, other_data["test"])
    past = origins <= k  # these forecasts were made before y_k was observed
    assert past.sum() > 0 and (~past).sum() > 0
    assert torch.equal(before[past], after[past])
    assert not torch.allclose(before[~past], after[~past])
    for name, forecast in task.baseline_forecasts("test").items():
        other_forecast = other.baseline_forecasts("test")[name]
        np.testing.assert_allclose(forecast[past.numpy()], other_forecast[past.numpy()], rtol=1e-9, err_msg=name)


# --- a metric-gated run --------------------------------------------------------------------------------------------
def test_an_lstm_beats_the_naive_forecast_on_a_sine(tmp_path):
    overrides = ["data.period=1", "model.hidden_size=32", "train.epochs=40", "train.patience=0", "train.lr=1e-2"]
    csv = write_series(tmp_path / "sine.csv", sine())
    run = nnzoo.train(
        "forecast", model="lstm", overrides=on_csv(csv, overrides), run_dir=tmp_path / "run", progress=False,
        figures=False,
    )  # fmt: skip
    result, naive = run.evaluate("test"), run.baselines("test")["naive"]
    assert result["mase"] < 0.5 * naive["mase"], (result, naive)
    assert result["mase"] < 0.3


# --- errors ------------------------------------------------------------------------------------------------------
def test_clear_errors_for_short_series_nans_and_text(tmp_path):
    with pytest.raises(UserError, match="repeats itself exactly every 20 values"):
        make_task(write_series(tmp_path / "periodic.csv", sine())).build_data()
    with pytest.raises(UserError, match="too short for window 20 \\+ horizon 5"):
        make_task(write_series(tmp_path / "short.csv", sine(n=40))).build_data()
    (tmp_path / "nan.csv").write_text("value\n1\n2\nnan\n4\n")
    with pytest.raises(UserError, match=r"line 4.*not a finite number"):
        make_task(tmp_path / "nan.csv").build_data()
    (tmp_path / "gap.csv").write_text("value,other\n1,a\n,b\n")
    with pytest.raises(UserError, match="line 3, column 'value' is empty"):
        make_task(tmp_path / "gap.csv").build_data()
    (tmp_path / "text.csv").write_text("value,other\n1,a\nup,b\n")
    with pytest.raises(UserError, match="'up' is not a number"):
        make_task(tmp_path / "text.csv").build_data()
    with pytest.raises(UserError, match=r"data\.column column .value. is not in"):
        write_series(tmp_path / "other.csv", sine(), column="price")
        make_task(tmp_path / "other.csv").build_data()


def test_cli_train_eval_predict(tmp_path, capsys):
    values = sine(noise=0.3)
    csv = write_series(tmp_path / "sine.csv", values)
    run = tmp_path / "run"
    common = [f"--set=data.csv={csv}", "--set=data.column=value", "--set=data.period=20"]
    assert (
        main(["train", "forecast", "--model", "gru", "--run-dir", str(run), "--quiet", *common, "--set=train.epochs=3"])
        == 0
    )
    assert (run / "figures" / "forecast_val.png").is_file()
    # the backtest (10 × 6.2 inches at 110 dpi), 1 step ahead above, 10 steps ahead below: in each the truth in
    # black, the GRU's forecasts in C0, ARIMA's in C1
    backtest = read_figure(run / "figures" / "forecast_val.png", (1100, 682))
    for panel in (backtest[:341], backtest[341:]):
        assert all(pixels_of(panel, colour).sum() > 150 for colour in ("black", "C0", "C1"))
    assert main(["eval", str(run), "--split", "test", "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "baseline: naive" in table and "baseline: seasonal naive (m=20)" in table and "ARIMA(1, 1, 1)" in table
    assert (run / "figures" / "error_by_horizon_test.png").is_file()
    # MAE by horizon (6.4 × 4.2 inches at 110 dpi): one line each for the GRU, naive, seasonal naive and ARIMA
    by_horizon = read_figure(run / "figures" / "error_by_horizon_test.png", (704, 462))
    assert all(pixels_of(by_horizon, colour).sum() > 300 for colour in ("C0", "C1", "C2", "C3"))
    plot = tmp_path / "future.png"
    assert main(["predict", str(run), "--horizon", "23", "--plot", str(plot)]) == 0  # > trained 10: rolled
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + 23 + 1 and lines[-1] == f"plot: {plot}"
    assert float(lines[1].split()[0]) == 240  # the row after the last one
    assert all(math.isfinite(float(line.split()[1])) for line in lines[1:-1])
    assert plot.is_file() and not (run / "figures" / "future.png").exists()
    # the rows continue the series' times (0 to 239) one step at a time, with values on the sine's scale that go on
    # with its wave: 10 + 3 sin(2πt / 20)
    assert lines[0].split() == ["time", "value"]
    times, future = np.array([[float(cell) for cell in line.split()] for line in lines[1:-1]]).T
    assert times.tolist() == list(range(240, 263))
    span = values.max() - values.min()
    assert values.min() - span / 4 < future.min() and future.max() < values.max() + span / 4, future
    assert future.std() > values.std() / 2 and np.corrcoef(future, sine(263)[240:])[0, 1] > 0.8, future
    # the figure (8 × 3.8 inches at 110 dpi): right of the legend, inside the axes, the history in black ends where
    # the forecast in C0 starts, and the forecast spans a good part of the width and of the history's height
    figure = read_figure(plot, (880, 418))
    height, width = figure.shape[:2]
    inside = figure[int(0.1 * height) : int(0.85 * height), int(0.25 * width) :]
    history, forecast = pixels_of(inside, "black"), pixels_of(inside, "C0")
    history[:, history.mean(0) > 0.5] = False  # the right spine
    assert history.sum() > 1000 and forecast.sum() > 300
    history_columns, forecast_columns = np.flatnonzero(history.any(0)), np.flatnonzero(forecast.any(0))
    assert abs(forecast_columns.min() - history_columns.max()) <= 5
    assert forecast_columns.max() - forecast_columns.min() > 0.1 * width
    history_rows, forecast_rows = np.flatnonzero(history.any(1)), np.flatnonzero(forecast.any(1))
    assert np.ptp(forecast_rows) > 0.5 * np.ptp(history_rows)
    assert main(["predict", str(run), "--horizon", "0"]) == 0  # 0: the trained horizon
    trained = capsys.readouterr().out
    assert "plot:" not in trained
    rows = trained.strip().splitlines()[1:]
    assert [float(row.split()[0]) for row in rows] == list(range(240, 250))  # the trained horizon: 10
    np.testing.assert_allclose([float(row.split()[1]) for row in rows], future[:10], rtol=1e-3)
    assert main(["predict", str(run), "--plot", str(tmp_path / "x.txt")]) == 2
    assert "--plot" in capsys.readouterr().err
    assert main(["predict", str(run), "--horizon", "-3"]) == 2
    assert "--horizon must be between 1 and 10000" in capsys.readouterr().err


def test_arima_coefficients_are_cached_and_give_the_same_forecasts(tmp_path, monkeypatch):
    monkeypatch.setenv("NNZOO_CACHE", str(tmp_path))
    values = sine(noise=0.3)
    origins = np.arange(200, 230)
    fresh = fit_arima(values[:180], (2, 0, 1), (0, 0, 0), 20)
    assert len(list((tmp_path / "arima").glob("*.json"))) == 1
    cached = fit_arima(values[:180], (2, 0, 1), (0, 0, 0), 20)
    np.testing.assert_allclose(cached.params, fresh.params)
    np.testing.assert_allclose(arima_forecasts(cached, values, origins, 5), arima_forecasts(fresh, values, origins, 5))
    fit_arima(values[:181], (2, 0, 1), (0, 0, 0), 20)  # other data: another entry
    assert len(list((tmp_path / "arima").glob("*.json"))) == 2


@pytest.mark.parametrize(
    "core",
    [
        NextStepForecaster("gru", RecurrentForecasterConfig(hidden_size=3)),
        Seq2SeqForecaster("lstm", RecurrentForecasterConfig(hidden_size=3)),
        TransformerForecaster(
            3, 5, TransformerForecasterConfig(d_model=4, nhead=2, num_layers=1, dim_feedforward=8, dropout=0.0)
        ),
    ],
    ids=lambda c: type(c).__name__,
)
def test_forecasters_pass_gradcheck(core):
    torch.manual_seed(0)
    model = ScaledForecaster(core, center=1.0, scale=2.0, relative=True).double().eval()
    window = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w: model(w, 3), (window,))
