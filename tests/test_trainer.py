"""The task-agnostic trainer on a toy task: resume, early stopping, clipping, schedules, divergence."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from nnzoo.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from nnzoo.data import TensorData
from nnzoo.errors import CheckpointError, ConfigError, TrainingDiverged
from nnzoo.registry import resolve_config
from nnzoo.tasks.base import Task
from nnzoo.tasks.regression import Regression
from nnzoo.training import RunDir, Trainer, load_checkpoint
from nnzoo.training.metrics_log import read_metrics
from nnzoo.training.optim import build_optimizer, lr_factor
from nnzoo.training.run import average_weights
from nnzoo.training.sampler import EpochBatchSampler


class ToyTask(Task):
    """y = x·w + noise; an optional scripted validation score drives best-checkpoint and early-stopping tests."""

    name = "toy"
    metric_names = ("loss", "score")

    def __init__(self, cfg: RunConfig, scores: list[float] | None = None):
        super().__init__(cfg)
        self.scores = list(scores) if scores else None

    def build_data(self):
        g = torch.Generator().manual_seed(123)
        x = torch.randn(90, 3, generator=g)
        y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(90, generator=g)
        return {"train": TensorData(x[:70], y[:70]), "val": TensorData(x[70:], y[70:])}

    def loss(self, model, batch):
        x, y = batch
        return F.mse_loss(model(x).squeeze(-1), y)

    def evaluate(self, model, dataset):
        x, y = dataset.tensors
        loss = float(F.mse_loss(model(x).squeeze(-1), y))
        return {"loss": loss, "score": self.scores.pop(0) if self.scores else -loss}


def toy_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, 1))


def toy_trainer(tmp_path, name="run", scores=None, model_seed=0, **train) -> Trainer:
    defaults = {"batch_size": 16, "epochs": 6, "lr": 0.05, "monitor": "loss"}
    cfg = RunConfig("toy", ModelConfig("toy"), DataConfig(), train=TrainConfig(**{**defaults, **train}), seed=3)
    task = ToyTask(cfg, scores)
    run = RunDir(tmp_path / name)
    run.path.mkdir(parents=True, exist_ok=True)
    return Trainer(task, toy_model(model_seed), task.build_data(), run, quiet=True)


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


class Interrupt(Exception):
    pass


def interrupt_and_resume(tmp_path, stop_at: int, **train) -> Trainer:
    """Train run "interrupted" until an interruption after step ``stop_at``, then resume it in a new trainer whose
    model starts from other weights (as a fresh process's would: the checkpoint must override all of them);
    return that trainer, finished."""
    interrupted = toy_trainer(tmp_path, "interrupted", **train)

    def stop(trainer):
        if trainer.state.step == stop_at:
            raise Interrupt

    interrupted.callbacks.append(stop)
    with pytest.raises(Interrupt):
        interrupted.fit()
    assert load_checkpoint(interrupted.run.last).state["step"] <= stop_at
    resumed = toy_trainer(tmp_path, "interrupted", model_seed=99, **train)
    resumed.fit(load_checkpoint(resumed.run.last))
    return resumed


def reproducible(records: list[dict]) -> list[dict]:
    """The log without its one wall-clock field."""
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]


@pytest.mark.parametrize("stop_at", [7, 10, 23])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_resume_after_an_interruption_is_bitwise_exact(tmp_path, stop_at, optimizer):
    train = {"optimizer": optimizer, "checkpoint_every": 3, "schedule": "cosine", "warmup_steps": 4}
    reference = toy_trainer(tmp_path, "reference", **train)
    reference.fit()

    resumed = interrupt_and_resume(tmp_path, stop_at, **train)
    assert resumed.state.finished and resumed.state.step == reference.total_steps
    for key, value in weights(reference).items():
        assert torch.equal(value, weights(resumed)[key]), key
    assert reproducible(read_metrics(resumed.run.metrics)) == reproducible(read_metrics(reference.run.metrics))


@pytest.mark.parametrize("stop_at", [7, 23])
def test_resume_is_bitwise_exact_with_decay_on_matrices_only(tmp_path, stop_at):
    train = {"optimizer": "adamw", "weight_decay": 0.1, "weight_decay_on": "matrices", "checkpoint_every": 3}
    reference = toy_trainer(tmp_path, "reference", **train)
    reference.fit()
    resumed = interrupt_and_resume(tmp_path, stop_at, **train)
    for key, value in weights(reference).items():
        assert torch.equal(value, weights(resumed)[key]), key


def snapshot_weights(run: RunDir) -> dict[str, dict[str, torch.Tensor]]:
    return {path.name: load_checkpoint(path).model_state() for path in sorted(run.snapshots.glob("*"))}


def test_keep_evals_keeps_the_weights_of_the_newest_evaluations(tmp_path):
    trainer = toy_trainer(tmp_path, eval_every=4, keep_evals=3)
    at_evaluations = {}
    trainer.callbacks.append(lambda t: t.state.step % 4 or at_evaluations.setdefault(t.state.step, weights(t)))
    trainer.fit()
    assert trainer.total_steps == 30  # evaluations at 4, 8, ..., 28 and the last step, 30
    kept = snapshot_weights(trainer.run)
    assert list(kept) == ["step-000000024.safetensors", "step-000000028.safetensors", "step-000000030.safetensors"]
    at_evaluations[30] = weights(trainer)
    for name, state in kept.items():
        expected = at_evaluations[int(name[5:14])]
        assert all(torch.equal(state[key], expected[key]) for key in expected), name


@pytest.mark.parametrize("stop_at", [13, 25])
def test_snapshots_survive_an_interruption(tmp_path, stop_at):
    train = {"eval_every": 4, "keep_evals": 2, "checkpoint_every": 3}
    reference = toy_trainer(tmp_path, "reference", **train)
    reference.fit()
    resumed = interrupt_and_resume(tmp_path, stop_at, **train)
    expected, got = snapshot_weights(reference.run), snapshot_weights(resumed.run)
    assert list(got) == list(expected)
    for name, state in expected.items():
        assert all(torch.equal(value, got[name][key]) for key, value in state.items()), name


def test_average_weights_is_the_mean_of_floats_and_the_last_of_counters():
    states = [
        {"w": torch.tensor([1.0, 2.0]), "count": torch.tensor(3)},
        {"w": torch.tensor([3.0, 6.0]), "count": torch.tensor(5)},
    ]
    averaged = average_weights(states)
    assert torch.equal(averaged["w"], torch.tensor([2.0, 4.0])) and averaged["w"].dtype == torch.float32
    assert int(averaged["count"]) == 5


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd"])
def test_weight_decay_on_matrices_leaves_biases_alone(optimizer):
    """With zero gradients only the decay moves a parameter: the matrices shrink, the biases stay."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(optimizer=optimizer, lr=0.1, weight_decay=0.5, weight_decay_on="matrices")
    optimizer_ = build_optimizer(cfg, model.parameters())
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer_.step()
    for name, value in model.state_dict().items():
        if value.dim() >= 2:
            assert not torch.equal(value, before[name]) and value.norm() < before[name].norm(), name
        else:
            assert torch.equal(value, before[name]), name
    everything = build_optimizer(TrainConfig(optimizer=optimizer, weight_decay=0.5), model.parameters())
    assert [g["weight_decay"] for g in everything.param_groups] == [0.5]
    assert [g["weight_decay"] for g in optimizer_.param_groups] == [0.5, 0.0]


def test_a_resume_cannot_change_which_parameters_decay(tmp_path):
    first = toy_trainer(tmp_path, optimizer="adamw", weight_decay=0.1, max_steps=6, epochs=1, checkpoint_every=3)
    first.fit()
    resumed = toy_trainer(
        tmp_path, optimizer="adamw", weight_decay=0.1, weight_decay_on="matrices", max_steps=9, epochs=1
    )
    with pytest.raises(CheckpointError, match=r"cannot change train\.weight_decay_on"):
        resumed.fit(load_checkpoint(resumed.run.last))


def test_resume_takes_the_learning_rate_of_the_current_config(tmp_path):
    first = toy_trainer(tmp_path, max_steps=10, epochs=1, checkpoint_every=5)
    first.callbacks.append(lambda t: (_ for _ in ()).throw(Interrupt) if t.state.step == 6 else None)
    with pytest.raises(Interrupt):
        first.fit()
    resumed = toy_trainer(tmp_path, max_steps=10, epochs=1, lr=0.001)
    resumed.callbacks.append(lambda t: (_ for _ in ()).throw(Interrupt))
    with pytest.raises(Interrupt):
        resumed.fit(load_checkpoint(resumed.run.last))
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(0.001)


def test_best_checkpoint_and_early_stopping_follow_the_monitored_metric(tmp_path):
    scores = [0.5, 0.7, 0.6, 0.65, 0.69, 0.2, 0.9]  # best at the 2nd evaluation, then 3 without improvement
    trainer = toy_trainer(tmp_path, scores=scores, monitor="score", monitor_mode="max", patience=3, epochs=20)
    state = trainer.fit()
    steps_per_epoch = trainer.steps_per_epoch
    assert state.finished and "early stopping" in state.stop_reason
    assert state.step == 5 * steps_per_epoch  # stopped after the 5th evaluation
    assert state.best == 0.7 and state.best_step == 2 * steps_per_epoch
    assert load_checkpoint(trainer.run.best).state["step"] == 2 * steps_per_epoch
    val = [r for r in read_metrics(trainer.run.metrics) if r["split"] == "val"]
    assert [r["score"] for r in val] == scores[:5]


def test_gradient_clipping_bounds_the_gradient_norm(tmp_path):
    trainer = toy_trainer(tmp_path, grad_clip=1e-3, max_steps=3)
    norms = []
    # Callbacks run after the optimiser step, when the (clipped) gradients are still on the parameters.
    trainer.callbacks.append(
        lambda t: norms.append(
            float(torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in t.model.parameters()])))
        )
    )
    trainer.fit()
    assert len(norms) == 3 and all(1e-3 * 0.999 <= n <= 1e-3 * (1 + 1e-5) for n in norms)
    record = next(r for r in read_metrics(trainer.run.metrics) if r["split"] == "train")
    assert record["grad_norm"] > 1e-2  # the logged norm is the one before clipping


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = toy_trainer(tmp_path, checkpoint_every=1, max_steps=20, epochs=1)
    original = trainer.task.loss

    def poisoned(model, batch):
        loss = original(model, batch)
        return loss * float("nan") if trainer.state.step == 8 else loss

    trainer.task.loss = poisoned
    with pytest.raises(TrainingDiverged, match="the loss became nan at step 9"):
        trainer.fit()
    last = load_checkpoint(trainer.run.last)
    assert last.state["step"] == 8
    assert all(torch.isfinite(v).all() for v in last.model_state().values())


