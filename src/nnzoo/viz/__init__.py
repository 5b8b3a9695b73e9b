"""Figures written into run folders. Every function takes data and a path and returns the path it wrote.

matplotlib is used through its object API (``Figure``), so no GUI backend or global pyplot state is involved.
"""

from nnzoo.viz.curves import plot_training_curves
from nnzoo.viz.gates import plot_gate_activity

__all__ = ["plot_gate_activity", "plot_training_curves"]
