"""The `nnzoo` command end to end: help, list, train, eval, predict, resume after SIGKILL, bad input."""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nnzoo.training import load_checkpoint
from nnzoo.training.checkpoint import CheckpointError
from nnzoo.training.metrics_log import read_metrics

QUICK = ["--set", "train.epochs=3", "--quiet"]
BOSTON_ROW = "0.00632,18,2.31,0,0.538,6.575,65.2,4.09,1,296,15.3,396.9,4.98"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small trained run shared by the eval/predict tests."""
    from nnzoo.cli import main

    run = tmp_path_factory.mktemp("runs") / "linear"
    assert main(["train", "regression", "--run-dir", str(run), *QUICK]) == 0
    return run


def subcommands() -> list[str]:
    """Every subcommand `nnzoo` has, read from its parser (so a new command is covered without editing a list)."""
    from nnzoo.cli import build_parser

    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return list(commands.choices)


@pytest.mark.parametrize("command", [[], *([name] for name in subcommands())], ids=lambda c: " ".join(c) or "nnzoo")
def test_every_command_has_help_with_an_example(capsys, command):
    from nnzoo.cli import main

    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "\nexamples:\n" in out, out
    section = out.split("\nexamples:\n", 1)[1].split("\n\n")[0].splitlines()
    examples = [line.split()[1] for line in section if line.startswith("  nnzoo ") and len(line.split()) > 1]
    if command:
        assert command[0] in examples, f"no example line `  nnzoo {command[0]} ...` in:\n{out}"
    else:
        names = subcommands()
        assert {"list", "train", "eval", "predict", "export", "data", "experiment", "report"} <= set(names)
        assert examples and set(examples) <= set(names), f"no example of a command in:\n{out}"


def test_the_checkpoint_choices_are_the_libraries():
    from typing import get_args

    from nnzoo.cli import CHECKPOINTS
    from nnzoo.training.run import CheckpointName

    assert get_args(CheckpointName) == CHECKPOINTS


def test_help_text_shows_examples(capsys):
    from nnzoo.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "examples:\n  nnzoo train regression" in capsys.readouterr().out


def test_list_shows_tasks_and_models(cli):
    code, out, _ = cli("list")
    assert code == 0
    assert "regression" in out and "  linear" in out and "  mlp" in out and "[default]" in out
    assert "  recipes:" in out and "regression/linear-adam, regression/linear-sgd, regression/mlp" in out


def test_train_writes_a_complete_run_folder(trained):
    names = {p.name for p in trained.iterdir()}
    assert {"config.toml", "info.json", "last.safetensors", "best.safetensors", "metrics.jsonl", "figures"} <= names
    assert {p.name for p in (trained / "figures").iterdir()} >= {
        "curves.png",
        "predicted_vs_true_val.png",
        "coefficients.png",
    }
    assert load_checkpoint(trained / "last.safetensors").state["finished"] is True


def test_eval_prints_a_table_with_baselines_and_writes_json(cli, trained):
    code, out, err = cli("eval", trained, "--split", "test")
    assert code == 0, err
    assert "rmse" in out and "baseline: closed-form least squares" in out and "baseline: training mean" in out
    result = json.loads((trained / "eval_test.json").read_text())
    assert set(result["metrics"]) == {"loss", "rmse", "mae", "r2"} and result["split"] == "test"
    code, out, _ = cli("eval", trained, "--split", "val", "--markdown", "--quiet")
    assert out.startswith("| val split | loss | rmse | mae | r2 |")


def test_predict_from_a_row_and_from_csv(cli, trained, tmp_path):
    code, out, err = cli("predict", trained, f"--row={BOSTON_ROW}")
    assert code == 0, err
    assert out.startswith("MEDV = ")
    assert 10 < float(out.split("=")[1]) < 45

    columns = json.loads((trained / "info.json").read_text())["columns"]
    csv = tmp_path / "houses.csv"
    csv.write_text(",".join(columns) + "\n" + BOSTON_ROW + "\n" + BOSTON_ROW + "\n")
    code, out, _ = cli("predict", trained, csv)
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2 and lines[0].startswith(f"{csv} line 2: MEDV = ")


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (["--row=1,2,3"], "--row needs 13 values (CRIM, ZN,"),
        ([f"--row={BOSTON_ROW.replace('18', 'many')}"], "column 'ZN': 'many' is not a number"),
        ([], "give CSV files or --row values"),
    ],
)
def test_predict_bad_input_is_one_line_and_exit_code_2(cli, trained, inputs, message):
    code, _, err = cli("predict", trained, *inputs)
    assert code == 2 and message in err and err.count("\n") == 1


def test_predict_csv_without_the_input_columns(cli, trained, tmp_path):
    csv = tmp_path / "wrong.csv"
    csv.write_text("a,b\n1,2\n")
    code, _, err = cli("predict", trained, csv)
    assert code == 2 and "input column 'CRIM' is not in" in err


def test_predict_help_shows_the_task_options(capsys, trained):
    from nnzoo.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["predict", str(trained), "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    text = " ".join(out.split())  # argparse wraps the help to the terminal's width
    columns = json.loads((trained / "info.json").read_text())["columns"]
    assert len(columns) == 13 and columns[0] == "CRIM" and columns[-1] == "LSTAT"
    # The regression adapter's arguments: CSV files and repeatable --row values, each naming the input columns.
    usage = f"usage: nnzoo predict {trained} [-h] [--row V1,V2,...] [csv ...]"
    assert text.startswith(f"{usage} Predict with a trained regression/linear model. "), out
    assert f"csv CSV files with a header naming the input columns ({', '.join(columns)})" in text
    assert f"--row V1,V2,... one row of 13 comma-separated values in the order {', '.join(columns)}" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "regression", "--set", "train.lr=fast"], "train.lr must be a number; got 'fast'"),
        (["train", "regression", "--set", "model.depth=3"], "unknown key 'model.depth'; valid keys in [model]: name"),
        (
            ["train", "classify", "--quiet"],
            "unknown task 'classify'; registered tasks: "
            "adding, caption, charlm, classify-images, classify-text, copy-memory, denoise, echo, forecast, g2p, gan",
        ),
        (
            ["train", "regression", "--model", "cnn"],
            "unknown model 'cnn' for task 'regression'; its models: linear, mlp",
        ),
        (
            ["train", "--recipe", "missing.toml"],
            "recipe not found: 'missing.toml' is neither a TOML file nor a packaged recipe TASK/NAME",
        ),
        (["eval", "."], "is not an nnzoo run folder"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_code_2(cli, args, message):
    code, _, err = cli(*args)
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_train_refuses_a_used_run_folder_and_resume_of_a_finished_run_does_nothing(cli, trained):
    code, _, err = cli("train", "regression", "--run-dir", trained, "--quiet")
    assert code == 2 and "is not empty; resume it with --resume" in err
    code, out, _ = cli("train", "--resume", trained, "--quiet")
    assert code == 0 and "already finished" in out
    code, _, err = cli("train", "--resume", trained, "--set", "model.hidden=[3]")
    assert code == 2 and "--resume cannot change 'model.hidden'" in err


def test_a_damaged_checkpoint_is_a_clear_error(cli, trained, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained, broken)
    (broken / "best.safetensors").write_bytes(b"not a checkpoint")
    code, _, err = cli("eval", broken)
    assert code == 2 and "is truncated or not a safetensors file" in err
    with pytest.raises(CheckpointError):
        load_checkpoint(broken / "best.safetensors")


def test_data_prepare_loads_every_tasks_data_once(cli):
    import nnzoo

    code, out, _ = cli("data", "--prepare")
    assert code == 0 and "regression: boston 506×14" in out
    assert all(f"\n{task}: " in out for task in nnzoo.list_tasks())


# ----------------------------------------------------------------------------------------------------------------
def nnzoo(*args: str) -> subprocess.Popen:
    # One thread each: the runs compared must use the same thread count, and two of them run side by side.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "nnzoo", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


# `nnzoo ARGS...` that SIGKILLs itself right after optimiser step N (and after that step's checkpoint, if it has
# one), whatever the machine's load: the kill waits on the step, not on a clock.
KILLED_AT_STEP = """
import os, signal, sys
from nnzoo.cli import main
from nnzoo.training import trainer

