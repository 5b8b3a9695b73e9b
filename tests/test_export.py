"""``nnzoo export``: tiny trained runs written as ONNX files, run in onnxruntime on batches of another size (and
sequences of another length) than the ones traced, and compared with the same run's PyTorch model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from conftest import train_run
from nnzoo.training.run import load_trained

TOLERANCE = 1e-4
REGRESSION = ("regression", "mlp", "train.epochs=2", "model.hidden=[16,16]")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Train each run the first time a test asks for it (a few seconds each), then share it."""
    root = tmp_path_factory.mktemp("export")
    trained = {}

    def get(task: str, model: str, *overrides: str):
        key = (task, model, *overrides)
        if key not in trained:
            trained[key] = train_run(root / f"{task}-{model}-{len(trained)}", task, model, *overrides)
        return trained[key]

    return get


def exported(cli, run, *args):
    """Export ``run`` with the CLI; return the file, the reopened PyTorch model and the ONNX session."""
    code, out, err = cli("export", run, "--format", "onnx", *args)
    assert code == 0, err
    path = run / "best.onnx"
    assert f"wrote {path}" in out and "onnxruntime agrees with PyTorch" in out
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return path, load_trained(run, device="cpu").model, session


def assert_same(session, inputs: dict, expected, unit: float = 1.0):
    """onnxruntime's outputs on ``inputs`` against PyTorch's (a tensor, or a dict of tensors in the heads' order),
    to TOLERANCE in units of ``unit``."""
    got = session.run(None, {name: x.numpy() for name, x in inputs.items()})
    expected = list(expected.values()) if isinstance(expected, dict) else [expected]
    assert len(got) == len(expected)
    for have, want in zip(got, expected):
        assert have.shape == tuple(want.shape)
        assert np.abs(have - want.numpy()).max() / unit <= TOLERANCE


