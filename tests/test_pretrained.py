"""Shipped models (nnzoo.pretrained): packing a run, opening it by name, the checksum, the commands that take one.

These tests pack tiny runs into a temporary weights folder; the models that really ship are checked against their
cards by tests/test_shipped_weights.py."""

from __future__ import annotations

import shutil

import pytest
import torch

import nnzoo
from nnzoo import pretrained
from nnzoo.config import load_toml
from nnzoo.errors import CheckpointError, UserError
from nnzoo.training import load_checkpoint

ABOUT = {"summary": "a tiny test model", "command": "nnzoo train regression", "default": True}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrained") / "run"
    nnzoo.train("regression", model="mlp", overrides=["train.max_steps=40", "train.eval_every=20"], run_dir=folder,
                progress=False, figures=False)  # fmt: skip
    return folder


@pytest.fixture
def shipped(trained, tmp_path, monkeypatch):
    """A weights folder holding one model, regression/tiny (the task's default), in place of the package's."""
    root = tmp_path / "weights"
    monkeypatch.setattr(pretrained, "WEIGHTS", root)
    card = pretrained.pack(trained, "regression/tiny", ABOUT)
    return card


def test_pack_writes_a_run_folder_with_a_card_that_states_what_was_measured(shipped, trained):
    folder = shipped.folder
    assert sorted(p.name for p in folder.iterdir()) == [
        "best.safetensors",
        "card.toml",
        "config.toml",
        "info.json",
        "metrics.jsonl",
        "run.json",
    ]
    card = load_toml(folder / "card.toml")
    assert card["summary"] == "a tiny test model" and card["task"] == "regression" and card["model"] == "mlp"
    assert card["steps"] == 40 and card["sha256"] == pretrained.sha256(folder / "best.safetensors")
    run = nnzoo.open(trained)
    assert card["parameters"] == sum(p.numel() for p in run.model.parameters())
    assert card["test_float32"] == pytest.approx(run.evaluate("test"), rel=1e-9)
    dtype = {"float16": torch.float16, "float32": torch.float32}[card["dtype"]]
    weights = load_checkpoint(folder / "best.safetensors").model_state()
    assert all(value.dtype == dtype for value in weights.values() if value.is_floating_point())
    assert not (folder / "last.safetensors").exists()  # no optimizer state ships


def test_the_card_records_a_cheaper_check_when_asked(tmp_path):
    run = tmp_path / "g2p"
    overrides = ["data.max_words=300", "train.max_steps=20", "model.hidden_size=32", "model.embed_dim=16"]
    nnzoo.train("g2p", model="lstm-attention", overrides=overrides, run_dir=run, progress=False, figures=False)
    card = pretrained.pack(run, "g2p/tiny", ABOUT, root=tmp_path / "weights", check=["eval.beam_size=1"])
    assert card.fields["check"]["overrides"] == ["eval.beam_size=1"]
    greedy = nnzoo.open(card.folder, overrides=["eval.beam_size=1"]).evaluate("test")
    checked = card.fields["check"]["test"]
    assert checked == pytest.approx({key: greedy[key] for key in checked}, rel=1e-9)  # NaNs (wer_long) are left out
    assert load_toml(card.folder / "card.toml")["check"] == card.fields["check"]


def test_float16_is_chosen_only_when_no_test_figure_moves(trained, tmp_path):
    strict = pretrained.pack(trained, "regression/strict", ABOUT, root=tmp_path, tolerance=0.0)
    loose = pretrained.pack(trained, "regression/loose", ABOUT, root=tmp_path, tolerance=0.5)
    assert loose.fields["dtype"] == "float16"
    assert strict.fields["dtype"] == "float32"  # float16 rounding moves the RMSE in its last digits
    assert strict.fields["test"] == strict.fields["test_float32"]


def test_a_shipped_model_opens_by_name_and_by_its_tasks_name(shipped, trained):
    expected = nnzoo.open(trained).evaluate("test")
    for name in ("regression/tiny", "regression"):
        run = nnzoo.open(name)
        assert run.pretrained and run.path == shipped.folder
        assert run.evaluate("test") == pytest.approx(shipped.fields["test"], rel=1e-9)
        assert run.evaluate("test")["rmse"] == pytest.approx(expected["rmse"], rel=1e-2)
        assert run.state["step"] == 40 and run.metrics == nnzoo.open(trained).metrics
        with pytest.raises(UserError, match="is a model shipped with nnzoo; give the folder to draw into"):
            run.figures("test")
        with pytest.raises(UserError, match="is a model shipped with nnzoo; it has no training state to resume"):
            run.resume()
    assert nnzoo.list_pretrained() == ["regression/tiny"] and nnzoo.list_pretrained("g2p") == []


