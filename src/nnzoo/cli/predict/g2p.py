"""``nnzoo predict`` for ``g2p``: the pronunciation of each word (``--nbest``: several, with their scores)."""

from __future__ import annotations

import argparse
from typing import Any

from nnzoo.cli.predict import _seq2seq

add_arguments = _seq2seq.add_arguments


def predict(run: Any, args: argparse.Namespace) -> str:
    return _seq2seq.predict(run, args, example="pronunciation")
