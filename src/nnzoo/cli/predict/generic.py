"""The adapter of a task that has none of its own: text inputs, one printed result per line."""

from __future__ import annotations

import argparse
from typing import Any

from nnzoo.cli.predict import require_inputs


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    parser.add_argument("inputs", nargs="*", help="the inputs, as text")


def predict(run: Any, args: argparse.Namespace) -> str:
    require_inputs(args.inputs, "inputs", "INPUT")
    return "\n".join(f"{text}\t{result}" for text, result in zip(args.inputs, run.predict(args.inputs)))
