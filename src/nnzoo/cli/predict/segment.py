"""``nnzoo predict`` for ``segment``: image files in, ``NAME.segments.png`` overlays out, the classes' shares."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    parser.add_argument("images", nargs="+", type=Path, help="image files (PNG, JPEG, …), resized to the scenes'")
    parser.add_argument("--out-dir", type=Path, default=Path("."), help="where to write NAME.segments.png")


def predict(run: Any, args: argparse.Namespace) -> str:
    from nnzoo.data.images import read_grey
    from nnzoo.viz.images import plot_segmentations

    size, classes = run.task.info["size"], run.task.info["classes"]
    images = [read_grey(path, (size, size)) for path in args.images]
    lines = []
    for path, image, mask in zip(args.images, images, run.predict(images)):
        out = plot_segmentations(
            image[None], {"predicted": mask[None]}, classes, args.out_dir / f"{path.stem}.segments.png", path.name
        )
        shares = torch.bincount(mask.flatten(), minlength=len(classes)).double() / mask.numel()
        found = ", ".join(f"{classes[c]} {float(s):.0%}" for c, s in enumerate(shares) if c and s > 0)
        lines.append(f"{path} -> {out}: {found or 'background only'}")
    return "\n".join(lines)
