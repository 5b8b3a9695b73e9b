"""The Python API: every registered task × model trains through ``nnzoo.train``, reopens with ``nnzoo.open``,
evaluates and predicts typed results (timm's habit: a test that walks the registry); the documented examples run;
the layers point down."""

from __future__ import annotations

import ast
import doctest
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import nnzoo
import nnzoo.api
from nnzoo.errors import UserError
from nnzoo.tasks.base import Classification
from tiny import JUDGED, TINY, tiny_settings

SRC = Path(__file__).resolve().parents[1] / "src" / "nnzoo"

STEPS = ["train.max_steps=4", "train.eval_every=4", "train.batch_size=16", "train.warmup_steps=0"]
BOSTON_ROW = [0.00632, 18, 2.31, 0, 0.538, 6.575, 65.2, 4.09, 1, 296, 15.3, 396.9, 4.98]


def registered() -> list[tuple[str, str]]:
    return [(task, model) for task in nnzoo.list_tasks() if task in TINY for model in nnzoo.list_models(task)]


@pytest.fixture(scope="module")
def judge(tmp_path_factory):
    """The classifier that scores the GAN's samples (a tiny LeNet-5 on MNIST)."""
    folder = tmp_path_factory.mktemp("judge") / "lenet5"
    overrides = ["data.dataset=mnist", "data.max_train=256", *STEPS]
    run = nnzoo.train(
        "classify-images", model="lenet5", overrides=overrides, run_dir=folder, progress=False, figures=False
    )
    return run.path


