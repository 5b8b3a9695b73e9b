"""The README is short and every code block in it runs: each `nnzoo` line of its shell blocks runs as written, in
order, in a scratch folder; its `make` lines name Makefile targets and its `pip install` lines nnzoo's extras
(tests/test_install.py installs those); its Python block runs in tests/test_api.py, which checks what it prints."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
BLOCKS = BLOCK.findall(README)


def commands(language: str) -> list[list[str]]:
    """The command lines of the README's blocks in ``language``, comments cut, as argument lists."""
    lines = [line for lang, body in BLOCKS if lang == language for line in body.splitlines()]
    return [shlex.split(line.split("  #")[0]) for line in lines if line.strip()]


def test_the_readme_is_short_and_its_blocks_are_shell_or_python():
    assert len(README.splitlines()) <= 200
    assert {language for language, _ in BLOCKS} == {"bash", "python"}
    python = [body for language, body in BLOCKS if language == "python"]
    assert len(python) == 1 and README.index("The same from Python") < README.index(python[0])  # test_api runs it


def test_every_nnzoo_command_in_the_readme_runs_as_written(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the commands write runs/ here
    ran = 0
    for words in commands("bash"):
        if words[0] != "nnzoo":
            continue
        code, out, err = cli(*words[1:])
        assert code == 0 and (out.strip() or "--quiet" in words), f"{shlex.join(words)}: {err}"
        ran += 1
    assert ran >= 12


def test_the_readmes_make_and_pip_lines_name_real_targets_and_extras():
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    others = [words for words in commands("bash") if words[0] != "nnzoo"]
    assert others
    for words in others:
        if words[0] == "make":
            assert words[1] in targets, words
        else:
            assert words[:2] == ["pip", "install"], f"a README command nothing tests: {shlex.join(words)}"
            requirement = words[-1]
            assert re.fullmatch(r"nnzoo(\[[\w,]+\])?", requirement), words
            assert set(re.findall(r"\w+", requirement.partition("[")[2])) <= extras, words
