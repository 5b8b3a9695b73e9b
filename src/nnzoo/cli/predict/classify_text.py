"""``nnzoo predict`` for ``classify-text``: the sentiment of each review, with its probability."""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    parser.add_argument("reviews", nargs="+", help="Chinese reviews to classify")


def predict(run: Any, args: argparse.Namespace) -> str:
    results = run.predict(args.reviews)
    return "\n".join(f"{r.label} ({r.probabilities[r.label]:.3f})  {text}" for text, r in zip(args.reviews, results))
