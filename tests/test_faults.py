"""Fault injection: a run folder survives kills, races, torn files, full disks and crafted input.

Each test hurts a run folder in one way and checks what nnzoo does: resume to bitwise the same weights, refuse in
one line, or ignore what it must not trust. The runs are tiny (seconds); kills are real ``SIGKILL``s of a
training process, at a chosen step or in the middle of writing a checkpoint.
"""

from __future__ import annotations

import base64
import errno
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import nnzoo
from nnzoo.cli import main
from nnzoo.errors import CheckpointError, ConfigError, TrainingDiverged, UserError
from nnzoo.training import load_checkpoint
from nnzoo.training.checkpoint import checksum
from nnzoo.training.metrics_log import read_metrics
from test_trainer import toy_trainer
from tiny import tiny_settings

pytestmark = pytest.mark.skipif(os.name != "posix", reason="kills processes with SIGKILL")

# 12 steps: a checkpoint at 5, an evaluation (and checkpoint) at 6, a checkpoint at 10, the last evaluation at 12.
STEPS = [
    "train.max_steps=12",
    "train.eval_every=6",
    "train.checkpoint_every=5",
    "train.batch_size=16",
    "train.warmup_steps=0",
    "log.every=1",
]

# A training process that SIGKILLs itself: after optimiser step N ("step"), or halfway through writing its Nth
# checkpoint file ("save": the file is cut in half, then the process dies, as a kill during a write leaves it).
KILLER = """
import json, os, signal, sys
import torch
import nnzoo
from nnzoo.training import checkpoint, trainer

torch.set_num_threads(int(sys.argv[4]))
how, n, arguments = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
if how == "step":
    fit = trainer.Trainer.fit
    def fit_then_die(self, resume_from=None):
        self.callbacks.append(lambda t: t.state.step == n and die())
        return fit(self, resume_from)
    trainer.Trainer.fit = fit_then_die
else:
    save, saves = checkpoint.save_file, []
    def save_half_then_die(tensors, filename, metadata=None):
        saves.append(filename)
        save(tensors, filename, metadata=metadata)
        if len(saves) == n:
            data = open(filename, "rb").read()
            open(filename, "wb").write(data[: len(data) // 2])
            die()
    checkpoint.save_file = save_half_then_die
nnzoo.train(**arguments, progress=False, figures=False)
sys.exit("the training ended without being killed")
"""


def train_and_kill(how: str, n: int, **arguments) -> None:
    """Train in a child process (same thread count as this one, so the arithmetic is the same) and SIGKILL it."""
    command = [sys.executable, "-c", KILLER, how, str(n), json.dumps(arguments), str(torch.get_num_threads())]
    child = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]


def train(task: str, model: str, folder: Path, *extra: str) -> nnzoo.Run:
    overrides = [*tiny_settings(task, model), *STEPS, *extra]
    return nnzoo.train(task, model=model, overrides=overrides, run_dir=folder, progress=False, figures=False)


def tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path).model_state()


def log_without_times(folder: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in read_metrics(folder / "metrics.jsonl")]


