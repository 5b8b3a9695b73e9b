"""Every ```python block in docs/*.md runs: the documented examples cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.DOTALL | re.MULTILINE)


def blocks():
    for path in sorted(DOCS.glob("*.md")):
        for number, match in enumerate(BLOCK.finditer(path.read_text()), 1):
            indent = len(match.group(1))
            code = "\n".join(line[indent:] for line in match.group(2).splitlines())
            yield pytest.param(code, id=f"{path.name}#{number}")


@pytest.mark.parametrize("code", list(blocks()))
def test_documented_example_runs(code):
    exec(compile(code, "<docs>", "exec"), {})


def test_docs_have_examples():
    assert len(list(blocks())) >= 3
