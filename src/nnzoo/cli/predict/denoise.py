"""``nnzoo predict`` for ``denoise``: noisy image files in, ``NAME.denoised.png`` files out."""

from __future__ import annotations

import argparse
from typing import Any

from nnzoo.cli.predict._images import add_image_arguments, write_images


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    add_image_arguments(parser, "noisy image files", "denoised")


def predict(run: Any, args: argparse.Namespace) -> str:
    return write_images(args.images, run.predict(args.images), args.out_dir, "denoised")