def test_a_nan_is_caught_at_the_next_read_naming_its_step_and_no_checkpoint_is_written_after_it(tmp_path):
    trainer = toy_trainer(tmp_path, eval_every=5, max_steps=20, epochs=1)
    trainer.cfg.log.every = 5
    original = trainer.task.loss
    trainer.task.loss = lambda model, batch: original(model, batch) * (math.nan if trainer.state.step == 6 else 1)
    with pytest.raises(TrainingDiverged, match=r"the loss became nan at step 7; .* the last good checkpoint was kept"):
        trainer.fit()
    assert trainer.state.step == 10  # read at the next log, three steps late
    last = load_checkpoint(trainer.run.last)
    assert last.state["step"] == 5 and all(torch.isfinite(v).all() for v in last.model_state().values())
    assert max(r["step"] for r in read_metrics(trainer.run.metrics)) == 5  # nothing of the bad steps was logged


def test_a_step_leaves_its_values_on_the_device_until_they_are_logged_or_an_evaluation_needs_them(
    tmp_path, monkeypatch
):
    trainer = toy_trainer(tmp_path, eval_every=6, max_steps=12, epochs=1)
    trainer.cfg.log.every = 4
    reads, read = [], Trainer._read

    def counting_read(self, unread, window):
        assert all(isinstance(v, torch.Tensor) for _, values in unread for v in values.values())
        reads.append([step for step, _ in unread])
        read(self, unread, window)

    monkeypatch.setattr(Trainer, "_read", counting_read)
    trainer.fit()
    assert reads == [[1, 2, 3, 4], [5, 6], [7, 8], [9, 10, 11, 12]]  # logs at 4, 8, 12; evaluations at 6, 12
    train = [r for r in read_metrics(trainer.run.metrics) if r["split"] == "train"]
    assert [r["step"] for r in train] == [4, 8, 12] and all(math.isfinite(r["grad_norm"]) for r in train)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_the_steps_between_reads_never_wait_for_the_host(tmp_path, monkeypatch):
    """CUDA's sync debug mode turns every host synchronisation into an error; it is on except while reading."""
    trainer = toy_trainer(tmp_path, max_steps=12, epochs=1)
    assert trainer.device.type == "cuda"
    trainer.cfg.log.every = 6
    read = Trainer._read

    def read_with_syncs_allowed(self, unread, window):
        torch.cuda.set_sync_debug_mode("default")
        read(self, unread, window)
        torch.cuda.set_sync_debug_mode("error")

    monkeypatch.setattr(Trainer, "_read", read_with_syncs_allowed)
    monkeypatch.setattr(Trainer, "_evaluate_and_checkpoint", lambda self, log: None)
    torch.cuda.set_sync_debug_mode("error")
    try:
        trainer.fit()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert trainer.state.step == 12


