"""``nnzoo predict`` for ``tagging``: each sentence with a tag after every word (``?``: a word unseen in training)."""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    parser.add_argument("sentences", nargs="+", help="sentences to tag (People's Daily: words separated by spaces)")


def predict(run: Any, args: argparse.Namespace) -> str:
    tagged = run.predict(args.sentences)
    return "\n".join(" ".join(f"{w.word}/{w.tag}" + ("" if w.known else "?") for w in words) for words in tagged)
