"""Writing a figure: every figure file nnzoo draws goes through :func:`save_figure`."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from nnzoo.files import replacing


def save_figure(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (its format from the suffix: .png, .svg, .pdf …), creating the folder, atomically:
    a run killed while drawing leaves the previous figure or none, never half a file. Returns the path."""
    path = Path(path)
    with replacing(path) as temporary:
        fig.savefig(temporary, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    return path