@pytest.mark.skipif(shutil.which("c++") is None, reason="torch.compile on the CPU needs a C++ compiler")
def test_train_compile_trains_the_same_module_and_resumes_bitwise(tmp_path):
    """The module is compiled in place: its checkpoint is the eager model's (same names), and a compiled run
    resumed after an interruption ends with the weights of an uninterrupted compiled run."""
    train = {"compile": True, "checkpoint_every": 3, "max_steps": 12, "epochs": 1}
    reference = toy_trainer(tmp_path, "reference", **train)
    reference.fit()
    assert reference.model._compiled_call_impl is not None
    assert weights(reference).keys() == toy_model(0).state_dict().keys()
    resumed = interrupt_and_resume(tmp_path, 7, **train)
    assert all(torch.equal(value, weights(resumed)[key]) for key, value in weights(reference).items())


def test_monitor_must_be_a_metric_of_the_task(tmp_path):
    with pytest.raises(
        ConfigError, match=r"train\.monitor 'rmse' is not a metric of task 'toy'; its metrics: loss, score"
    ):
        toy_trainer(tmp_path, monitor="rmse")


def test_metrics_log_has_train_and_val_records(tmp_path):
    trainer = toy_trainer(tmp_path, epochs=2)
    trainer.cfg.log.every = 2
    trainer.fit()
    records = read_metrics(trainer.run.metrics)
    assert {r["split"] for r in records} == {"train", "val"}
    train = [r for r in records if r["split"] == "train"]
    assert all({"loss", "lr", "grad_norm", "epoch"} <= r.keys() for r in train)
    assert json.loads(trainer.run.metrics.read_text().splitlines()[0])["step"] == 2


