"""The notes' claims as measured experiments (``nnzoo experiment``); see ``base.py`` for what each one writes."""

from nnzoo.experiments import basics, bottleneck, context, gradients, memory, parallel, skips  # noqa: F401  (each module registers its experiment)
from nnzoo.experiments.base import BUDGETS, EXPERIMENTS, run_experiment

__all__ = ["BUDGETS", "EXPERIMENTS", "run_experiment"]
