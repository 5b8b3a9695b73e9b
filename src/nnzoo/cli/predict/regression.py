"""``nnzoo predict`` for ``regression``: rows from ``--row`` or CSV files, one predicted target per row."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nnzoo.data.tables import read_csv
from nnzoo.errors import UserError


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    columns = run.task.info["columns"]
    parser.add_argument(
        "csv", nargs="*", type=Path, help=f"CSV files with a header naming the input columns ({', '.join(columns)})"
    )
    parser.add_argument(
        "--row",
        action="append",
        default=[],
        metavar="V1,V2,...",
        help=f"one row of {len(columns)} comma-separated values in the order {', '.join(columns)}",
    )


def predict(run: Any, args: argparse.Namespace) -> str:
    if not args.csv and not args.row:
        raise UserError("give CSV files or --row values to predict from")
    columns, target = run.task.info["columns"], run.task.info["target"]
    rows = []
    for text in args.row:
        values = [v.strip() for v in text.split(",")]
        if len(values) != len(columns):
            raise UserError(f"--row needs {len(columns)} values ({', '.join(columns)}), got {len(values)}")
        rows.append(values)
    lines = [f"{target} = {value:.4g}" for value in run.predict(rows)] if rows else []
    for path in args.csv:
        table = read_csv(path)
        table.require(columns, "input")
        try:
            values = run.predict([[table.columns[c][i] for c in columns] for i in range(len(table))])
        except UserError as error:
            raise UserError(f"{path}: {error}") from None
        lines += [f"{path} line {line}: {target} = {value:.4g}" for line, value in zip(table.lines, values)]
    return "\n".join(lines)
