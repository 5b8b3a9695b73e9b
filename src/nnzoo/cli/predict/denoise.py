"""``nnzoo predict`` for ``denoise``: noisy image files in, ``NAME.denoised.png`` files out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    parser.add_argument("images", nargs="+", type=Path, help="noisy image files (PNG, JPEG, …)")
    parser.add_argument("--out-dir", type=Path, default=Path("."), help="where to write NAME.denoised.png")


def predict(run: Any, args: argparse.Namespace) -> str:
    from PIL import Image

    clean = run.predict(args.images)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for path, image in zip(args.images, clean):
        out = args.out_dir / f"{path.stem}.denoised.png"
        Image.fromarray((image[0].numpy() * 255).round().astype(np.uint8)).save(out)
        lines.append(f"{path} -> {out}")
    return "\n".join(lines)
