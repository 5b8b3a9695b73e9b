"""Tasks ``adding``, ``copy-memory``, ``latch`` and ``echo``: the data, the models, clear errors, and short
metric-gated runs."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

import nnzoo
from nnzoo.config import to_dict
from nnzoo.data.memory_tasks import ADDING_CONSTANT_MSE, ECHO_SCORED, LATCH_PULSE, copy_memory, echo, latch
from nnzoo.errors import UserError
from nnzoo.nn import Jordan
from nnzoo.nn.sequence_models import SequenceModel, SequenceModelConfig
from nnzoo.tasks.memory import GeneratedProblems
from nnzoo.training.run import RunDir

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


def test_the_lstms_forget_gate_options_initialise_its_biases_and_only_an_lstms():
    tiny = ["data.length=6", "data.train_examples=64"]
    lstm = nnzoo.build("adding", model="lstm", overrides=[*tiny, "model.forget_bias=1"]).model.core
    width = lstm.hidden_size
    assert torch.equal((lstm.bias_ih_l0 + lstm.bias_hh_l0)[width : 2 * width], torch.ones(width))
    chrono = nnzoo.build("adding", model="lstm", overrides=[*tiny, "model.chrono=500"]).model.core
    b = (chrono.bias_ih_l0 + chrono.bias_hh_l0).detach()
    assert torch.equal(b[:width], -b[width : 2 * width]) and float(b[width : 2 * width].max()) > 1
    with pytest.raises(UserError, match=r"model\.forget_bias and model\.chrono initialise an LSTM.s gates; a gru has"):
        nnzoo.build("adding", model="gru", overrides=[*tiny, "model.forget_bias=1"])
    with pytest.raises(UserError, match=r"chrono is the longest dependency T_max, >= 3"):
        nnzoo.resolve_config("adding", overrides=["model.chrono=2"])


def test_the_forget_gate_options_keep_the_identity_of_runs_saved_before_them(tmp_path):
    """A run's checkpoints record a hash of its fixed config. Keys added to a model's config since are left out of
    the hash at the value runs had before them, so older runs still open and resume; set, they change it."""
    folder = RunDir(tmp_path / "run")
    folder.path.mkdir()
    folder.create_identity()

    def digest_before_the_options(cfg):  # what the identity was before model.forget_bias and model.chrono existed
        fixed = {k: v for k, v in to_dict(cfg).items() if k not in ("train", "log", "device")}
        fixed["model"] = {k: v for k, v in fixed["model"].items() if k not in ("forget_bias", "chrono")}
        return hashlib.sha256(json.dumps(fixed, sort_keys=True).encode()).hexdigest()[:16]

    default = nnzoo.resolve_config("adding")
    assert folder.identity(default)["config"] == digest_before_the_options(default)
    changed = nnzoo.resolve_config("adding", overrides=["model.forget_bias=1"])
    assert folder.identity(changed)["config"] != folder.identity(default)["config"]


def test_the_latch_holds_the_sign_of_the_last_pulse():
    x, y = latch(200, 60, torch.Generator().manual_seed(0))
    assert x.shape == (200, 60, 1) and y.shape == (200, 60)
    pulses = x.squeeze(-1)
    assert set(pulses.unique().tolist()) == {-1.0, 0.0, 1.0} and bool((pulses[:, 0] != 0).all())
    for row, answers in zip(pulses.tolist(), y.tolist(), strict=True):  # the rule, one step at a time
        held = 0.0
        for pulse, answer in zip(row, answers, strict=True):
            held = pulse if pulse else held
            assert answer == held
    assert float((pulses[:, 1:] != 0).float().mean()) == pytest.approx(LATCH_PULSE, abs=0.01)


def test_the_echo_answers_the_input_delay_steps_before_and_scores_only_those_steps():
    x, y = echo(50, 3, torch.Generator().manual_seed(0))
    assert x.shape == (50, 3 + ECHO_SCORED, 1) and y.shape == (50, 3 + ECHO_SCORED)
    assert bool(y[:, :3].isnan().all()) and torch.equal(y[:, 3:], x[:, :-3, 0])
    assert set(x.unique().tolist()) == {-1.0, 1.0}
    with pytest.raises(ValueError, match="the echo delay must be >= 1"):
        echo(2, 0)


def test_the_jordan_core_is_nnzoos_jordan_layer_and_its_answer_is_what_it_feeds_back():
    torch.manual_seed(0)
    model = SequenceModel("jordan", 1, 1, "every", SequenceModelConfig(width=8))
    assert isinstance(model.core, Jordan) and isinstance(model.readout, torch.nn.Identity)
    assert {name for name, _ in model.named_parameters()} == {
        f"core.{n}_l0" for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hy", "bias_hy")
    }
    x = torch.randn(4, 9, 1)
    answers = model(x)
    assert answers.shape == (4, 9, 1) and float(answers.abs().max()) < 1  # tanh
    core, y = model.core, torch.zeros(4, 1)  # the equations, step by step
    for t in range(9):
        h = torch.tanh(x[:, t] @ core.weight_ih_l0.T + core.bias_ih_l0 + y @ core.weight_hh_l0.T + core.bias_hh_l0)
        y = torch.tanh(h @ core.weight_hy_l0.T + core.bias_hy_l0)
        torch.testing.assert_close(answers[:, t], y)


@pytest.mark.parametrize(
    ("task", "model", "length", "gate"),
    [
        ("latch", "jordan", 100, lambda accuracy: accuracy > 0.99),  # measured 1.0 (81 parameters)
        ("latch", "rnn", 100, lambda accuracy: accuracy > 0.99),  # measured 0.9993
        ("echo", "rnn", 4, lambda accuracy: accuracy > 0.99),  # measured 1.0
        # The Jordan network's only state is its last answer, which holds none of the signs still to echo.
        ("echo", "jordan", 4, lambda accuracy: accuracy < 0.55),  # measured 0.4999
    ],
)
def test_output_feedback_holds_a_latch_but_not_an_echo(tmp_path, task, model, length, gate):
    steps = 600
    overrides = [f"data.length={length}", f"data.train_examples={steps * 64}", "data.val_examples=200",
                 "data.test_examples=500", "model.width=16", f"train.max_steps={steps}"]  # fmt: skip
    run = nnzoo.train(task, model=model, overrides=overrides, run_dir=tmp_path / "run", progress=False, figures=False)
    result = run.evaluate("test")
    assert gate(result["accuracy"]), result
    baseline = run.baselines("test")["answer 0 (MSE 1)"]
    assert baseline == {"loss": 1.0, "accuracy": 0.5}
    if gate(0.0):  # the Jordan network on the echo: no better than answering 0
        assert result["loss"] > 0.9
    else:
        assert result["loss"] < 0.05
