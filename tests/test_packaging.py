"""What an installation of nnzoo is made of: one version, and the recipes and corpora inside the package."""

from __future__ import annotations

import fnmatch
import importlib.metadata
from pathlib import Path

import pytest

import nnzoo
from nnzoo.cli import main
from nnzoo.config import load_toml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(nnzoo.__file__).parent


def test_the_version_is_written_once_and_installed_as_written(capsys):
    # pyproject.toml reads it from nnzoo/__init__.py (after a change of either, reinstall: pip install -e .)
    project = load_toml(ROOT / "pyproject.toml")
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "nnzoo.__version__"}
    assert nnzoo.__version__ == importlib.metadata.version("nnzoo")
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"nnzoo {nnzoo.__version__}\n"


def test_the_package_data_globs_take_every_data_file_of_the_package():
    """The wheel carries the modules and what ``[tool.setuptools.package-data]`` matches: a recipe or a corpus it
    would miss works in a checkout and is absent from an installation."""
    globs = load_toml(ROOT / "pyproject.toml")["tool"]["setuptools"]["package-data"]["nnzoo"]
    data = [
        path.relative_to(PACKAGE).as_posix()
        for path in sorted(PACKAGE.rglob("*"))
        if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
    ]
    recipes = [name for name in data if name.startswith("recipes/")]
    assert len(recipes) == len(nnzoo.list_recipes()) >= 30 and "data/corpora/apple.tsv" in data
    for relative in data:
        assert any(_globbed(relative, glob) for glob in globs), f"{relative} matches none of {globs}"


def _globbed(path: str, glob: str) -> bool:
    """Whether setuptools' glob takes ``path``: each ``*`` stands for part of one folder or file name."""
    parts, patterns = path.split("/"), glob.split("/")
    return len(parts) == len(patterns) and all(map(fnmatch.fnmatchcase, parts, patterns))
