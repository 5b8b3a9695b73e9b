"""``nnzoo predict`` for ``seismic``: ``.npy`` sections in, ``NAME.velocity.npy`` (and ``NAME.edges.npy``) out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from nnzoo.files import replacing


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    parser.add_argument(
        "sections", nargs="+", type=Path, help=".npy files, each a section (time samples, traces) as in training"
    )
    parser.add_argument("--out-dir", type=Path, default=Path("."), help="where to write NAME.velocity.npy")


def predict(run: Any, args: argparse.Namespace) -> str:
    inversions = run.predict(args.sections)
    lines = []
    for path, (velocity, edges) in zip(args.sections, inversions):
        target = args.out_dir / f"{path.stem}.velocity.npy"
        save_array(target, velocity.numpy())
        line = f"{path} -> {target}: {float(velocity.min()):.0f}–{float(velocity.max()):.0f} m/s"
        if edges is not None:
            save_array(args.out_dir / f"{path.stem}.edges.npy", edges.numpy())
            line += f", edges in {path.stem}.edges.npy"
        lines.append(line)
    return "\n".join(lines)


def save_array(path: Path, array: np.ndarray) -> None:
    """``np.save`` through :func:`nnzoo.files.replacing`: a killed write leaves no half file (the folder is made)."""
    with replacing(path) as temporary, temporary.open("wb") as file:
        np.save(file, array)
