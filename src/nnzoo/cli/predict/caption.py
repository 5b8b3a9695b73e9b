"""``nnzoo predict`` for ``caption``: image files in, a caption for each (``--nbest``: several, with their scores)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nnzoo.cli.predict import _seq2seq


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    parser.add_argument("images", nargs="+", type=Path, help="image files (PNG, JPEG, …), resized to the scenes'")
    _seq2seq.add_options(parser, run)


def predict(run: Any, args: argparse.Namespace) -> str:
    paths = [str(path) for path in args.images]
    return _seq2seq.nbest(run, args, paths, paths)
