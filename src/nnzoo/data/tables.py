"""Tables of numbers for regression: three built-in data sets, and any user CSV.

=========  ===========================================  ======  =====================  ============================
name       source (package)                             rows    inputs                 default target
=========  ===========================================  ======  =====================  ============================
boston     Harrison & Rubinfeld 1978 (shipped, 36 KB)    506     13 (CRIM … LSTAT)      MEDV, median home value k$
diabetes   Efron et al. 2004 (``scikit-learn``)          442     10 (age, sex, bmi …)   progression after one year
wine       UCI wine recognition (``scikit-learn``)       178     12 measurements +      alcohol
                                                                 cultivar (0, 1, 2)
=========  ===========================================  ======  =====================  ============================

Every loader reads files shipped inside a package: nothing touches the network. The Boston table ships with nnzoo
(``corpora/boston.csv``, the values of ``mlxtend.data.boston_housing_data()`` digit for digit, tests check them), so
that ``pip install nnzoo`` alone trains the notes' 13-input linear regression; the other two come with scikit-learn.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnzoo.errors import UserError
from nnzoo.optional import require

BOSTON_COLUMNS = [
    "CRIM",
    "ZN",
    "INDUS",
    "CHAS",
    "NOX",
    "RM",
    "AGE",
    "DIS",
    "RAD",
    "TAX",
    "PTRATIO",
    "B",
    "LSTAT",
    "MEDV",
]
BUILTIN_TABLES = ("boston", "diabetes", "wine")
BOSTON_CSV = Path(__file__).parent / "corpora" / "boston.csv"  # a header of 2 comment lines and the column names


@dataclass
class Table:
    """Named columns as read from their source, before conversion to numbers.

    ``columns`` maps each name to a 1-D array: floats for the built-in tables, strings for a CSV (converted by
    :meth:`numeric` with an error that names the line and column of a bad cell). ``lines`` holds each row's line
    number in the source file, for those messages.
    """

    source: str
    columns: dict[str, np.ndarray]
    lines: np.ndarray
    default_target: str = ""
    line_name: str = "line"  # how messages name a row: "line" of a file, "row" of a list given to predict

    def __len__(self) -> int:
        return len(self.lines)

    def require(self, names: list[str], role: str) -> None:
        for name in names:
            if name not in self.columns:
                raise UserError(
                    f"{role} column {name!r} is not in {self.source}; its columns: {', '.join(self.columns)}"
                )

    def numeric(self, name: str, rows: np.ndarray | None = None) -> np.ndarray:
        values = self.columns[name] if rows is None else self.columns[name][rows]
        if values.dtype.kind == "f":
            return values.astype(np.float64)
        lines = self.lines if rows is None else self.lines[rows]
        out = np.empty(len(values), dtype=np.float64)
        for i, (text, line) in enumerate(zip(values, lines)):
            out[i] = parse_number(text, f"{self.source} {self.line_name} {line}, column {name!r}")
        return out

    def categories(self, name: str, rows: np.ndarray) -> list[str]:
        return sorted({_category(v) for v in self.columns[name][rows]})


def parse_number(text: str, where: str) -> float:
    text = str(text).strip()
    if not text:
        raise UserError(f"{where} is empty; fill or drop missing values first")
    try:
        value = float(text)
    except ValueError:
        raise UserError(
            f"{where}: {text!r} is not a number (list text columns in data.one_hot to encode them)"
        ) from None
    if not math.isfinite(value):
        raise UserError(f"{where}: {text!r} is not a finite number")
    return value


def _category(value: object) -> str:
    """Category label of a cell: built-in tables store floats, so 1.0 and "1" name the same category."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def load_builtin(name: str) -> Table:
    if name == "boston":
        values = np.loadtxt(BOSTON_CSV, delimiter=",", comments="#", skiprows=3)
        return _from_matrix("boston housing (Harrison & Rubinfeld 1978)", BOSTON_COLUMNS, values, "MEDV")
    if name == "diabetes":
        load_diabetes = require("sklearn.datasets", "the diabetes table").load_diabetes

        bunch = load_diabetes(scaled=False)
        values = np.column_stack([bunch.data, bunch.target])
        return _from_matrix("diabetes (scikit-learn)", [*bunch.feature_names, "progression"], values, "progression")
    if name == "wine":
        load_wine = require("sklearn.datasets", "the wine table").load_wine

        bunch = load_wine()
        values = np.column_stack([bunch.data, bunch.target])
        return _from_matrix("wine (scikit-learn)", [*bunch.feature_names, "cultivar"], values, "alcohol")
    raise UserError(f"unknown table {name!r}; built-in tables: {', '.join(BUILTIN_TABLES)}")


def _from_matrix(source: str, names: list[str], values: np.ndarray, target: str) -> Table:
    columns = {name: values[:, j].astype(np.float64) for j, name in enumerate(names)}
    return Table(source, columns, np.arange(1, len(values) + 1), target)


def read_csv(path: str | Path) -> Table:
    """Read a CSV file with a header line; cells stay text until a column is converted."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"CSV file not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next((row for row in reader if any(cell.strip() for cell in row)), None)
            if header is None:
                raise UserError(f"{path} is empty; expected a header line of column names, then rows of values")
            names = [cell.strip() for cell in header]
            if any(not n for n in names) or len(set(names)) != len(names):
                raise UserError(f"{path}: the header needs unique, non-empty column names, got {names}")
            rows, lines = [], []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(names):
                    raise UserError(
                        f"{path} line {reader.line_num}: expected {len(names)} values (one per column), got {len(row)}"
                    )
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a UTF-8 text file") from None
    except csv.Error as error:
        raise UserError(f"{path} is not a readable CSV file: {error}") from None
    if not rows:
        raise UserError(f"{path} has a header but no rows of values")
    cells = np.array(rows, dtype=object)
    columns = {name: cells[:, j] for j, name in enumerate(names)}
    return Table(str(path), columns, np.array(lines))


def design_matrix(
    table: Table, features: list[str], one_hot: dict[str, list[str]], rows: np.ndarray | None = None
) -> tuple[np.ndarray, list[str]]:
    """The input matrix X (n, d): numeric columns as they are, and each column named in ``one_hot`` replaced by
    one indicator column per category (``name=value``). A category not in the list (unseen in training) gives an
    all-zero row."""
    blocks, names = [], []
    for name in features:
        if name in one_hot:
            labels = np.array(
                [_category(v) for v in (table.columns[name] if rows is None else table.columns[name][rows])]
            )
            for category in one_hot[name]:
                blocks.append((labels == category).astype(np.float64))
                names.append(f"{name}={category}")
        else:
            blocks.append(table.numeric(name, rows))
            names.append(name)
    n = len(table) if rows is None else len(rows)
    return (np.column_stack(blocks) if blocks else np.zeros((n, 0))), names
