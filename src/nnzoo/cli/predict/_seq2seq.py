"""What the ``g2p``, ``translate`` and ``caption`` adapters share: the N best outputs of each input, with scores."""

from __future__ import annotations

import argparse
from typing import Any

from nnzoo.cli.predict import require_inputs
from nnzoo.errors import UserError


def add_options(parser: argparse.ArgumentParser, run: Any) -> None:
    """``--nbest`` and ``--beam``."""
    parser.add_argument("--nbest", type=int, default=1, help="show the N best hypotheses with their scores")
    parser.add_argument(
        "--beam", type=int, help=f"beam size (default: the run's eval.beam_size, {run.config.eval.beam_size})"
    )


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    parser.add_argument("inputs", nargs="*", help="what to transform; quote inputs with spaces")
    add_options(parser, run)


def nbest(run: Any, args: argparse.Namespace, inputs: list, labels: list[str]) -> str:
    """Each input's outputs, best first, beside its label (and, with ``--nbest`` > 1, their log-probabilities)."""
    if args.nbest < 1 or (args.beam is not None and args.beam < 1):
        raise UserError("--nbest and --beam must be >= 1")
    width = max(len(label) for label in labels)
    lines = []
    for label, outputs in zip(labels, run.predict(inputs, beam_size=args.beam, nbest=args.nbest)):
        for rank, output in enumerate(outputs):
            score = f"  (log p = {output.log_prob:.2f})" if args.nbest > 1 else ""
            lines.append(f"{label if rank == 0 else '':<{width}}  {output.text}{score}")
    return "\n".join(lines)


def predict(run: Any, args: argparse.Namespace, example: str) -> str:
    require_inputs(args.inputs, f"inputs to {run.config.task}", example)
    return nbest(run, args, args.inputs, args.inputs)
