"""``nnzoo predict`` for ``classify-images``: image files, the most probable classes of each."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nnzoo.errors import UserError


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    parser.add_argument("images", nargs="+", type=Path, help="image files (PNG, JPEG, … any size or colour)")
    parser.add_argument("--top", type=int, default=3, help="how many classes to print per image (default 3)")


def predict(run: Any, args: argparse.Namespace) -> str:
    classes = run.task.info["classes"]
    if not 1 <= args.top <= len(classes):
        raise UserError(f"--top must be between 1 and {len(classes)}")
    lines = []
    for path, result in zip(args.images, run.predict(args.images)):
        lines.append(f"{path}: " + ", ".join(f"{label} {p:.3f}" for label, p in result.top(args.top)))
    return "\n".join(lines)
