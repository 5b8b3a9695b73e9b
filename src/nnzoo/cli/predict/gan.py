"""``nnzoo predict`` for ``gan``: draw ``--samples`` images from seeded latent points into one PNG grid."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import torch

from nnzoo.errors import UserError


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    parser.add_argument("--samples", type=int, default=64, help="how many images to draw (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent points")
    parser.add_argument("--out", type=Path, default=Path("samples.png"), help="PNG file to write")


def predict(run: Any, args: argparse.Namespace) -> str:
    from PIL import Image

    from nnzoo.tasks.gan import tile
    from nnzoo.viz.saving import save_image

    if not 1 <= args.samples <= 10_000:
        raise UserError("--samples must be between 1 and 10000")
    images = torch.stack(run.predict(run.model.noise(args.samples, torch.Generator().manual_seed(args.seed)).cpu()))
    save_image(Image.fromarray(tile(images, columns=math.ceil(math.sqrt(args.samples)))), args.out)
    return f"wrote {args.samples} images to {args.out}"
