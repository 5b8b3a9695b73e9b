"""Shared fixtures: a CLI runner and small configurations."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
import torch

import nnzoo.tasks  # noqa: F401  (registers every task: tests call the registry directly, as the API does after registering)
from nnzoo.cli import main

# CI machines have 2 cores; pin torch to them so timings and reductions match across machines. `make test` runs the
# suite in 2 processes (pytest-xdist): each then gets its share of the cores, and so do the programs its tests start
# (OMP_NUM_THREADS), because two 2-thread processes on 2 cores slow each other several times over.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_threads = max(1, min(2, os.cpu_count() or 1) // _workers)
torch.set_num_threads(_threads)
if _workers > 1:
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(_threads)

# scripts/gpu_check.sh runs the equivalence tests on a GPU: NNZOO_TEST_DEVICE=cuda makes it the default device, so
# every module and tensor a test makes is made there, and turns TF32 off, so that float32 compares float32.
if os.environ.get("NNZOO_TEST_DEVICE"):
    torch.set_default_device(os.environ["NNZOO_TEST_DEVICE"])
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


@pytest.fixture(autouse=True)
def _restore_the_nnzoo_logger():
    """The CLI installs a handler that prints nnzoo's messages (also from a module-scoped fixture); each test
    starts and ends with the logger as a Python program finds it, so no test's output depends on another's."""
    _reset_logger()
    yield
    _reset_logger()


def _reset_logger() -> None:
    logger = logging.getLogger("nnzoo")
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


@pytest.fixture
def cli(capsys):
    """Run ``nnzoo ARGS...`` in-process; return (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def train_run(run, task: str, model: str, *overrides: str):
    """Train ``task``/``model`` into the run folder ``run`` with ``--set`` overrides, quietly; return ``run``."""
    sets = [arg for override in overrides for arg in ("--set", override)]
    assert main(["train", task, "--model", model, "--run-dir", str(run), "--quiet", *sets]) == 0
    return run


CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTIFACTS = Path(os.environ.get("NNZOO_ARTIFACTS", "artifacts"))  # CI keeps what lands here
needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("CI"), reason="needs Debian's chromium and chromium-driver"
)


@pytest.fixture
def browser():
    """Headless Chromium, Debian's, driven by Selenium through Debian's chromedriver (nothing downloaded), its
    console kept for the test to read; quit afterwards. Use with ``@needs_chromium``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,2000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver) -> list[dict]:
    """The browser console's SEVERE messages since the last call."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
