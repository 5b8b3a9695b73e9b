"""``nnzoo predict`` for ``charlm``: sample texts (or regular poems) after a prompt."""

from __future__ import annotations

import argparse
from typing import Any

from nnzoo.cli.predict import default_of
from nnzoo.errors import UserError


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    defaults = default_of(run.task.predict)
    parser.add_argument("--prompt", default="", help="text to continue (a poem's first characters with --poem)")
    parser.add_argument("--length", type=int, help=f"characters to generate (default {defaults['length']})")
    parser.add_argument(
        "--temperature", type=float, help=f"0: greedy; <1 safer, >1 wilder (default {defaults['temperature']})"
    )
    parser.add_argument("--top-k", type=int, help="sample among the k most probable (default 0: all)")
    parser.add_argument("--seed", type=int, help="the same seed gives the same text (default 0)")
    parser.add_argument("--samples", type=int, default=1, help="how many texts (seeds seed, seed+1, ...)")
    parser.add_argument("--poem", help="poetry mode: CHARSxLINES, 5x4, 7x4, 5x8 or 7x8")
    parser.add_argument("--acrostic", help="with --poem: the head character of every line")


def predict(run: Any, args: argparse.Namespace) -> str:
    if args.samples < 1:
        raise UserError("--samples must be >= 1")
    if args.acrostic and not args.poem:  # the task says it too, in its keywords' names
        raise UserError("--acrostic needs --poem (such as --poem 5x4 --acrostic 春夏秋冬)")
    options = {key: getattr(args, key) for key in ("length", "temperature", "top_k", "seed", "poem", "acrostic")}
    texts = run.predict([args.prompt] * args.samples, **{k: v for k, v in options.items() if v is not None})
    return "\n\n".join(texts)
