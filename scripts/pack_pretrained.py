"""Pack the models that ship with nnzoo from their runs (scripts/pretrained.toml names them), into
src/nnzoo/weights/TASK/NAME/, each with its card. Usage: python scripts/pack_pretrained.py [NAME ...]
(default: all); RUNS (environment) is the folder of the runs, default runs/pretrained."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from nnzoo import pretrained
from nnzoo.config import load_toml

ROOT = Path(__file__).resolve().parent.parent


def main(names: list[str]) -> None:
    entries = load_toml(ROOT / "scripts" / "pretrained.toml")
    runs = Path(os.environ.get("RUNS", ROOT / "runs" / "pretrained"))
    for name in names or list(entries):
        about = dict(entries[name])
        run, checkpoint, check = runs / about.pop("run"), about.pop("checkpoint"), about.pop("check", [])
        weights = ROOT / "src" / "nnzoo" / "weights"
        card = pretrained.pack(run, name, about, checkpoint=checkpoint, root=weights, check=check)
        size = (card.folder / pretrained.WEIGHTS_FILE).stat().st_size / 1e6
        print(f"{name}: {card.fields['dtype']}, {size:.1f} MB, test {card.fields['test']}")


if __name__ == "__main__":
    main(sys.argv[1:])