def assert_same_run(resumed: Path, reference: Path) -> None:
    for name in ("last.safetensors", "best.safetensors"):
        ours, theirs = tensors(resumed / name), tensors(reference / name)
        assert ours.keys() == theirs.keys()
        for key in ours:
            assert torch.equal(ours[key], theirs[key]), f"{name}: {key}"
    assert log_without_times(resumed) == log_without_times(reference)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished tiny regression run (12 steps), to copy and damage."""
    return train("regression", "linear", tmp_path_factory.mktemp("finished") / "run").path


def copy_of(run: Path, folder: Path) -> Path:
    shutil.copytree(run, folder)
    return folder


# ----------------------------------------------------------------------------------------------------------------
# Kills
# ----------------------------------------------------------------------------------------------------------------

KILLS = [
    ("regression", "linear", 2),  # before the first checkpoint: the folder resumes from step 0
    ("regression", "mlp", 8),
    ("charlm", "rnn", 8),  # the recurrent models carry their state across batches: it is in the checkpoint
    ("charlm", "lstm", 8),
    ("charlm", "gru", 8),
    ("charlm", "transformer", 8),
    ("g2p", "lstm-attention", 8),
    ("classify-images", "cnn", 8),
]


@pytest.mark.parametrize(("task", "model", "kill_at"), KILLS, ids=[f"{t}-{m}-step{k}" for t, m, k in KILLS])
def test_a_run_killed_at_a_step_resumes_to_bitwise_the_same_weights_and_log(tmp_path, task, model, kill_at):
    reference = train(task, model, tmp_path / "reference").path
    killed = tmp_path / "killed"
    train_and_kill("step", kill_at, task=task, model=model, overrides=[*tiny_settings(task, model), *STEPS],
                   run_dir=str(killed))  # fmt: skip
    if kill_at < 5:
        assert not (killed / "last.safetensors").exists() and (killed / "config.toml").is_file()
    else:
        last = load_checkpoint(killed / "last.safetensors")
        assert last.state["step"] == 6  # the evaluation's; steps 7 and 8 are trained again
        carried = last.task_state()
        assert bool(carried) == (task == "charlm" and model != "transformer")
    resumed = nnzoo.train(resume=killed, progress=False, figures=False)
    assert resumed.state["step"] == 12 and resumed.state["finished"]
    assert_same_run(killed, reference)


def test_a_kill_in_the_middle_of_writing_a_checkpoint_loses_nothing(tmp_path):
    reference = train("regression", "mlp", tmp_path / "reference").path
    killed = tmp_path / "killed"
    # Saves: last at 5, best at 6, last at 6, last at 10 — the kill cuts the 4th in half.
    train_and_kill("save", 4, task="regression", model="mlp", overrides=[*tiny_settings("regression", "mlp"), *STEPS],
                   run_dir=str(killed))  # fmt: skip
    [torn] = killed.glob(".last.safetensors.*.tmp")
    with pytest.raises(CheckpointError):
        load_checkpoint(torn)
    assert load_checkpoint(killed / "last.safetensors").state["step"] == 6  # the previous one, whole
    nnzoo.train(resume=killed, progress=False, figures=False)
    assert not list(killed.glob("*.tmp"))  # the resumed training cleared what the kill left
    assert_same_run(killed, reference)


def test_a_kill_while_writing_a_snapshot_loses_nothing(tmp_path):
    keep = "train.keep_evals=2"
    reference = train("regression", "mlp", tmp_path / "reference", keep).path
    killed = tmp_path / "killed"
    # Saves: last at 5, then the evaluation at 6 writes its snapshot first — the kill cuts it in half.
    train_and_kill("save", 2, task="regression", model="mlp",
                   overrides=[*tiny_settings("regression", "mlp"), *STEPS, keep], run_dir=str(killed))  # fmt: skip
    [torn] = (killed / "snapshots").glob(".step-000000006.safetensors.*.tmp")
    nnzoo.train(resume=killed, progress=False, figures=False)
    assert not torn.exists()  # the resumed training cleared what the kill left
    assert_same_run(killed, reference)
    snapshots = sorted(p.name for p in (killed / "snapshots").iterdir())
    assert snapshots == ["step-000000006.safetensors", "step-000000012.safetensors"]
    for name in snapshots:
        ours, theirs = tensors(killed / "snapshots" / name), tensors(reference / "snapshots" / name)
        assert all(torch.equal(ours[key], theirs[key]) for key in theirs), name


# ----------------------------------------------------------------------------------------------------------------
# Races
# ----------------------------------------------------------------------------------------------------------------

HOLDER = """
import sys
import nnzoo
nnzoo.train("regression", overrides=["train.max_steps=100000000", "train.checkpoint_every=20",
            "train.eval_every=100000000"], run_dir=sys.argv[1], progress=False, figures=False)