def test_sampler_order_depends_only_on_seed_and_epoch_and_can_start_mid_epoch():
    sampler = EpochBatchSampler(10, 3, shuffle=True, seed=5)
    sampler.set_epoch(2)
    full = list(sampler)
    assert sorted(i for b in full for i in b) == list(range(10)) and len(full) == len(sampler) == 4
    sampler.set_epoch(2, start=2)
    assert list(sampler) == full[2:]
    sampler.set_epoch(3)
    assert list(sampler) != full


@pytest.mark.parametrize(
    ("train", "step", "expected"),
    [
        ({}, 500, 1.0),
        ({"warmup_steps": 10}, 0, 0.1),
        ({"warmup_steps": 10}, 9, 1.0),
        ({"schedule": "step", "lr_step_every": 100, "lr_gamma": 0.5}, 250, 0.25),
        ({"schedule": "cosine"}, 0, 1.0),
        ({"schedule": "cosine"}, 500, 0.5),
        ({"schedule": "cosine", "min_lr_ratio": 0.1}, 1000, 0.1),
        ({"schedule": "cosine", "warmup_steps": 100}, 550, 0.5),
    ],
)
def test_lr_schedules(train, step, expected):
    assert math.isclose(lr_factor(TrainConfig(**train), step, total_steps=1000), expected, abs_tol=1e-12)


