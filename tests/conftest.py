"""Shared fixtures: a CLI runner and small configurations."""

from __future__ import annotations

import os

import pytest
import torch

from nnzoo.cli import main

# CI machines have 2 cores; pin torch to them so timings and reductions match across machines.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def cli(capsys):
    """Run ``nnzoo ARGS...`` in-process; return (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run