n = int(sys.argv[1])
fit = trainer.Trainer.fit
def fit_then_die(self, resume_from=None):
    self.callbacks.append(lambda t: t.state.step == n and os.kill(os.getpid(), signal.SIGKILL))
    return fit(self, resume_from)
trainer.Trainer.fit = fit_then_die
main(sys.argv[2:])
sys.exit(f"the training ended without being killed at step {n}")
"""


def nnzoo_killed_at(step: int, *args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", KILLED_AT_STEP, str(step), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def checkpoint_step(path: Path) -> int:
    try:
        return load_checkpoint(path).state["step"]
    except CheckpointError:
        return -1


def test_sigkill_at_a_random_step_then_resume_gives_bitwise_equal_weights(tmp_path):
    """Train uninterrupted; separately start the same run, SIGKILL it at a random step (drawn from a seeded
    generator: NNZOO_KILL_SEED=S reruns with seed S), resume it: the final weights and the metrics log are bitwise
    equal (CPU)."""
    checkpoint_every = 7
    config = [
        "--model",
        "mlp",
        "--set",
        "model.dropout=0.2",
        "--set",
        "train.epochs=50",
        "--set",
        f"train.checkpoint_every={checkpoint_every}",
        "--seed",
        "4",
        "--quiet",
    ]
    reference = tmp_path / "reference"
    killed = tmp_path / "killed"
    uninterrupted = nnzoo("train", "regression", "--run-dir", str(reference), *config)

    seed = int(os.environ.get("NNZOO_KILL_SEED", "20261123"))
    kill_at = random.Random(seed).randint(20, 300)
    print(f"NNZOO_KILL_SEED={seed}: SIGKILL after step {kill_at}")
    process = nnzoo_killed_at(kill_at, "train", "regression", "--run-dir", str(killed), *config)
    _, err = process.communicate(timeout=600)
    assert process.returncode == -signal.SIGKILL, f"seed {seed}, step {kill_at}: {err[-3000:]}"
    stopped_at = checkpoint_step(killed / "last.safetensors")
    assert kill_at - checkpoint_every < stopped_at <= kill_at, f"seed {seed}: killed at {kill_at}, saved {stopped_at}"
    assert not load_checkpoint(killed / "last.safetensors").state["finished"]

    resumed = nnzoo("train", "--resume", str(killed), "--quiet")
    assert resumed.wait(timeout=600) == 0, resumed.communicate()
    assert uninterrupted.wait(timeout=600) == 0, uninterrupted.communicate()
    final, expected = load_checkpoint(killed / "last.safetensors"), load_checkpoint(reference / "last.safetensors")
    assert final.state["step"] == expected.state["step"] == 600
    for name, tensor in expected.model_state().items():
        assert torch.equal(tensor, final.model_state()[name]), (
            f"{name} differs after a kill at step {kill_at} (seed {seed}), resumed from step {stopped_at}"
        )
    logs = [read_metrics(folder / "metrics.jsonl") for folder in (killed, reference)]
    without_clock = [[{k: v for k, v in r.items() if k != "elapsed_s"} for r in log] for log in logs]
    assert without_clock[0] == without_clock[1] and len(logs[0]) > 10, f"seed {seed}, kill at step {kill_at}"


def test_tensorboard_scalars_are_written(cli, tmp_path):
    code, _, err = cli("train", "regression", "--run-dir", tmp_path / "tb", "--set", "log.tensorboard=true", *QUICK)
    assert code == 0, err
    events = list((tmp_path / "tb" / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(tmp_path / "tb" / "tensorboard"))
    accumulator.Reload()
    assert {"train/loss", "train/lr", "val/rmse"} <= set(accumulator.Tags()["scalars"])
    images = accumulator.Tags()["images"]
    assert "figures/predicted_vs_true_val" in images  # the task's figure, at every evaluation
    evaluations = len(accumulator.Scalars("val/rmse"))
    assert len(accumulator.Images("figures/predicted_vs_true_val")) == evaluations > 1


def test_tensorboard_does_not_change_the_training(cli, tmp_path):
    for name, flag in (("plain", "false"), ("tb", "true")):
        code, _, err = cli(
            "train", "regression", "--run-dir", tmp_path / name, "--set", f"log.tensorboard={flag}", *QUICK
        )
        assert code == 0, err
    logs = [(tmp_path / name / "metrics.jsonl").read_text().splitlines() for name in ("plain", "tb")]
    strip = [[{k: v for k, v in json.loads(line).items() if k != "elapsed_s"} for line in log] for log in logs]
    assert strip[0] == strip[1]


def test_print_config_shows_the_resolved_toml_and_trains_nothing(cli, tmp_path, monkeypatch):
    import tomllib

    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("train", "regression", "--model", "mlp", "--set", "model.hidden=[8]", "--print-config")
    config = tomllib.loads(out)
    assert code == 0 and config["model"] == {"name": "mlp", "hidden": [8], "activation": "relu", "dropout": 0.0,
                                            "init": "pytorch"}  # fmt: skip
    assert config["train"]["optimizer"] == "adamw" and not (tmp_path / "runs").exists()


def test_shell_completion_and_devices(cli, capsys):
    from nnzoo.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--print-completion", "bash"])
    script = capsys.readouterr().out
    assert exit_.value.code == 0 and "nnzoo" in script and "--print-config" in script
    code, _, err = cli("train", "regression", "--device", "cuda:3", "--quiet")
    assert code == 2 and "--device cuda:3 was asked for, but this machine has cpu" in err
    code, _, err = cli("train", "regression", "--device", "gpu", "--quiet")
    assert code == 2 and "device must be auto, cpu, cuda, cuda:N or mps; got 'gpu'" in err


def test_experiments_say_what_they_are_doing(cli, tmp_path):
    code, out, err = cli("experiment", "parallel", "--budget", "tiny", "--run-dir", tmp_path)
    assert code == 0, err
    assert "parallel (tiny budget): lengths [8, 32]" in out and "parallel: timing L = 32" in out
