"""Task `regression`: the gradient-trained linear model reaches least squares; data options and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnzoo
from nnzoo.errors import UserError
from nnzoo.registry import resolve_config
from nnzoo.tasks.regression import Regression


def make_task(*overrides: str, model: str = "linear") -> Regression:
    return Regression(resolve_config(task="regression", model=model, overrides=overrides))


def train(tmp_path, *overrides: str, model: str = "linear") -> nnzoo.Run:
    return nnzoo.train(
        "regression", model=model, overrides=overrides, run_dir=tmp_path / "run", progress=False, figures=False
    )


@pytest.mark.parametrize(
    "optimizer",
    [["train.optimizer=adam", "train.lr=0.05"], ["train.optimizer=sgd", "train.lr=0.1", "train.momentum=0.9"]],
)
def test_gradient_descent_reaches_the_closed_form_solution(tmp_path, optimizer):
    full_batch = ["train.batch_size=1024", "train.epochs=800", "train.eval_every=800", "train.schedule=cosine"]
    run = train(tmp_path, *full_batch, *optimizer)  # one evaluation, at the end: the best is the last
    weights, bias = run.task.closed_form(run.data)
    linear = run.model.core
    assert np.abs(linear.weight.detach().numpy().ravel() - weights).max() < 1e-3
    assert abs(float(linear.bias.detach()) - bias) < 1e-3
    assert len(weights) == 13


def test_mlp_beats_linear_regression_on_boston(tmp_path):
    run = train(tmp_path, "train.epochs=60", model="mlp")
    mlp = run.evaluate("test")
    least_squares = run.baselines("test")["closed-form least squares"]
    mean = run.baselines("test")["training mean"]
    assert mean["r2"] == pytest.approx(0, abs=0.02)
    assert least_squares["rmse"] == pytest.approx(3.841, abs=1e-3)  # fixed split: a changed split fails here
    assert mlp["rmse"] < least_squares["rmse"] - 0.4, (mlp, least_squares)


def test_split_is_deterministic_and_disjoint():
    first, second = make_task().build_data(), make_task("seed=5").build_data()
    sizes = {k: len(v) for k, v in first.items()}
    assert sizes == {"train": 354, "val": 76, "test": 76}
    for split in first:
        assert torch.equal(first[split].tensors[0], second[split].tensors[0])
    rows = {split: {tuple(r.tolist()) for r in first[split].tensors[0]} for split in first}
    assert not (rows["train"] & rows["val"]) and not (rows["train"] & rows["test"]) and not (rows["val"] & rows["test"])


def test_standardisation_uses_the_training_split_only():
    task = make_task()
    data = task.build_data()
    x_train = data["train"].tensors[0].double().numpy()
    assert np.allclose(task.info["x_mean"], x_train.mean(0)) and np.allclose(task.info["x_std"], x_train.std(0))
    assert task.info["y_mean"] == pytest.approx(float(data["train"].tensors[1].double().mean()))


def test_drop_and_other_tables():
    task = make_task('data.drop=["B"]')
    task.build_data()
    assert "B" not in task.info["features"] and len(task.info["features"]) == 12

    task = make_task("data.table=diabetes")
    task.build_data()
    assert task.info["target"] == "progression" and len(task.info["features"]) == 10

    task = make_task("data.table=wine", 'data.one_hot=["cultivar"]')
    task.build_data()
    assert task.info["target"] == "alcohol"
    assert task.info["features"][-3:] == ["cultivar=0", "cultivar=1", "cultivar=2"]


def write_csv(path, text):
    path.write_text(text)
    return str(path)


def test_user_csv_with_one_hot_and_a_constant_column(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["size,colour,constant,price"]
    for _ in range(60):
        size, colour = rng.uniform(20, 200), rng.choice(["red", "blue"])
        lines.append(f"{size:.2f},{colour},1,{3 * size + (50 if colour == 'red' else 0) + rng.normal():.2f}")
    path = write_csv(tmp_path / "homes.csv", "\n".join(lines) + "\n")
    run = train(
        tmp_path,
        f"data.csv={path}",
        "data.target=price",
        'data.one_hot=["colour"]',
        "train.batch_size=64",
        "train.epochs=400",
        "train.lr=0.05",
    )
    assert run.task.info["features"] == ["size", "colour=blue", "colour=red", "constant"]
    assert run.task.info["x_std"][-1] == 1.0  # a constant column is left unscaled instead of divided by zero
    assert run.evaluate("test")["r2"] > 0.99


@pytest.mark.parametrize(
    ("text", "target", "message"),
    [
        ("", "y", "is empty; expected a header line"),
        ("a,y\n", "y", "has a header but no rows of values"),
        ("a,y\n1,2\n3\n", "y", "line 3: expected 2 values (one per column), got 1"),
        ("a,y\n1,2\nabc,4\n" + "5,6\n" * 10, "y", "line 3, column 'a': 'abc' is not a number"),
        ("a,y\n1,2\n,4\n" + "5,6\n" * 10, "y", "line 3, column 'a' is empty; fill or drop missing values first"),
        ("a,y\n1,2\nnan,4\n" + "5,6\n" * 10, "y", "line 3, column 'a': 'nan' is not a finite number"),
        ("a,a\n1,2\n", "y", "the header needs unique, non-empty column names"),
        ("a,y\n1,2\n", "price", "target column 'price' is not in"),
        ("a,y\n1,2\n", "", "name the column to predict with --set data.target=NAME; columns: a, y"),
        ("a,y\n" + "1,2\n" * 5, "y", "has 5 rows; at least 10 are needed"),
    ],
)
def test_bad_csv_files_give_one_line_errors(tmp_path, text, target, message):
    path = write_csv(tmp_path / "bad.csv", text)
    task = make_task(f"data.csv={path}", f"data.target={target}")
    with pytest.raises(UserError) as error:
        task.build_data()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_missing_csv_and_unknown_columns(tmp_path):
    with pytest.raises(UserError, match="CSV file not found"):
        make_task(f"data.csv={tmp_path / 'nope.csv'}", "data.target=y").build_data()
    with pytest.raises(UserError, match=r"data\.drop column 'Q' is not in boston housing"):
        make_task('data.drop=["Q"]').build_data()
