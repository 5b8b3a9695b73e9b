"""Pack the models that ship with nnzoo from their runs (scripts/pretrained.toml names them), into
src/nnzoo/weights/TASK/NAME/, each with its card; then write the cards into docs/pretrained.md and the table of
README's "Pretrained models" section. Usage: python scripts/pack_pretrained.py [NAME ...] [--no-docs | --docs-only]
(default: all names); RUNS (environment) is the folder of the runs, default runs/pretrained."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from nnzoo import pretrained
from nnzoo.config import load_toml
from nnzoo.files import write_atomic

ROOT = Path(__file__).resolve().parent.parent
CARDS_PAGE = ROOT / "docs" / "pretrained.md"
CARDS_INTRO = """# Pretrained models: their cards

Written by `scripts/pack_pretrained.py` from `src/nnzoo/weights/*/*/card.toml`; do not edit by hand. What the
fields mean, and how to use the models: README, "Pretrained models".

"""


def readme_with_table(readme: str, table: str) -> str:
    """README with the table of its "Pretrained models" section replaced by ``table``."""
    head, rest = readme.split("## Pretrained models", 1)
    lines = rest.split("\n")
    first = next(i for i, line in enumerate(lines) if line.startswith("| name | model | weights |"))
    last = next(i for i in range(first, len(lines)) if not lines[i].startswith("|"))
    return head + "## Pretrained models" + "\n".join([*lines[:first], table.rstrip("\n"), *lines[last:]])


def write_docs() -> None:
    readme = ROOT / "README.md"
    write_atomic(CARDS_PAGE, CARDS_INTRO + pretrained.markdown_cards()).chmod(0o644)
    write_atomic(readme, readme_with_table(readme.read_text(), pretrained.markdown_table())).chmod(0o644)


def main(args: list[str]) -> None:
    entries = load_toml(ROOT / "scripts" / "pretrained.toml")
    runs = Path(os.environ.get("RUNS", ROOT / "runs" / "pretrained"))
    names = [arg for arg in args if not arg.startswith("--")]
    for name in [] if "--docs-only" in args else names or list(entries):
        about = dict(entries[name])
        run, checkpoint, check = runs / about.pop("run"), about.pop("checkpoint"), about.pop("check", [])
        tolerance = about.pop("float16_tolerance", 1e-3)  # how far float16 may move a test figure (relative)
        weights = ROOT / "src" / "nnzoo" / "weights"
        card = pretrained.pack(run, name, about, checkpoint=checkpoint, root=weights, check=check, tolerance=tolerance)
        size = (card.folder / pretrained.WEIGHTS_FILE).stat().st_size / 1e6
        print(f"{name}: {card.fields['dtype']}, {size:.1f} MB, test {card.fields['test']}", flush=True)
    if "--no-docs" not in args:
        write_docs()


if __name__ == "__main__":
    main(sys.argv[1:])