def check_predictions(run: nnzoo.Run, data: dict) -> None:
    """Feed ``run.predict`` inputs of the task's own kind (from ``data``); check the results' types and meaning."""
    task = run.config.task
    if task == "regression":
        rows = [BOSTON_ROW, dict(zip(run.task.info["columns"], BOSTON_ROW))]
        first, second = run.predict(rows)
        assert isinstance(first, float) and first == second  # a sequence and a mapping mean the same row
    elif task == "classify-images":
        images = data["test"].images[:3]
        results = run.predict(list(images))
        assert all(isinstance(r, Classification) for r in results)
        expected = run.model(images).argmax(-1)
        assert [r.label for r in results] == [run.task.info["classes"][i] for i in expected]
        assert all(abs(sum(r.probabilities.values()) - 1) < 1e-5 for r in results)
    elif task == "denoise":
        noisy = data["test"].noisy[:2]
        clean = run.predict(list(noisy))
        assert [tuple(c.shape) for c in clean] == [tuple(noisy.shape[1:])] * 2
        assert all(float(c.min()) >= 0 and float(c.max()) <= 1 for c in clean)
    elif task == "translate-images":
        edges = data["test"].edges[:2]
        drawn = run.predict(list(edges))
        assert [tuple(d.shape) for d in drawn] == [tuple(edges.shape[1:])] * 2
        assert all(float(d.min()) >= 0 and float(d.max()) <= 1 for d in drawn)
        from_pictures = run.predict(list(data["test"].images[:2]), from_images=True)
        assert all(torch.equal(a, b) for a, b in zip(from_pictures, drawn))  # the edges are taken as in training
    elif task == "segment":
        masks = run.predict(list(data["test"].images[:2]))
        size = run.task.info["size"]
        assert [(tuple(m.shape), m.dtype) for m in masks] == [((size, size), torch.int64)] * 2
        assert all(int(m.min()) >= 0 and int(m.max()) < len(run.task.info["classes"]) for m in masks)
    elif task == "seismic":
        sections = data["test"].seismic[:2, 0].numpy()
        (velocity, edges), _ = run.predict(list(sections))
        low, high = run.task.info["v_range"]
        assert velocity.shape == edges.shape and velocity.dim() == 2
        assert low - 2 * (high - low) < float(velocity.mean()) < high + 2 * (high - low)  # m/s, not scaled units
    elif task == "gan":
        images = run.predict(torch.randn(3, run.model.latent_dim))
        assert len(images) == 3 and images[0].shape == (1, 28, 28)
        assert all(float(i.min()) >= 0 and float(i.max()) <= 1 for i in images)
    elif task == "charlm":
        first, second = run.predict(["the ", "the "], length=12, seed=3)
        assert first.startswith("the ") and len(first) == 16 and first != second  # seeds 3 and 4
        assert run.predict(["the "], length=12, seed=4)[0] == second
    elif task == "tagging":
        (sentence,) = run.predict(["I ate an apple"])
        assert [w.word for w in sentence] == ["i", "ate", "an", "apple"]
        assert all(w.tag in run.task.info["tags"] and isinstance(w.known, bool) for w in sentence)
    elif task == "classify-text":
        results = run.predict(["质量很好，非常满意", "太差了"])
        assert [set(r.probabilities) for r in results] == [{"negative", "positive"}] * 2
        assert all(r.label == max(r.probabilities, key=r.probabilities.get) for r in results)
    elif task == "forecast":
        series = run.task.load_series().values
        (trained, rolled) = run.predict([series, series[:-5]], steps=run.task.info["horizon"] + 3)
        assert len(trained) == len(rolled) == run.task.info["horizon"] + 3 and all(isinstance(v, float) for v in rolled)
    elif task in ("g2p", "translate"):
        word = "hello" if task == "g2p" else "file not found"
        (outputs,) = run.predict([word], nbest=2)
        assert len(outputs) == 2 and outputs[0].log_prob >= outputs[1].log_prob
        assert outputs[0].text == run.task.render(outputs[0].symbols)
    elif task == "caption":
        first, second = run.predict(list(data["test"].images[:2]), nbest=2)
        assert len(first) == len(second) == 2 and first[0].log_prob >= first[1].log_prob
        assert all(c.text == " ".join(c.symbols) and set(c.symbols) <= set(run.task.info["words"]) for c in first)
    elif task == "adding":
        x, _ = data["test"].tensors
        predicted = run.predict(list(x[:4]))
        assert len(predicted) == 4 and all(isinstance(v, float) for v in predicted)
    elif task == "copy-memory":
        tokens, _ = data["test"].tensors
        (recalled,) = run.predict([tokens[0]])
        assert len(recalled) == 10 and all(0 <= s < 8 for s in recalled)
    elif task in ("latch", "echo"):
        signs, _ = data["test"].tensors
        (answers,) = run.predict([signs[0]])
        assert len(answers) == len(signs[0]) and all(isinstance(a, float) for a in answers)
        assert answers == pytest.approx(run.model(signs[:1]).squeeze(-1)[0].tolist(), rel=1e-5)
    else:  # pragma: no cover - a task added to TINY needs its check here
        raise AssertionError(f"no prediction check for {task}")


@pytest.mark.parametrize(("task", "model"), registered())
def test_every_model_trains_reopens_evaluates_and_predicts(task, model, tmp_path, judge):
    overrides = [*tiny_settings(task, model), *STEPS]
    if task in JUDGED:
        overrides.append(f"eval.classifier={judge}")
    trained = nnzoo.train(
        task, model=model, overrides=overrides, run_dir=tmp_path / "run", progress=False, figures=False
    )
    assert trained.state["step"] == 4 and trained.state["finished"]
    assert [r["split"] for r in trained.metrics][-1] == "val"

    metrics = trained.evaluate("test")  # the data of the training, in memory
    assert set(metrics) == set(trained.task.metric_names) and all(isinstance(v, float) for v in metrics.values())

    run = nnzoo.open(tmp_path / "run", device="cpu")  # from the folder alone
    assert run.config == trained.config and not run.model.training
    check_predictions(run, trained.data)
    # the same inputs give the same answers from the reopened run as from the run that trained
    assert same(predictions_of(run, trained.data), predictions_of(trained, trained.data))


