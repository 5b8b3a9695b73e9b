"""The checkpoint format: round trip, atomic writes, clear errors, no pickle."""

from __future__ import annotations

import json
import os
import random
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from nnzoo.errors import CheckpointError
from nnzoo.training.checkpoint import load_checkpoint, save_checkpoint


def trained_model_and_optimizer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(5, 4)).square().mean().backward()
        optimizer.step()
    return model, optimizer


def test_round_trip_restores_model_optimizer_and_random_state(tmp_path):
    model, optimizer = trained_model_and_optimizer()
    random.seed(1)
    np.random.seed(2)
    path = tmp_path / "ck.safetensors"
    save_checkpoint(path, model, optimizer=optimizer, state={"step": 3}, config={"task": "x"}, rng=True)
    expected = (torch.rand(3), np.random.rand(3), random.random())

    torch.manual_seed(42)
    other = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    other_optimizer = torch.optim.Adam(other.parameters(), lr=0.01)
    checkpoint = load_checkpoint(path)
    checkpoint.restore_model(other)
    checkpoint.restore_optimizer(other_optimizer)
    checkpoint.restore_rng()
    assert checkpoint.state == {"step": 3} and checkpoint.meta["config"] == {"task": "x"}
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)
    saved, restored = optimizer.state_dict()["state"], other_optimizer.state_dict()["state"]
    for index in saved:
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(saved[index][key], restored[index][key])
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], again[0]) and np.array_equal(expected[1], again[1]) and expected[2] == again[2]


def test_tied_weights_can_be_saved(tmp_path):
    torch.manual_seed(0)
    embedding = nn.Embedding(10, 4)
    head = nn.Linear(4, 10, bias=False)
    head.weight = embedding.weight
    model = nn.ModuleDict({"embedding": embedding, "head": head})
    saved = embedding.weight.detach().clone()
    save_checkpoint(tmp_path / "tied.safetensors", model)

    # A fresh model with the same tying but other initial values.
    torch.manual_seed(123)
    fresh_embedding = nn.Embedding(10, 4)
    fresh_head = nn.Linear(4, 10, bias=False)
    fresh_head.weight = fresh_embedding.weight
    fresh = nn.ModuleDict({"embedding": fresh_embedding, "head": fresh_head})
    assert not torch.equal(fresh_embedding.weight, saved)
    load_checkpoint(tmp_path / "tied.safetensors").restore_model(fresh)

    assert torch.equal(fresh["embedding"].weight, saved)
    assert torch.equal(fresh["head"].weight, saved)
    # Still tied: one parameter, one storage, so a change to one shows in the other.
    assert fresh["head"].weight is fresh["embedding"].weight
    assert fresh["head"].weight.data_ptr() == fresh["embedding"].weight.data_ptr()
    assert len(list(fresh.parameters())) == 1
    with torch.no_grad():
        fresh["embedding"].weight[3, 1] += 1.0
    assert fresh["head"].weight[3, 1] == saved[3, 1] + 1.0


def test_a_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    model, _ = trained_model_and_optimizer()
    path = tmp_path / "last.safetensors"
    save_checkpoint(path, model, state={"step": 1})
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, state={"step": 2})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.safetensors"]  # no temporary file left behind


def test_file_is_plain_safetensors_with_json_metadata(tmp_path):
    model, optimizer = trained_model_and_optimizer()
    path = tmp_path / "ck.safetensors"
    save_checkpoint(path, model, optimizer=optimizer, rng=True)
    raw = path.read_bytes()
    (header_size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_size])
    assert json.loads(header["__metadata__"]["nnzoo"])["format"] == "nnzoo.checkpoint/2"
    assert "model.0.weight" in header and "rng.torch" in header and "optimizer.0.exp_avg" in header


def test_missing_truncated_and_foreign_files_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.safetensors")

    model, _ = trained_model_and_optimizer()
    good = tmp_path / "good.safetensors"
    save_checkpoint(good, model)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="is truncated or not a safetensors file"):
        load_checkpoint(truncated)

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(os.urandom(256))
    with pytest.raises(CheckpointError, match="is truncated or not a safetensors file"):
        load_checkpoint(garbage)

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="not an nnzoo checkpoint"):
        load_checkpoint(foreign)


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    model, _ = trained_model_and_optimizer()
    save_checkpoint(tmp_path / "ck.safetensors", model)
    with pytest.raises(CheckpointError, match="does not fit this model"):
        load_checkpoint(tmp_path / "ck.safetensors").restore_model(nn.Linear(4, 2))
    with pytest.raises(CheckpointError, match=r"does not fit this model: size mismatch for 0\.weight"):
        load_checkpoint(tmp_path / "ck.safetensors").restore_model(
            nn.Sequential(nn.Linear(4, 9), nn.ReLU(), nn.Linear(9, 2))
        )
