"""Data-parallel training: 2 processes with half batches take the steps of 1 process; resume; clear errors.

The processes talk over the loopback interface only (gloo on 127.0.0.1, torchrun's standalone rendezvous on
localhost). The model is an MLP without dropout or batch statistics, and the regression loss is a mean over
examples, so the two runs differ only by rounding.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest
import torch

from nnzoo.cli import main
from nnzoo.errors import ConfigError, UserError
from nnzoo.training import Trainer, load_checkpoint
from nnzoo.training import distributed as ddp
from nnzoo.training.checkpoint import capture_rng, save_checkpoint
from nnzoo.training.metrics_log import read_metrics
from nnzoo.training.sampler import EpochBatchSampler

# 30 steps of 12 per epoch: three evaluations (steps 12, 24, 30), a checkpoint every 5 steps, shuffling on, a cosine
# schedule over the 30 steps. The training split has 354 rows: every batch of 32 splits evenly over 2 processes.
TRAIN = ["regression", "--model", "mlp", "--quiet"]
TRAIN += ["--set", "model.hidden=[16]", "--set", "train.max_steps=30", "--set", "train.checkpoint_every=5"]


@pytest.fixture(scope="module", autouse=True)
def loopback_only():
    """One thread per process (two processes share the two cores), gloo on the loopback interface."""
    saved = {key: os.environ.get(key) for key in ("OMP_NUM_THREADS", "GLOO_SOCKET_IFNAME")}
    os.environ["OMP_NUM_THREADS"] = "1"
    if sys.platform == "linux":
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same training in 1 process and in 2 (``--nproc 2``)."""
    root = tmp_path_factory.mktemp("ddp")
    assert main(["train", *TRAIN, "--run-dir", str(root / "one")]) == 0
    assert main(["train", *TRAIN, "--run-dir", str(root / "two"), "--nproc", "2"]) == 0
    return root


def model_state(run) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "last.safetensors").model_state()


def reproducible(run) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in read_metrics(run / "metrics.jsonl")]