def padded_tokens(lengths: list[int], length: int, vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random real ids (4 on: after the specials), padded with 0 after each length, and the lengths."""
    lengths_t = torch.tensor(lengths)
    tokens = torch.randint(4, vocab_size, (len(lengths), length))
    return tokens.masked_fill(torch.arange(length) >= lengths_t.unsqueeze(1), 0), lengths_t


# --- models of one forward pass ----------------------------------------------------------------------------------
def test_regression_mlp(cli, runs):
    run = runs(*REGRESSION)
    path, model, session = exported(cli, run)
    x = torch.randn(7, 13) * 10 + 20  # 7 houses, not the 2 traced
    with torch.no_grad():
        assert_same(session, {"x": x}, model(x))
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert (meta["nnzoo.task"], meta["nnzoo.model"], meta["nnzoo.checkpoint"]) == ("regression", "mlp", "best")
    assert '"target": "MEDV"' in meta["nnzoo.info"] and meta["nnzoo.io"].startswith("x: (batch, 13) float32")


def test_cnn_image_classifier(cli, runs):
    run = runs(
        "classify-images", "cnn", "data.dataset=digits", "train.max_steps=5", "model.channels=[8]", "model.hidden=8"
    )
    _, model, session = exported(cli, run)
    images = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        assert_same(session, {"images": images}, model(images))


def test_unet_takes_other_batch_sizes_and_image_sizes(cli, runs):
    scenes = ("data.train_scenes=40", "data.val_scenes=10", "data.test_scenes=10", "data.size=32")
    run = runs("segment", "unet", *scenes, "model.depth=2", "model.base_channels=4", "train.max_steps=3")
    _, model, session = exported(cli, run)
    for shape in [(3, 1, 32, 32), (1, 1, 28, 20)]:  # any multiple of 2**depth = 4
        images = torch.rand(*shape)
        with torch.no_grad():
            assert_same(session, {"images": images}, model(images))


def test_pix2pix_exports_its_generator_between_grey_levels(cli, runs):
    judge = runs("classify-images", "lenet5", "data.dataset=mnist", "train.max_steps=2")
    tiny = ("data.dataset=mnist", "data.max_train=64", "model.base_channels=4", "model.discriminator_width=4")
    run = runs("translate-images", "pix2pix", *tiny, "train.max_steps=3", f"eval.classifier={judge}")
    path, model, session = exported(cli, run)
    assert {i.name for i in session.get_inputs()} == {"edges"} and [o.name for o in session.get_outputs()] == ["image"]
    weights = [w.name for w in onnx.load(str(path)).graph.initializer]
    assert weights and not [name for name in weights if "discriminator" in name]  # the generator alone
    for shape in [(3, 1, 28, 28), (1, 1, 32, 20)]:  # any multiple of 2**depth = 4
        edges = (torch.rand(*shape) > 0.8).float()
        with torch.no_grad():
            assert_same(session, {"edges": edges}, (model(edges * 2 - 1) + 1) / 2)


# --- sequence models ---------------------------------------------------------------------------------------------
TINY_TAGGER = ("data.corpus=apple", "train.max_steps=4")


def test_transformer_encoder_takes_any_batch_and_length(cli, runs):
    run = runs("tagging", "transformer", *TINY_TAGGER, "model.d_model=16", "model.dim_feedforward=32")
    _, model, session = exported(cli, run)
    vocab_size = model.encoder.embedding.num_embeddings
    for lengths, length in [([5, 2, 4], 5), ([9], 9), ([3, 1, 1, 2], 3)]:
        tokens, lengths_t = padded_tokens(lengths, length, vocab_size)
        with torch.no_grad():
            assert_same(session, {"tokens": tokens, "lengths": lengths_t}, model(tokens, lengths_t))


@pytest.mark.parametrize(
    "overrides",
    [
        ("model.hidden_size=16", "model.embedding_dim=16"),
        ("model.cell=gru", "model.num_layers=2", "model.hidden_size=8"),
    ],
    ids=["bilstm", "bigru-2-layers"],
)
def test_recurrent_encoder_takes_any_batch_and_lengths(cli, runs, overrides):
    """Tracing unrolls the loop over time: the padded length is fixed (the longest sentence), the lengths are not."""
    run = runs("tagging", "bilstm", *TINY_TAGGER, *overrides)
    _, model, session = exported(cli, run)
    (tokens_input,) = [i for i in session.get_inputs() if i.name == "tokens"]
    length = tokens_input.shape[1]
    assert isinstance(length, int) and length == load_trained(run).task.info["longest"]
    vocab_size = model.encoder.embedding.num_embeddings
    for lengths in ([length, 3, 1, length - 2], [2], [length] * 3):
        tokens, lengths_t = padded_tokens(lengths, length, vocab_size)
        with torch.no_grad():
            assert_same(session, {"tokens": tokens, "lengths": lengths_t}, model(tokens, lengths_t))


def test_recurrent_forecaster_with_its_decoder_unrolled(cli, runs):
    run = runs("forecast", "lstm", "data.series=nile", "train.max_steps=10", "model.hidden_size=8")
    _, model, session = exported(cli, run)
    window = 900 + 150 * torch.randn(6, 20)  # the Nile's flow, around 900 (10^8 m³/year)
    with torch.no_grad():
        # float32 keeps 7 digits of a flow of 900: compare in units of the scaler's spread, as the loss does
        assert_same(session, {"window": window}, model(window, 5), unit=float(model.scale))


def test_help_and_the_options_out_and_checkpoint(cli, runs, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli("export", "--help")
    assert exit_info.value.code == 0 and "examples:\n  nnzoo export runs/" in capsys.readouterr().out
    run = runs(*REGRESSION)
    code, out, err = cli("export", run, "--checkpoint", "last", "--out", tmp_path / "new" / "house.onnx")
    assert code == 0 and f"wrote {tmp_path / 'new' / 'house.onnx'}" in out, err
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "new" / "house.onnx")).metadata_props}
    assert meta["nnzoo.checkpoint"] == "last"


def test_an_export_that_fails_its_check_leaves_the_previous_file_whole(runs, tmp_path, monkeypatch):
    import nnzoo.export

    out = tmp_path / "house.onnx"
    nnzoo.export.export_run(runs(*REGRESSION), out)
    before = out.read_bytes()

    def wrong(path, spec, onnxruntime=None):
        assert path != out and path.parent == out.parent  # the check reads the new file under a temporary name
        raise RuntimeError("the exported model differs from PyTorch")

    monkeypatch.setattr(nnzoo.export, "verify", wrong)
    with pytest.raises(RuntimeError, match="differs from PyTorch"):
        nnzoo.export.export_run(runs(*REGRESSION), out, checkpoint="last")
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["house.onnx"]


# --- what cannot be exported, and wrong input ----------------------------------------------------------------------
def test_autoregressive_seq2seq_is_refused_naming_what_can_be_exported(cli, runs):
    run = runs("g2p", "gru-seq2seq", "data.max_words=300", "train.max_steps=2", "eval.beam_size=1")
    code, _, err = cli("export", run, "--format", "onnx")
    assert code == 2 and not (run / "best.onnx").exists()
    assert "g2p/gru-seq2seq cannot be exported to ONNX: its output is decoded one symbol at a time" in err
    assert "exportable tasks: classify-images, classify-text, denoise, forecast, gan, regression," in err
    assert "g2p," not in err and "charlm" not in err
    assert "translate-images" in err and "translate," not in err and not err.rstrip().endswith("translate")


def test_missing_run_folder_and_bad_arguments(cli, runs, tmp_path, capsys):
    code, _, err = cli("export", tmp_path / "nowhere", "--format", "onnx")
    assert code == 2 and "nowhere' is neither a run folder nor a pretrained model" in err
    with pytest.raises(SystemExit) as exit_info:
        cli("export", tmp_path, "--format", "tflite")
    assert exit_info.value.code == 2 and "argument --format: invalid choice: 'tflite'" in capsys.readouterr().err
    run = runs(*REGRESSION)
    code, _, err = cli("export", run, "--out", tmp_path)
    assert code == 2 and "is a folder; give the file to write" in err


def test_missing_onnx_is_a_clear_error_and_importing_nnzoo_does_not_need_it(cli, runs, monkeypatch):
    run = runs(*REGRESSION)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    code, _, err = cli("export", run, "--out", run / "other.onnx")
    assert code == 2 and "nnzoo export needs onnxruntime, which is not installed" in err
    assert "pip install 'nnzoo[export]'" in err and not (run / "other.onnx").exists()
    check = "import sys, nnzoo, nnzoo.cli, nnzoo.export; nnzoo.list_tasks(); print('onnx' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout == "False\n"
