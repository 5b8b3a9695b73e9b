"""Time series for forecasting: four real series from ``statsmodels.datasets``, and any user CSV.

=========  =============================================  ======  ===========  ======  =============================
name       what                                           points  step         period  source
=========  =============================================  ======  ===========  ======  =============================
sunspots   yearly mean sunspot number, 1700–2008          309     1 year       11      SIDC, via statsmodels
co2        atmospheric CO2 at Mauna Loa (ppm), weekly,    2,284   1 week       52      NOAA/Scripps, via statsmodels
           1958-03-29 – 2001-12-29; 59 gaps filled
nile       yearly flow of the Nile at Aswan (10⁸ m³),     100     1 year       1       Durbin & Koopman, statsmodels
           1871–1970
elnino     monthly sea-surface temperature of the El      732     1 month      12      NOAA, via statsmodels
           Niño 1+2 region (°C), 1950–2010
=========  =============================================  ======  ===========  ======  =============================

``period`` is the season length m used by the seasonal-naive forecast and MASE: the ≈11-year solar cycle, the
52-week year, none for the Nile (m = 1: the naive forecast), the 12-month year. The CO2 series has 59 missing
weeks, filled by linear interpolation between the neighbouring weeks (the gaps are single weeks or short runs;
interpolation is what the statsmodels documentation does with this series).

Times are decimal years (1958.24 …), so that every series, and its forecasts, can share one time axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnzoo.data.tables import read_csv
from nnzoo.errors import UserError
from nnzoo.optional import require

BUILTIN_SERIES = ("sunspots", "co2", "nile", "elnino")


@dataclass
class Series:
    """One univariate series: ``values`` (n,) at ``times`` (n,) in decimal years (or row numbers for a CSV)."""

    name: str
    values: np.ndarray
    times: np.ndarray
    period: int
    unit: str
    source: str
    filled: int = 0  # how many missing values were interpolated

    def __len__(self) -> int:
        return len(self.values)

    @property
    def step(self) -> float:
        """The time between two observations (a year, a week, a month, or 1 for rows of a CSV)."""
        return float(np.median(np.diff(self.times))) if len(self.times) > 1 else 1.0


def load_builtin_series(name: str) -> Series:
    """One of :data:`BUILTIN_SERIES`, read from the files that statsmodels ships (no network)."""
    datasets = require("statsmodels.datasets", f"the {name} series")

    if name == "sunspots":
        frame = datasets.sunspots.load_pandas().data
        return Series(
            name,
            frame["SUNACTIVITY"].to_numpy(float),
            frame["YEAR"].to_numpy(float),
            11,
            "sunspot number",
            "SIDC yearly sunspot numbers (statsmodels.datasets.sunspots)",
        )
    if name == "co2":
        frame = datasets.co2.load_pandas().data
        values = frame["co2"].interpolate(method="linear").to_numpy(float)
        index = frame.index
        times = index.year + (index.day_of_year - 1) / np.where(index.is_leap_year, 366.0, 365.0)
        return Series(
            name,
            values,
            np.asarray(times, float),
            52,
            "CO2 (ppm)",
            "Mauna Loa weekly CO2 (statsmodels.datasets.co2)",
            int(frame["co2"].isna().sum()),
        )
    if name == "nile":
        frame = datasets.nile.load_pandas().data
        return Series(
            name,
            frame["volume"].to_numpy(float),
            frame["year"].to_numpy(float),
            1,
            "flow (10⁸ m³)",
            "Nile flow at Aswan (statsmodels.datasets.nile)",
        )
    if name == "elnino":
        frame = datasets.elnino.load_pandas().data
        months = frame.drop(columns="YEAR").to_numpy(float)  # (years, 12)
        times = (frame["YEAR"].to_numpy(float)[:, None] + np.arange(12)[None, :] / 12).ravel()
        return Series(
            name,
            months.ravel(),
            times,
            12,
            "sea-surface temperature (°C)",
            "El Niño 1+2 monthly SST (statsmodels.datasets.elnino)",
        )
    raise UserError(f"unknown series {name!r}; built-in series: {', '.join(BUILTIN_SERIES)}")


def read_series_csv(path: str | Path, column: str, period: int, time_column: str = "") -> Series:
    """A column of a CSV file (header line, one row per time step, oldest first) as a series.

    Every cell must be a finite number: a missing or non-numeric value is an error naming its line, because
    filling gaps is a modelling decision the user should make. ``time_column``, if given, must be numeric too.
    """
    table = read_csv(path)
    if not column:
        raise UserError(f"name the column to forecast with --set data.column=NAME; columns: {', '.join(table.columns)}")
    table.require([column], "data.column")
    values = table.numeric(column)
    if time_column:
        table.require([time_column], "data.time_column")
        times = table.numeric(time_column)
        if np.any(np.diff(times) <= 0):
            raise UserError(f"{path}: column {time_column!r} must increase from row to row (oldest first)")
    else:
        times = np.arange(len(values), dtype=float)
    return Series(column, values, times, period, column, str(path))
