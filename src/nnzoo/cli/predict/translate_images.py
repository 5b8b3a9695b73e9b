"""``nnzoo predict`` for ``translate-images``: edge maps (or, with ``--from-images``, pictures whose Canny edges are
taken first) in, ``NAME.drawn.png`` files out."""

from __future__ import annotations

import argparse
from typing import Any

from nnzoo.cli.predict._images import add_image_arguments, write_images


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    add_image_arguments(parser, "edge maps: bright lines on black, or dark lines on white", "drawn")
    parser.add_argument(
        "--from-images", action="store_true", help="the files are pictures of garments: draw from their Canny edges"
    )


def predict(run: Any, args: argparse.Namespace) -> str:
    drawn = run.predict(args.images, from_images=args.from_images)
    return write_images(args.images, drawn, args.out_dir, "drawn")
