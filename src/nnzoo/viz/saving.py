"""Writing a picture: every figure file nnzoo draws goes through :func:`save_figure`, every image file (a PNG of
pixels, a GIF) through :func:`save_image`; both write atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from nnzoo.errors import UserError
from nnzoo.files import replacing


def save_figure(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (its format from the suffix: .png, .svg, .pdf …), creating the folder, atomically:
    a run killed while drawing leaves the previous figure or none, never half a file. Returns the path."""
    path = Path(path)
    with replacing(path) as temporary:
        fig.savefig(temporary, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    return path


def save_image(image: Any, path: str | Path, **params: Any) -> Path:
    """Write the Pillow ``image`` to ``path`` (its format from the suffix) atomically, as :func:`save_figure` does;
    ``params`` go to ``Image.save`` (a GIF's ``append_images``, ``duration`` …). Returns the path."""
    from PIL import Image

    path = Path(path)
    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format is None:
        raise UserError(f"{path.name}: no image format has the suffix {path.suffix!r}; use .png, .jpg, .gif …")
    with replacing(path) as temporary:
        image.save(temporary, format=image_format, **params)
    return path
