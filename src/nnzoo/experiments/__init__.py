"""The notes' claims as measured experiments (``nnzoo experiment``); see ``base.py`` for what each one writes."""

from nnzoo.experiments import (  # noqa: F401  (each module registers its experiment)
    basics,
    bottleneck,
    context,
    degradation,
    feedback,
    gradients,
    memory,
    parallel,
    skips,
)
from nnzoo.experiments.base import BUDGETS, EXPERIMENTS, run_experiment

__all__ = ["BUDGETS", "EXPERIMENTS", "run_experiment"]
