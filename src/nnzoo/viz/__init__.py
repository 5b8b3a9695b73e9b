"""Figures written into run folders. Every function takes data and a path and returns the path it wrote.

matplotlib is used through its object API (``Figure``), so no GUI backend or global pyplot state is involved.
Chinese labels (translation attention maps, poems) need a CJK font: DejaVu Sans has none, so the first installed
of :data:`CJK_FONTS` is added after it as a per-glyph fallback: WenQuanYi Zen Hei (Debian's ``fonts-wqy-zenhei``,
installed by ``make setup``), Noto or Source Han Sans (most Linux systems), PingFang or Hiragino (macOS), Microsoft
YaHei or SimHei (Windows). Without any, Chinese characters are drawn as boxes.
"""

import logging

import matplotlib
from matplotlib import font_manager

CJK_FONTS = (
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "PingFang SC",
    "Hiragino Sans GB",
    "Microsoft YaHei",
    "SimHei",
)
_installed = {font.name for font in font_manager.fontManager.ttflist}
CJK_FONT = next((name for name in CJK_FONTS if name in _installed), None)
if CJK_FONT is not None:
    # A list of families (not the generic "sans-serif") makes matplotlib fall back glyph by glyph. Some of these
    # fonts have one weight only, and font_manager warns on every lookup that it uses it for "normal": silence that.
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", CJK_FONT]
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

from nnzoo.viz.curves import plot_training_curves  # noqa: E402  (after the font set-up)
from nnzoo.viz.gates import plot_gate_activity  # noqa: E402

__all__ = ["plot_gate_activity", "plot_training_curves"]
