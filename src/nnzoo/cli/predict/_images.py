"""What the image-to-image adapters share: image files in, one grey PNG per input out, ``NAME.SUFFIX.png``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import Tensor


def add_image_arguments(parser: argparse.ArgumentParser, what: str, suffix: str) -> None:
    parser.add_argument("images", nargs="+", type=Path, help=f"{what} (PNG, JPEG, …)")
    parser.add_argument("--out-dir", type=Path, default=Path("."), help=f"where to write NAME.{suffix}.png")


def write_images(paths: Sequence[Path], images: Sequence[Tensor], out_dir: Path, suffix: str) -> str:
    """Save each image (1, H, W) in [0, 1] as ``out_dir/NAME.SUFFIX.png`` (the folder is made); one line
    "input -> output" each."""
    from PIL import Image

    from nnzoo.viz.saving import save_image

    lines = []
    for path, image in zip(paths, images):
        out = out_dir / f"{path.stem}.{suffix}.png"
        save_image(Image.fromarray((image[0].numpy() * 255).round().astype(np.uint8)), out)
        lines.append(f"{path} -> {out}")
    return "\n".join(lines)