def predictions_of(run: nnzoo.Run, data: dict) -> list:
    """What ``run`` predicts for the first test inputs (a fixed seed where the task samples)."""
    inputs = {
        "regression": [BOSTON_ROW],
        "classify-images": lambda: list(data["test"].images[:2]),
        "denoise": lambda: list(data["test"].noisy[:2]),
        "translate-images": lambda: list(data["test"].edges[:2]),
        "segment": lambda: list(data["test"].images[:2]),
        "seismic": lambda: list(data["test"].seismic[:2, 0].numpy()),
        "gan": lambda: list(torch.randn(2, run.model.latent_dim, generator=torch.Generator().manual_seed(0))),
        "charlm": ["the "],
        "tagging": ["I ate an apple"],
        "classify-text": ["质量很好"],
        "forecast": lambda: [run.task.load_series().values],
        "g2p": ["hello"],
        "translate": ["file not found"],
        "caption": lambda: list(data["test"].images[:2]),
        "adding": lambda: list(data["test"].tensors[0][:2]),
        "copy-memory": lambda: list(data["test"].tensors[0][:2]),
        "latch": lambda: list(data["test"].tensors[0][:2]),
        "echo": lambda: list(data["test"].tensors[0][:2]),
    }[run.config.task]
    return run.predict(inputs() if callable(inputs) else inputs)


def same(a, b) -> bool:
    """Equal results, tensors and floats included (bitwise: the same weights on the same device)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def test_the_tiny_settings_cover_every_task():
    assert set(nnzoo.list_tasks()) <= set(TINY)


# --- the API's documented examples ----------------------------------------------------------------------------------
def test_the_api_docstring_examples_run(tmp_path):
    globs = {"nnzoo": nnzoo, "tmp": tmp_path, "torch": torch}
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = sorted(finder.find(nnzoo.api, globs=globs), key=lambda t: t.lineno or 0)
    assert sum(len(t.examples) for t in tests) >= 10
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_the_readme_quickstart_runs_and_prints_what_it_says(tmp_path, monkeypatch, capsys):
    readme = (SRC.parents[1] / "README.md").read_text()
    start = readme.index("The same from Python")
    code = readme[readme.index("```python\n", start) + 10 : readme.index("```\n", readme.index("```python", start) + 9)]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    metrics, prediction, tasks = capsys.readouterr().out.splitlines()
    written = {"loss": 0.106, "rmse": 2.94, "mae": 2.15, "r2": 0.863}  # the numbers in the README's comments
    assert {k: round(v, len(str(written[k]).split(".")[1])) for k, v in ast.literal_eval(metrics).items()} == written
    assert round(ast.literal_eval(prediction)[0], 2) == 25.45
    assert ast.literal_eval(tasks)[:3] == ["adding", "caption", "charlm"]


@pytest.mark.parametrize(
    "module",
    [
        "nnzoo.nn.mlp",
        "nnzoo.nn.conv",
        "nnzoo.nn.resnet",
        "nnzoo.nn.unet",
        "nnzoo.nn.gan",
        "nnzoo.nn.language_models",
        "nnzoo.nn.text_models",
        "nnzoo.nn.forecasters",
        "nnzoo.nn.seq2seq",
        "nnzoo.nn.sequence_models",
        "nnzoo.nn.tcn",
        "nnzoo.nn.captioning",
        "nnzoo.nn.pix2pix",
    ],
)
def test_the_nn_docstring_examples_run(module):
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 1 and result.failed == 0


def test_nnzoo_nn_is_reachable_from_import_nnzoo_and_exports_every_architecture():
    code = "import nnzoo; print(nnzoo.nn.UNet.__name__, nnzoo.nn.MultiheadAttention.__name__)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split() == [
        "UNet",
        "MultiheadAttention",
    ]
    from nnzoo.nn import LSTM, MultiheadAttention, Transformer, TransformerEncoderLayer, UNet  # noqa: F401

    assert set(nnzoo.nn.__all__) >= {"GRU", "Jordan", "LeNet5", "ConvNet", "GAN", "ContextSeq2Seq", "MLP"}


# --- errors and resuming ------------------------------------------------------------------------------------------
def test_bad_calls_are_one_clear_line(tmp_path):
    with pytest.raises(UserError, match="overrides is a list of 'key=value' strings"):
        nnzoo.train("regression", overrides="train.lr=0.1")
    with pytest.raises(UserError, match="unknown task 'regresion'; registered tasks: adding, caption, charlm"):
        nnzoo.train("regresion")
    with pytest.raises(UserError, match="is not an nnzoo run folder"):
        nnzoo.open(tmp_path)
    with pytest.raises(UserError, match="device must be auto, cpu, cuda, cuda:N or mps; got 'gpu'"):
        nnzoo.resolve_config("regression", device="gpu")


def test_a_run_resumes_through_the_api_and_extends_nothing_when_finished(tmp_path):
    first = nnzoo.train("regression", overrides=["train.max_steps=10"], run_dir=tmp_path / "r", progress=False)
    again = first.resume(progress=False)
    assert again.state == first.state  # finished: nothing to do
    last = nnzoo.open(tmp_path / "r", checkpoint="last")
    assert (first.checkpoint, last.checkpoint) == ("best", "last")
    with pytest.raises(UserError, match="not empty"):
        nnzoo.train("regression", run_dir=tmp_path / "r", progress=False)


def test_a_run_killed_before_its_first_checkpoint_resumes_from_step_zero(tmp_path):
    first = nnzoo.train("regression", overrides=["train.max_steps=10"], run_dir=tmp_path / "a", progress=False)
    for name in ("last.safetensors", "best.safetensors", "metrics.jsonl"):
        (tmp_path / "a" / name).unlink()  # as if killed after writing config.toml and info.json
    again = nnzoo.train(resume=tmp_path / "a", progress=False, figures=False)
    assert again.state["step"] == 10 and json.loads((tmp_path / "a" / "info.json").read_text())
    assert torch.equal(again.model.core.weight, first.model.core.weight)  # the same seed: the same run


# --- layering -----------------------------------------------------------------------------------------------------
def imports_of(path: Path) -> set[str]:
    """The nnzoo modules (and argparse) that a file imports, at its top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return {name for name in found if name.startswith("nnzoo") or name == "argparse"}


