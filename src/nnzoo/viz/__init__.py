"""Figures written into run folders. Every function takes data and a path and returns the path it wrote.

matplotlib is used through its object API (``Figure``), so no GUI backend or global pyplot state is involved.
Chinese labels (translation attention maps, poems) need a CJK font: DejaVu Sans has none, so WenQuanYi Zen Hei
(Debian's ``fonts-wqy-zenhei``, installed by ``make setup``) is added after it as a per-glyph fallback.
"""

import logging

import matplotlib
from matplotlib import font_manager

CJK_FONT = "WenQuanYi Zen Hei"
if any(font.name == CJK_FONT for font in font_manager.fontManager.ttflist):
    # A list of families (not the generic "sans-serif") makes matplotlib fall back glyph by glyph. The font has
    # weight 500 only, and font_manager warns on every lookup that it uses 500 for "normal": silence that.
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", CJK_FONT]
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

from nnzoo.viz.curves import plot_training_curves  # noqa: E402  (after the font set-up)
from nnzoo.viz.gates import plot_gate_activity  # noqa: E402

__all__ = ["plot_gate_activity", "plot_training_curves"]