"""


def test_a_second_training_of_a_folder_is_refused_and_a_killed_holder_blocks_nothing(tmp_path, cli):
    folder = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (folder / "last.safetensors").exists():
            assert holder.poll() is None, holder.stderr.read()
            assert time.monotonic() < deadline, "the training wrote no checkpoint in 120 s"
            time.sleep(0.2)
        code, _, err = cli("train", "--resume", folder, "--quiet")
        assert code == 2 and err.count("\n") == 1 and f"being trained by another process (PID {holder.pid}" in err
        code, _, err = cli("train", "regression", "--run-dir", folder, "--quiet")
        assert code == 2 and f"PID {holder.pid}" in err
        assert holder.poll() is None  # the holder trains on, undisturbed
    finally:
        holder.kill()
        holder.wait()
    step = load_checkpoint(folder / "last.safetensors").state["step"]
    # The dead holder's lock is gone with it; the run continues (a finished budget is extended by --set).
    run = nnzoo.train(resume=folder, overrides=[f"train.max_steps={step + 5}"], progress=False, figures=False)
    assert run.state["step"] == step + 5 and run.state["finished"]


# ----------------------------------------------------------------------------------------------------------------
# Torn and damaged files
# ----------------------------------------------------------------------------------------------------------------


def test_a_torn_last_log_line_is_dropped_and_a_damaged_one_refused(tmp_path, finished, cli, caplog):
    run = copy_of(finished, tmp_path / "run")
    log = run / "metrics.jsonl"
    whole = read_metrics(log)
    with log.open("a") as fh:
        fh.write('{"step": 13, "epoch": 0.5, "split": "tr')  # a kill or a full disk in the middle of an append
    assert nnzoo.open(run).metrics == whole
    assert "dropped its last line" in caplog.text
    assert cli("report", run, "--out", tmp_path / "report.html")[0] == 0
    assert cli("eval", run, "--quiet")[0] == 0
    # A finished run resumed with a larger budget trains on; the log is rewritten whole.
    resumed = nnzoo.train(resume=run, overrides=["train.max_steps=15"], progress=False, figures=False)
    assert resumed.state["step"] == 15
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()][-1] == 15

    lines = log.read_text().splitlines()
    lines[3] = lines[3][:12]
    log.write_text("\n".join(lines) + "\n")
    code, _, err = cli("report", run, "--out", tmp_path / "report.html")
    assert code == 2 and err.count("\n") == 1 and "metrics.jsonl line 4 is damaged" in err


def test_a_checkpoint_with_a_changed_byte_is_refused(tmp_path, finished, cli):
    run = copy_of(finished, tmp_path / "run")
    for name in ("best.safetensors", "last.safetensors"):
        data = bytearray((run / name).read_bytes())
        data[-3] ^= 0x40  # one bit of the last tensor
        (run / name).write_bytes(bytes(data))
    code, _, err = cli("eval", run, "--quiet")
    assert code == 2 and err.count("\n") == 1 and "best.safetensors is corrupt" in err
    with pytest.raises(CheckpointError, match=r"last\.safetensors is corrupt"):
        nnzoo.train(resume=run, overrides=["train.max_steps=20"], progress=False)


def rewrite_metadata(path: Path, edit) -> None:
    """Rewrite a checkpoint's metadata as a crafted file would, with a matching checksum."""
    saved = load_checkpoint(path)
    meta = edit(dict(saved.meta))
    meta["checksum"] = checksum(saved.tensors, meta)
    save_file(saved.tensors, path, metadata={"nnzoo": json.dumps(meta)})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda meta: {**meta, "state": {"step": 3, "surprise": 1}}, "training state nnzoo cannot use"),
        (lambda meta: {**meta, "state": [1, 2]}, "malformed metadata"),
        (lambda meta: {**meta, "optimizer": {"param_groups": 5}}, "training state nnzoo cannot use"),
    ],
    ids=["unknown-state-field", "state-not-an-object", "optimizer-garbage"],
)
def test_crafted_checkpoint_metadata_is_one_line(tmp_path, finished, cli, edit, message):
    run = copy_of(finished, tmp_path / "run")
    rewrite_metadata(run / "last.safetensors", edit)
    code, _, err = cli("train", "--resume", run, "--set", "train.max_steps=20", "--quiet")
    assert code == 2 and err.count("\n") == 1 and message in err


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path, finished, cli):
    other = train("regression", "linear", tmp_path / "other").path  # the same task, model and shapes
    run = copy_of(finished, tmp_path / "run")
    shutil.copy(other / "last.safetensors", run / "last.safetensors")
    for extra in ([], ["--set", "train.max_steps=20"]):
        code, _, err = cli("train", "--resume", run, "--quiet", *extra)
        assert code == 2 and err.count("\n") == 1 and "belongs to another run (run id" in err
    adding = nnzoo.train("adding", overrides=[*tiny_settings("adding", "lstm"), "train.max_steps=2"],
                         run_dir=tmp_path / "adding", progress=False, figures=False)  # fmt: skip
    shutil.copy(adding.path / "last.safetensors", run / "last.safetensors")
    code, _, err = cli("train", "--resume", run, "--quiet")
    assert code == 2 and "belongs to another run (task 'adding', this run's 'regression')" in err


