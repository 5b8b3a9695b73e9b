"""What the ``g2p`` and ``translate`` adapters share: inputs as arguments, the N best outputs with their scores."""

from __future__ import annotations

import argparse
from typing import Any

from nnzoo.cli.predict import require_inputs
from nnzoo.errors import UserError


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    parser.add_argument("inputs", nargs="*", help="what to transform; quote inputs with spaces")
    parser.add_argument("--nbest", type=int, default=1, help="show the N best hypotheses with their scores")
    parser.add_argument(
        "--beam", type=int, help=f"beam size (default: the run's eval.beam_size, {run.config.eval.beam_size})"
    )


def predict(run: Any, args: argparse.Namespace, example: str) -> str:
    require_inputs(args.inputs, f"inputs to {run.config.task}", example)
    if args.nbest < 1 or (args.beam is not None and args.beam < 1):
        raise UserError("--nbest and --beam must be >= 1")
    width = max(len(text) for text in args.inputs)
    lines = []
    for text, outputs in zip(args.inputs, run.predict(args.inputs, beam_size=args.beam, nbest=args.nbest)):
        for rank, output in enumerate(outputs):
            score = f"  (log p = {output.log_prob:.2f})" if args.nbest > 1 else ""
            lines.append(f"{text if rank == 0 else '':<{width}}  {output.text}{score}")
    return "\n".join(lines)
