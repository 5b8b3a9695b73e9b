"""nnzoo: the classic deep-learning architectures, written from their equations and trained on real data."""

__version__ = "0.1.0"