# ----------------------------------------------------------------------------------------------------------------
# Failures before the first checkpoint, and scores that are not numbers
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.monitor=accuracy", "train.monitor 'accuracy' is not a metric of task 'regression'"),
        ("train.momentum=-5", r"train.momentum must be in \[0, 1\)"),
        ("train.lr=inf", "train.lr must be a finite number"),
        ("train.label_smoothing=0.1", "train.label_smoothing applies to classification losses"),
    ],
)
def test_a_configuration_the_trainer_refuses_writes_nothing(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        nnzoo.train("regression", overrides=[override], run_dir=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_a_run_that_diverged_before_its_first_checkpoint_resumes_from_step_0(tmp_path):
    folder = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match="no checkpoint had been written yet"):
        train("regression", "linear", folder, "train.lr=1e30")
    resumed = nnzoo.train(resume=folder, overrides=["train.lr=0.001"], progress=False, figures=False)
    assert resumed.state["step"] == 12
    assert_same_run(folder, train("regression", "linear", tmp_path / "reference", "train.lr=0.001").path)


def test_a_nan_validation_score_never_becomes_best(tmp_path, caplog):
    trainer = toy_trainer(tmp_path, scores=[math.nan, 0.7, 0.6, 0.8], monitor="score", monitor_mode="max", epochs=4)
    state = trainer.fit()
    assert state.best == 0.8 and state.best_step == 4 * trainer.steps_per_epoch
    assert "val score is nan; not a candidate for the best checkpoint" in caplog.text


def test_without_a_best_checkpoint_best_is_an_error_not_the_last(tmp_path, finished, cli):
    run = copy_of(finished, tmp_path / "run")
    (run / "best.safetensors").unlink()
    code, _, err = cli("eval", run, "--quiet")
    assert code == 2 and "has no best checkpoint" in err and "--checkpoint last" in err
    assert cli("eval", run, "--checkpoint", "last", "--quiet")[0] == 0


# ----------------------------------------------------------------------------------------------------------------
# Crafted folders and nnzoo report
# ----------------------------------------------------------------------------------------------------------------


def test_report_embeds_only_regular_files_inside_the_run_folder(tmp_path, finished, cli):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"top secret, not part of any run " * 20)
    leaked = base64.b64encode(secret.read_bytes()).decode()[:40]
    runs = tmp_path / "runs"
    experiment = runs / "experiment"
    experiment.mkdir(parents=True)
    (experiment / "link.png").symlink_to(secret)
    names = [str(secret), "../secret.png", "link.png", "a/../../secret.png", 7, None]
    (experiment / "results.json").write_text(json.dumps({"experiment": "crafted", "figures": names}))
    run = copy_of(finished, runs / "javascript:alert(1)")
    (run / "figures").mkdir(exist_ok=True)
    (run / "figures" / "innocent.png").symlink_to(secret)
    (run / "figures" / "table.txt").symlink_to(secret)
    victim = tmp_path / "victim.txt"
    victim.write_text("must not be overwritten")
    (runs / "index.html").symlink_to(victim)  # a page written through a symlink would overwrite its target
    (run / "report.html").symlink_to(victim)

    assert cli("report", "--all", runs)[0] == 0
    pages = [runs / "index.html", run / "report.html", experiment / "report.html"]
    assert all(page.is_file() and not page.is_symlink() for page in pages)
    assert victim.read_text() == "must not be overwritten"
    for page in pages:
        assert leaked not in page.read_text() and "top secret" not in page.read_text()
    index = (runs / "index.html").read_text()
    assert 'href="javascript%3Aalert%281%29/report.html"' in index and 'href="javascript:' not in index


# ----------------------------------------------------------------------------------------------------------------
# One line for everything the user (or the machine) got wrong; a traceback for nnzoo's own bugs
# ----------------------------------------------------------------------------------------------------------------