def test_two_processes_with_half_batches_take_the_steps_of_one(runs):
    one, two = model_state(runs / "one"), model_state(runs / "two")
    assert load_checkpoint(runs / "two" / "last.safetensors").state["step"] == 30
    assert max(float((one[k] - two[k]).abs().max()) for k in one) <= 1e-5
    # Rank 0 logged the loss averaged over both ranks: the loss of the whole batch.
    records_one, records_two = reproducible(runs / "one"), reproducible(runs / "two")
    assert [(r["step"], r["split"]) for r in records_one] == [(r["step"], r["split"]) for r in records_two]
    for a, b in zip(records_one, records_two, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
    # Rank 0 alone wrote the folder; the checkpoint holds both ranks' random states.
    assert sorted(p.name for p in (runs / "two").iterdir()) == sorted(p.name for p in (runs / "one").iterdir())
    assert "rng.rank1.torch" in load_checkpoint(runs / "two" / "last.safetensors").tensors


def interrupted(argv: list[str], stop_at: int) -> int:
    """A worker of :func:`ddp.launch`: ``nnzoo ARGV``, which every rank interrupts (Ctrl-C) after step ``stop_at``."""

    def stop(trainer: Trainer) -> None:
        if trainer.state.step == stop_at:
            raise KeyboardInterrupt

    fit = Trainer.fit

    def fit_until_stopped(self: Trainer, resume: bool = False):
        self.callbacks.append(stop)
        return fit(self, resume)

    Trainer.fit = fit_until_stopped
    return main(argv)


def test_resumed_two_process_run_equals_an_uninterrupted_one(runs):
    run = runs / "resumed"
    # Killed at step 17: the last checkpoint is that of step 15, in the middle of the second epoch.
    assert ddp.launch(2, interrupted, ["train", *TRAIN, "--run-dir", str(run)], 17) == 130
    assert load_checkpoint(run / "last.safetensors").state["step"] == 15
    # Resumed under torchrun, which sets RANK, WORLD_SIZE and LOCAL_RANK itself.
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    done = subprocess.run(
        [*torchrun, "-m", "nnzoo.cli", "train", "--resume", str(run), "--quiet"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    resumed, uninterrupted = model_state(run), model_state(runs / "two")
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in resumed)
    assert reproducible(run) == reproducible(runs / "two")


def test_a_batch_that_does_not_split_over_the_processes_is_a_clear_error(cli, tmp_path):
    code, _, err = cli("train", *TRAIN, "--run-dir", tmp_path / "run", "--nproc", "2", "--set", "train.batch_size=31")
    assert code == 2
    assert "train.batch_size 31 does not split evenly over 2 processes" in err
    assert "(e.g. 30 or 32)" in err
    assert not (tmp_path / "run").exists()  # checked before any process starts
    with pytest.raises(ConfigError, match="choose a multiple of 4"):
        ddp.check_batch_size(6, 4)  # the Trainer's check, for runs under torchrun
    code, _, err = cli("train", *TRAIN, "--nproc", "0")
    assert code == 2 and "--nproc must be at least 1" in err


def test_nproc_under_torchrun_is_an_error(cli, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    code, _, err = cli("train", *TRAIN, "--nproc", "2")
    assert code == 2 and "under torchrun, leave it out" in err


@pytest.mark.parametrize("world_size", [2, 3])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_each_rank_takes_a_disjoint_equal_shard_of_every_batch(world_size, with_lengths):
    n, batch_size = 100, 12  # the epoch's last batch holds 4 examples: padded to 6 for 3 processes
    lengths = torch.randint(1, 50, (n,), generator=torch.Generator().manual_seed(0)) if with_lengths else None

    def sampler(rank: int = 0, size: int = 1) -> EpochBatchSampler:
        return EpochBatchSampler(
            n, batch_size, shuffle=True, seed=5, lengths=lengths, pool=3, rank=rank, world_size=size
        )

    whole = sampler()
    whole.set_epoch(2)
    shards = [sampler(rank, world_size) for rank in range(world_size)]
    for shard in shards:
        shard.set_epoch(2)
        assert len(shard) == len(whole)  # the same number of steps per epoch as one process
    for batch, *parts in zip(whole, *shards, strict=True):
        assert len({len(part) for part in parts}) == 1  # equal shards
        taken = [i for part in parts for i in part]
        if len(batch) % world_size == 0:
            assert sorted(taken) == sorted(batch)  # disjoint, and together the whole batch
        else:  # the short last batch, padded with its own first examples
            assert set(taken) == set(batch) and len(taken) == -(-len(batch) // world_size) * world_size
    # Resuming mid-epoch gives the same shards from there on.
    late = sampler(1, world_size)
    late.set_epoch(2, start=3)
    assert list(late) == list(shards[1])[3:]


def test_a_checkpoint_keeps_the_random_states_of_every_rank(tmp_path):
    def draws() -> tuple:
        return torch.rand(3).tolist(), random.random()

    states = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        random.seed(seed)
        states.append((capture_rng(), draws()))
    save_checkpoint(tmp_path / "c.safetensors", torch.nn.Linear(2, 2), rng=[state for state, _ in states])
    checkpoint = load_checkpoint(tmp_path / "c.safetensors")
    for rank in (1, 0):
        assert checkpoint.restore_rng(rank)
        assert draws() == states[rank][1]
    assert not checkpoint.restore_rng(2)  # written by 2 processes: a third rank starts a stream of its own


def test_the_backend_follows_the_device_and_mps_is_refused_in_one_line():
    assert ddp.backend(torch.device("cpu")) == "gloo"
    assert ddp.backend(torch.device("cuda", 0)) == "nccl"
    with pytest.raises(UserError, match="not on mps"):
        ddp.backend(torch.device("mps"))
