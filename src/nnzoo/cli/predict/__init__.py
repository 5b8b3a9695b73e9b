"""``nnzoo predict RUN_DIR INPUT…``: per-task adapters between the command line and :meth:`nnzoo.Run.predict`.

The task computes typed results from Python inputs; its adapter here reads those inputs from the command line
(words, rows, files) and turns the results into text (and, for images, files). An adapter is the module
``nnzoo.cli.predict.<task>`` (hyphens as underscores) with two functions::

    def add_arguments(parser: argparse.ArgumentParser, run: nnzoo.Run) -> None: ...
    def predict(run: nnzoo.Run, args: argparse.Namespace) -> str: ...

A task without one takes its inputs as text arguments and prints one result per line, so a new task needs
nothing here to be usable from the command line.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from nnzoo.errors import UserError

if TYPE_CHECKING:
    from nnzoo.api import Run


def adapter(task: str) -> ModuleType:
    """The adapter module of ``task``, or this module's generic one."""
    try:
        return importlib.import_module(f"{__name__}.{task.replace('-', '_')}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{task.replace('-', '_')}":
            raise
        return importlib.import_module(f"{__name__}.generic")


def predict(run: Run, argv: list[str], prog: str) -> str:
    """Parse ``argv`` with the task's arguments, predict, and return the text to print."""
    parser = argparse.ArgumentParser(
        prog=prog, description=f"Predict with a trained {run.config.task}/{run.config.model.name} model."
    )
    module = adapter(run.config.task)
    module.add_arguments(parser, run)
    return module.predict(run, parser.parse_args(argv))


def require_inputs(values: list, what: str, example: str) -> None:
    """A one-line error when the command line gave nothing to predict."""
    if not values:
        raise UserError(f"give {what} to predict from, e.g. nnzoo predict RUN_DIR {example}")


def default_of(predict: Callable) -> dict[str, Any]:
    """The defaults of a task's ``predict`` options, for the help texts (the task's signature is their one source)."""
    parameters = inspect.signature(predict).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