def test_an_existing_folder_wins_over_a_shipped_name(shipped, trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(trained, tmp_path / "regression")
    assert not nnzoo.open("regression").pretrained


def test_damaged_weights_and_unknown_names_are_one_clear_line(shipped):
    weights = shipped.folder / "best.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"does not match its card's SHA-256 \(damaged or replaced\); reinstall"):
        nnzoo.open("regression/tiny")
    unknown = (
        r"'regression/huge' is neither a run folder nor a pretrained model \(pretrained: regression, regression/tiny\)"
    )
    with pytest.raises(UserError, match=unknown):
        nnzoo.open("regression/huge")
    with pytest.raises(UserError, match="a pretrained model is named TASK/NAME, got 'tiny'"):
        pretrained.pack(shipped.folder, "tiny", ABOUT)


def test_the_commands_take_a_shipped_name_and_write_nothing_into_it(shipped, cli):
    before = sorted(p.name for p in shipped.folder.iterdir())
    code, out, err = cli("eval", "regression", "--split", "test")
    assert code == 0 and "pretrained regression (regression/mlp)" in out, err
    code, out, err = cli(
        "predict", "regression/tiny", "--row=0.00632,18,2.31,0,0.538,6.575,65.2,4.09,1,296,15.3,396.9,4.98"
    )
    assert code == 0 and out.startswith("MEDV = "), err
    assert sorted(p.name for p in shipped.folder.iterdir()) == before
    code, out, _ = cli("list", "--pretrained")
    assert code == 0 and "regression/tiny (= regression)" in out and "rmse" in out
    code, _, err = cli("eval", "nowhere/nothing")
    assert code == 2 and "'nowhere/nothing' is neither a run folder nor a pretrained model" in err


def test_export_of_a_shipped_model_writes_into_the_current_folder(shipped, cli, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("export", "regression", "--format", "onnx")
    assert code == 0, err
    assert (tmp_path / "regression-tiny.onnx").is_file() and not list(shipped.folder.glob("*.onnx"))


def test_init_starts_a_new_run_from_a_shipped_models_weights(shipped, tmp_path, cli):
    source = load_checkpoint(shipped.folder / "best.safetensors").model_state()
    run = tmp_path / "tuned"
    code, _, err = cli("train", "--init", "regression", "--run-dir", run, "--quiet",
                       "--set", "train.max_steps=1", "--set", "train.lr=1e-12")  # fmt: skip
    assert code == 0, err
    tuned = nnzoo.open(run, checkpoint="last")
    assert tuned.config.train.init == "regression" and tuned.config.model == nnzoo.open("regression").config.model
    for name, value in tuned.model.state_dict().items():  # one step of 1e-12 from the shipped weights
        assert torch.allclose(value, source[name].float(), atol=1e-8), name
    assert load_toml(run / "config.toml")["train"]["init"] == "regression"


def test_init_refuses_another_model_or_other_data(shipped, tmp_path):
    with pytest.raises(UserError, match="is a regression/mlp model with other settings than this regression/linear"):
        nnzoo.train("regression", model="linear", init="regression", run_dir=tmp_path / "a", progress=False)
    with pytest.raises(UserError, match="was trained on data with other vocabularies or statistics than this run's"):
        nnzoo.train(init="regression/tiny", overrides=["data.drop=['B']", "model.hidden=[64, 64]"],
                    run_dir=tmp_path / "b", progress=False)  # fmt: skip
    with pytest.raises(UserError, match="--resume continues a run as configured"):
        nnzoo.train(resume=shipped.folder, init="regression")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_tasks_name_opens_the_model_made_for_the_prediction_asked(shipped, trained, cli):
    """charlm's default writes Shakespeare; `nnzoo predict charlm --poem 7x4` opens the model whose card is
    default_for poem. Here: regression's `--row` opens regression/rows, shown by its damaged weights being read."""
    rows = pretrained.pack(trained, "regression/rows", {**ABOUT, "default": False, "default_for": ["row"]})
    assert pretrained.names()["regression"] == "regression/tiny"
    assert pretrained.names(purposes=["row"])["regression"] == "regression/rows"
    assert pretrained.names(purposes=["csv"])["regression"] == "regression/tiny"
    weights = rows.folder / "best.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + bytes([weights.read_bytes()[-1] ^ 1]))
    code, _, err = cli("predict", "regression", "--row=0.00632,18,2.31,0,0.538,6.575,65.2,4.09,1,296,15.3,396.9,4.98")
    assert code != 0 and "pretrained regression/rows:" in err
    code, out, _ = cli("list", "--pretrained")
    assert "regression/rows (= regression --row)" in out
