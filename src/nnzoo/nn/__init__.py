"""The architectures of the notes, each written from its equations."""

from nnzoo.nn.mlp import ACTIVATIONS, MLP, LinearRegression, make_activation

__all__ = ["ACTIVATIONS", "MLP", "LinearRegression", "make_activation"]
