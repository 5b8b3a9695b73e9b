"""``nnzoo predict`` for ``forecast``: the values after the end of the run's series, printed and drawn."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from nnzoo.errors import UserError

PLOT_FORMATS = (".png", ".svg", ".pdf")


def add_arguments(parser: argparse.ArgumentParser, run: Any) -> None:
    horizon = run.task.info["horizon"]
    parser.add_argument("--horizon", type=int, help=f"values to forecast (default: the trained horizon, {horizon})")
    parser.add_argument("--plot", type=Path, default=None, help="also draw history + forecast here (.png, .svg, .pdf)")


def predict(run: Any, args: argparse.Namespace) -> str:
    from nnzoo.viz.forecast import plot_future

    if args.horizon is not None and not 0 <= args.horizon <= 10_000:
        raise UserError(f"--horizon must be between 1 and 10000 (0: the trained horizon), got {args.horizon}")
    if args.plot is not None and args.plot.suffix.lower() not in PLOT_FORMATS:
        raise UserError(f"--plot {args.plot}: give a file ending in {', '.join(PLOT_FORMATS)}")
    series = run.task.load_series()
    (future,) = run.predict([series.values], steps=args.horizon or None)
    times = series.times[-1] + series.step * np.arange(1, len(future) + 1)
    digits = 0 if series.step >= 1 else 2
    lines = [f"{'time':>10}  {series.unit}"]
    lines += [f"{t:>10.{digits}f}  {v:.4g}" for t, v in zip(times, future)]
    if args.plot is not None:  # only where asked: a run folder may be read-only, and is the run's record
        title = f"{series.name}: {run.config.model.name} forecast"
        plot_future(series, times, np.asarray(future), args.plot, title)
        lines.append(f"plot: {args.plot}")
    return "\n".join(lines)
