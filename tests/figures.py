"""Reading figures back in tests: where the panels of a figure of images are, and what each shows."""

from __future__ import annotations

import numpy as np
from PIL import Image


def figure_panels(path, cells: int) -> np.ndarray:
    """The panels of a figure of images, (rows, columns, cells, cells, RGB): the colour at the centre of every cell
    of each image drawn. Panels are found as the bands of rows, then (in the first band) of columns, that are mostly
    not the white page."""

    def bands(ink: np.ndarray) -> list[tuple[int, int]]:
        edges = np.flatnonzero(np.diff(np.r_[0, (ink > 0.5 * ink.max()).astype(int), 0]))
        return list(zip(edges[::2], edges[1::2]))

    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    ink = (rgb != 255).any(-1)
    rows = bands(ink.sum(1))
    columns = bands(ink[rows[0][0] : rows[0][1]].sum(0))
    centres = (np.arange(cells) + 0.5) / cells
    return np.array(
        [
            [
                rgb[np.ix_((r0 + centres * (r1 - r0)).astype(int), (c0 + centres * (c1 - c0)).astype(int))]
                for c0, c1 in columns
            ]
            for r0, r1 in rows
        ]
    )