def test_label_smoothing_is_refused_where_the_loss_is_a_regression():
    task = Regression(resolve_config(task="regression", overrides=["train.label_smoothing=0.1"]))
    data = task.build_data()
    with pytest.raises(ConfigError, match=r"applies to classification losses; task 'regression' has none"):
        Trainer(task, task.build_model(), data, RunDir("unused"), quiet=True)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_resumes_bitwise_with_its_loss_scale(tmp_path, precision):
    """On the CPU too: autocast computes in the low precision, weights and checkpoints stay float32, and a resumed
    run equals an uninterrupted one, fp16's loss scaler included."""
    train = {"precision": precision, "checkpoint_every": 3}
    reference = toy_trainer(tmp_path, "reference", **train)
    reference.fit()
    losses = [r["loss"] for r in read_metrics(reference.run.metrics) if r["split"] == "val"]
    assert losses[-1] < 0.5 * losses[0]  # it learns

    resumed = interrupt_and_resume(tmp_path, 10, **train)
    for key, value in weights(reference).items():
        assert value.dtype == torch.float32 and torch.equal(value, weights(resumed)[key]), key
    assert resumed.scaler.state_dict() == reference.scaler.state_dict()
    if precision == "fp16":  # steps since the scale last changed: more than a scaler started at the resume could count
        assert reference.scaler.state_dict()["_growth_tracker"] > reference.state.step - 10


def test_an_fp16_overflow_skips_the_step_and_halves_the_loss_scale(tmp_path):
    trainer = toy_trainer(tmp_path, precision="fp16", max_steps=8, epochs=1)
    original = trainer.task.loss
    trainer.task.loss = lambda model, batch: original(model, batch) * (1e8 if trainer.state.step == 4 else 1)
    seen = {}
    trainer.callbacks.append(lambda t: seen.setdefault(t.state.step, (weights(t), t.scaler.get_scale())))
    trainer.fit()  # no TrainingDiverged: with loss scaling an overflow is expected, and handled
    (before, scale_before), (after, scale_after) = seen[4], seen[5]
    assert all(torch.equal(before[k], after[k]) for k in before)  # step 5 was skipped
    assert scale_after == scale_before / 2
    assert not torch.equal(seen[6][0]["0.weight"], after["0.weight"])  # and training goes on


def test_the_precision_policy(monkeypatch):
    from nnzoo.training.runtime import compute_dtype

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert compute_dtype(cpu, "auto") is None and compute_dtype(cpu, "fp32") is None
    assert compute_dtype(cpu, "bf16") == torch.bfloat16 and compute_dtype(cpu, "fp16") == torch.float16
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))  # A100: native bf16
    assert compute_dtype(cuda, "auto") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))  # T4: emulated bf16
    assert compute_dtype(cuda, "auto") == torch.float16 and compute_dtype(cuda, "fp32") is None
