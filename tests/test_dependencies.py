"""Dependencies that tell the truth: every import in ``src/`` is declared in ``pyproject.toml``; what only an extra
installs is imported through ``nnzoo.optional.require``, where it is used, so ``pip install nnzoo`` alone imports
every module (the tasks register at ``import nnzoo.api``)."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from nnzoo.optional import EXTRAS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "src" / "nnzoo").rglob("*.py"))
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def distribution(requirement: str) -> str:
    """The normalised distribution name of a requirement string: "scikit-learn>=1.3" -> "scikit-learn"."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


CORE = {distribution(r) for r in PROJECT["dependencies"]}
EXTRA_OF = {distribution(r): extra for extra, rs in PROJECT["optional-dependencies"].items() for r in rs}
INSTALLED = {module: {distribution(d) for d in dists} for module, dists in packages_distributions().items()}


def third_party_imports() -> list[tuple[Path, int, str]]:
    """(file, line, top-level module) of every absolute import of another package, at any depth."""
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top != "nnzoo" and top not in sys.stdlib_module_names and top != "tomli":  # tomli: Python < 3.11
                    found.append((path, node.lineno, top))
    return found


def required_modules() -> list[tuple[Path, int, str]]:
    """(file, line, module) of every ``require("module", ...)`` call."""
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            called = isinstance(node, ast.Call) and getattr(node.func, "id", "") == "require" and node.args
            if called and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.append((path, node.lineno, node.args[0].value))
    return found


def test_every_direct_import_is_a_core_dependency():
    """Direct imports run on a core install: only the core dependencies may appear in them, at any depth."""
    wrong = []
    for path, line, module in third_party_imports():
        dists = INSTALLED.get(module, {module})
        if not dists & CORE:
            wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module} ({', '.join(sorted(dists))})")
    assert not wrong, "import these through nnzoo.optional.require, or declare them in the core:\n" + "\n".join(wrong)


def test_every_required_module_is_in_the_extra_the_advice_names():
    calls = required_modules()
    assert len(calls) >= 15  # the data sets, baselines and tools of the tasks, export, tensorboard
    for path, line, module in calls:
        top = module.partition(".")[0]
        if top == "torch":  # torch.utils.tensorboard: needs the tensorboard package
            top = "tensorboard"
        assert top in EXTRAS, f"{path.relative_to(ROOT)}:{line}: {module} has no entry in nnzoo.optional.EXTRAS"


@pytest.mark.parametrize("module", sorted(EXTRAS))
def test_the_extras_table_agrees_with_pyproject(module):
    dist, extra = EXTRAS[module]
    assert EXTRA_OF.get(dist) == extra, f"pyproject.toml does not list {dist} in the {extra!r} extra"
    if module in INSTALLED:  # the import name really belongs to that distribution
        assert dist in INSTALLED[module]


def test_the_optional_packages_are_not_core():
    assert not {dist for dist, _ in EXTRAS.values()} & CORE
