"""Tasks ``adding`` and ``copy-memory``: the data, the models, clear errors, and short metric-gated runs."""

from __future__ import annotations

import pytest
import torch

import nnzoo
from nnzoo.data.memory_tasks import ADDING_CONSTANT_MSE, copy_memory
from nnzoo.errors import UserError
from nnzoo.tasks.memory import GeneratedProblems

SHORT = ["data.length=10", "data.val_examples=200", "data.test_examples=500", "model.width=32"]


def test_a_batch_depends_only_on_its_indices():
    data = GeneratedProblems(copy_memory, 1000, 5, seed=0)
    first, again = data.__getitems__([3, 4, 5]), data.__getitems__([3, 4, 5])
    other = data.__getitems__([6, 7, 8])
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0]) and first[0].shape == (3, 25)
    assert not torch.equal(first[0], GeneratedProblems(copy_memory, 1000, 5, seed=1).__getitems__([3, 4, 5])[0])


def test_the_splits_are_fixed_and_the_test_split_differs_from_training(tmp_path):
    start = nnzoo.build("adding", overrides=["data.length=6", "data.train_examples=64", "data.test_examples=50"])
    again = nnzoo.build("adding", overrides=["data.length=6", "data.train_examples=64", "data.test_examples=50"])
    assert torch.equal(start.data["test"].tensors[0], again.data["test"].tensors[0])
    assert not torch.equal(start.data["test"].tensors[0][:32], start.data["train"].__getitems__(range(32))[0])
    assert start.task.info == {"length": 6, "sequence_length": 6}


@pytest.mark.parametrize(
    ("task", "model", "steps", "metric", "gate"),
    [
        ("adding", "gru", 300, "loss", lambda mse: mse < 0.2 * ADDING_CONSTANT_MSE),  # measured 0.008
        ("copy-memory", "transformer", 300, "accuracy", lambda accuracy: accuracy > 0.9),  # measured 1.0
    ],
)
def test_a_short_run_learns_the_problem(tmp_path, task, model, steps, metric, gate):
    overrides = [*SHORT, f"data.train_examples={steps * 64}", f"train.max_steps={steps}"]
    run = nnzoo.train(task, model=model, overrides=overrides, run_dir=tmp_path / "run", progress=False, figures=False)
    result = run.evaluate("test")[metric]
    assert gate(result), result
    if task == "adding":
        assert run.baselines("test")["constant 1 (expected MSE 1/6)"]["loss"] == pytest.approx(ADDING_CONSTANT_MSE, 0.2)


def test_bad_inputs_are_clear_errors():
    start = nnzoo.build("copy-memory", overrides=["data.length=4", "data.train_examples=64"])
    with pytest.raises(UserError, match=r"a sequence of shape \(5,\); this model reads sequences of shape \(24,\)"):
        start.task.predict(start.model, [torch.zeros(5, dtype=torch.long)])
    with pytest.raises(UserError, match=r"need data\.length >= 2"):
        nnzoo.resolve_config("adding", overrides=["data.length=1"])
    with pytest.raises(UserError, match=r"width \(30\) must be a multiple of transformer_heads \(4\)"):
        nnzoo.resolve_config("adding", model="transformer", overrides=["model.width=30"])