def test_the_layers_point_down():
    for path in (SRC / "tasks").glob("*.py"):
        bad = {m for m in imports_of(path) if m == "argparse" or m.startswith(("nnzoo.cli", "nnzoo.export"))}
        bad |= {m for m in imports_of(path) if m in ("nnzoo.api", "nnzoo.report", "nnzoo.experiments")}
        assert not bad, f"{path.name} imports {bad}"
    for path in (SRC / "nn").glob("*.py"):  # beside nn in the bottom layer: errors and the decoders (no cycle)
        above = {m for m in imports_of(path) if not m.startswith(("nnzoo.nn", "nnzoo.errors", "nnzoo.decode"))}
        assert not above, f"nn/{path.name} imports {above}"
    assert not {m for m in imports_of(SRC / "decode.py") if m.startswith("nnzoo.")}
    # config, registry and tasks: no cycle, lazy or not
    assert not {m for m in imports_of(SRC / "config.py") if m.startswith(("nnzoo.registry", "nnzoo.tasks"))}
    assert not {m for m in imports_of(SRC / "registry.py") if m.startswith("nnzoo.tasks")}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny") / "regression"
    run = nnzoo.train("regression", overrides=["train.max_steps=5"], run_dir=folder, progress=False, figures=False)
    return run.path


@pytest.mark.parametrize(
    "script",
    [
        "from nnzoo.export import export_run; export_run(RUN, OUT / 'model.onnx')",
        "from nnzoo.report import build_report; build_report([RUN], OUT / 'report.html')",
        "from nnzoo.experiments.memory import matched_width; assert matched_width('adding', 'lstm') == 64",
    ],
    ids=["export", "report", "experiments"],
)
def test_each_tool_works_in_a_fresh_interpreter(tiny_run, tmp_path, script):
    """A tool that reads runs needs the registered tasks: each must get them itself, not from an earlier import.
    (The command line is run in fresh processes by test_cli's and test_distributed's tests.)"""
    prelude = f"from pathlib import Path; RUN, OUT = Path({str(tiny_run)!r}), Path({str(tmp_path)!r}); "
    done = subprocess.run([sys.executable, "-c", prelude + script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