def test_bad_inputs_are_one_line(tmp_path, finished, cli):
    not_utf8 = tmp_path / "latin1.toml"
    not_utf8.write_bytes('task = "regression"\n# caf\xe9\n'.encode("latin-1"))
    section_as_value = tmp_path / "model.toml"
    section_as_value.write_text('task = "regression"\nmodel = "mlp"\n')
    garbled = copy_of(finished, tmp_path / "garbled")
    (garbled / "info.json").write_text('{"columns": [')
    a_file = tmp_path / "file.txt"
    a_file.write_text("")
    unborn = tmp_path / "unborn"  # killed before it wrote its config: nothing to resume, free to start again
    unborn.mkdir()
    (unborn / ".lock").write_text("")
    (unborn / "info.json").write_text("{}")
    cases = {
        ("train", "--recipe", tmp_path): "is a folder; give a TOML file",
        ("train", "--recipe", not_utf8): "is not UTF-8 text",
        ("train", "regression", "--set", "train=5"): "train is a section of settings",
        ("train", "--recipe", section_as_value): "the model is chosen by model.name",
        ("eval", garbled): "info.json is not valid JSON",
        ("train", "--resume", unborn): "holds no run yet: its training was stopped before it wrote config.toml",
        ("train", "regression", "--run-dir", a_file / "run", "--set", "train.max_steps=2"): "Not a directory",
    }
    for args, message in cases.items():
        code, _, err = cli(*args, "--quiet")
        assert code != 0 and err.count("\n") == 1 and message in err and "Traceback" not in err, (args, err)
    assert cli("train", "regression", "--run-dir", unborn, "--set", "train.max_steps=2", "--quiet")[0] == 0


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EROFS])
def test_a_full_disk_or_a_read_only_folder_is_one_line(tmp_path, finished, cli, monkeypatch, number):
    run = copy_of(finished, tmp_path / "run")

    def refuse(source, target):
        raise OSError(number, os.strerror(number), str(target))

    monkeypatch.setattr(os, "replace", refuse)
    code, _, err = cli("eval", run, "--quiet")
    assert code == 1 and err.count("\n") == 1 and os.strerror(number) in err
    assert not list(run.glob("eval_*")) and not list(run.glob(".*.tmp"))  # nothing half-written is left
    code, _, err = cli("train", "regression", "--run-dir", tmp_path / "new", "--set", "train.max_steps=2", "--quiet")
    assert code == 1 and err.count("\n") == 1 and os.strerror(number) in err


def test_a_bug_in_nnzoo_still_shows_its_traceback(tmp_path, finished, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(nnzoo.Run, "evaluate", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["eval", str(finished), "--quiet"])
    with pytest.raises(UserError):  # while a user's mistake is a UserError, shown as one line by the CLI
        nnzoo.open(tmp_path / "nowhere")


def test_what_a_training_writes_before_its_config_does_not_make_a_folder_a_run(tmp_path):
    """The lock, its owner, run.json, info.json and the temporary files of their atomic writes: another process
    (a second rank starting a run) must still see the folder as new."""
    from nnzoo.training import RunDir

    folder = RunDir(tmp_path / "run")
    folder.path.mkdir()
    for name in (".lock", ".lock.owner", "..lock.owner.k2j4.tmp", "run.json", "info.json", ".info.json.x9.tmp"):
        (folder.path / name).write_text("")
    assert folder.is_empty()
    (folder.path / "config.toml").write_text("")
    assert not folder.is_empty()


def test_a_figure_that_fails_while_being_written_leaves_the_previous_one_whole(tmp_path):
    from matplotlib.figure import Figure

    from nnzoo.viz.saving import save_figure

    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "deep" / "curve.png", dpi=50)  # the folder is made
    before = path.read_bytes()
    assert before.startswith(b"\x89PNG")

    class Interrupted(Figure):
        def savefig(self, fname, **kwargs):
            Path(fname).write_bytes(before[:100])  # half a picture, then the kill
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_figure(Interrupted(), path)
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == ["curve.png"]
    assert save_figure(fig, tmp_path / "curve.svg").read_text().lstrip().startswith("<?xml")  # format from the suffix


def test_an_image_that_fails_while_being_written_leaves_the_previous_one_whole(tmp_path):
    from PIL import Image

    from nnzoo.viz.saving import save_image

    path = save_image(Image.new("L", (4, 4), 200), tmp_path / "deep" / "drawn.png")  # the folder is made
    before = path.read_bytes()

    class Interrupted:
        def save(self, fp, **kwargs):
            Path(fp).write_bytes(before[:20])  # half a picture, then the kill
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_image(Interrupted(), path)
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == ["drawn.png"]
    frames = [Image.new("L", (4, 4), v) for v in (0, 255)]
    gif = save_image(frames[0], tmp_path / "anim.GIF", save_all=True, append_images=frames[1:])  # format from suffix
    assert Image.open(gif).format == "GIF" and Image.open(gif).n_frames == 2
    with pytest.raises(UserError, match=r"drawn\.txt: no image format has the suffix '\.txt'"):
        save_image(frames[0], tmp_path / "drawn.txt")
    assert not (tmp_path / "drawn.txt").exists()
