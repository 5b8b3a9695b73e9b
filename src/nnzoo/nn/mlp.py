r"""Perceptrons: multiple linear regression (one neuron) and the multi-layer perceptron.

The notes' neuron computes a weighted sum of its inputs plus a bias and passes it through an activation:

.. math::
    y = f(\mathbf{w}^\top \mathbf{x} + b)

With no activation (:math:`f(z) = z`) it is multiple linear regression; stacking layers of such neurons with a
non-linear :math:`f` between them gives the multi-layer perceptron.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from torch import Tensor, nn

from nnzoo.errors import require

Activation = Literal["sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "identity"]
ACTIVATIONS: tuple[str, ...] = get_args(Activation)


def make_activation(name: str) -> nn.Module:
    r"""The activations of the notes, by name:

    * ``sigmoid``: :math:`\sigma(z) = 1 / (1 + e^{-z})`
    * ``tanh``: :math:`\tanh(z)`
    * ``relu``: :math:`\max(0, z)`
    * ``leaky_relu``: :math:`\max(0.01 z, z)`
    * ``prelu``: :math:`\max(a z, z)`, the slope :math:`a` learned (one per layer, starts at 0.25)
    * ``elu``: :math:`z` for :math:`z > 0`, else :math:`e^{z} - 1`
    * ``identity``: :math:`z`, no activation: an MLP of any depth is then one linear map (the notes' point)
    """
    factories = {
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "relu": nn.ReLU,
        "leaky_relu": nn.LeakyReLU,
        "prelu": nn.PReLU,
        "elu": nn.ELU,
        "identity": nn.Identity,
    }
    if name not in factories:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return factories[name]()


def scale_initialisation(module: nn.Module, activation: str) -> None:
    r"""Variance-preserving initialisation of every linear layer in ``module``: He (Kaiming normal, fan-in,
    :math:`\operatorname{Var} w = 2 / \text{fan-in}`) for the ReLU family, Glorot (Xavier normal,
    :math:`2 / (\text{fan-in} + \text{fan-out})`) for sigmoid, tanh and identity; zero biases. PyTorch's default,
    uniform with variance :math:`1 / (3\,\text{fan-in})`, shrinks a ReLU network's activations by a factor of about 6
    a layer."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            if activation in ("sigmoid", "tanh", "identity"):
                nn.init.xavier_normal_(layer.weight)
            else:
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)


class LinearRegression(nn.Linear):
    r"""Multiple linear regression: one neuron per output and no activation.

    .. math::
        \hat{y} = W \mathbf{x} + \mathbf{b}

    Shapes: x (..., in_features) -> ŷ (..., out_features). ``weight`` is (out_features, in_features), ``bias``
    (out_features,), as in ``torch.nn.Linear``; trained with mean squared error it converges to the ordinary
    least-squares solution.
    """

    def __init__(self, in_features: int, out_features: int = 1):
        if in_features < 1 or out_features < 1:
            raise ValueError(
                f"LinearRegression needs in_features, out_features >= 1, got {in_features}, {out_features}"
            )
        super().__init__(in_features, out_features)


@dataclass
class MLPConfig:
    """Hyper-parameters of :class:`MLP`."""

    hidden: list[int] = field(default_factory=lambda: [64, 64])  # sizes of the hidden layers; [] is a linear model
    activation: Activation = "relu"  # PReLU learns one slope per layer
    dropout: float = 0.0  # probability of zeroing a hidden unit while training
    # pytorch: nn.Linear's default, uniform with variance 1/(3 fan-in); scaled: variance-preserving, He (Kaiming
    # normal, fan-in) for the ReLU family, Glorot (Xavier normal) for sigmoid and tanh, zero biases.
    init: Literal["pytorch", "scaled"] = "pytorch"

    def __post_init__(self) -> None:
        require(all(h >= 1 for h in self.hidden), f"hidden sizes must be >= 1, got {list(self.hidden)}")
        require(self.activation in ACTIVATIONS, f"activation must be one of {', '.join(ACTIVATIONS)}")
        require(0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}")


class MLP(nn.Module):
    r"""Multi-layer perceptron: fully connected layers with an activation between them.

    .. math::
        \mathbf{h}_0 = \mathbf{x}, \qquad
        \mathbf{h}_l = \operatorname{dropout}(f(W_l \mathbf{h}_{l-1} + \mathbf{b}_l)) \quad (l = 1 \dots L), \qquad
        \hat{\mathbf{y}} = W_{L+1} \mathbf{h}_L + \mathbf{b}_{L+1}

    The output layer has no activation: the task applies softmax or sigmoid inside its loss
    (``cross_entropy`` / ``binary_cross_entropy_with_logits``), which is numerically safer.

    Shapes: x (..., in_features) -> (..., out_features).

    Args:
        in_features: size of :math:`\mathbf{x}`.
        out_features: size of the output.
        config: the hidden sizes :math:`\mathbf{h}_1 \dots \mathbf{h}_L`, the activation :math:`f` and the dropout
            (:class:`MLPConfig`; its defaults when omitted).

    Example::

        >>> import torch
        >>> mlp = MLP(13, 1, MLPConfig(hidden=[32, 32], activation="tanh"))
        >>> mlp(torch.zeros(8, 13)).shape
        torch.Size([8, 1])
    """

    def __init__(self, in_features: int, out_features: int, config: MLPConfig | None = None):
        super().__init__()
        config = config or MLPConfig()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"MLP sizes must be >= 1, got in_features={in_features}, out_features={out_features}")
        self.config = config
        layers: list[nn.Module] = []
        width = in_features
        for size in config.hidden:
            layers += [nn.Linear(width, size), make_activation(config.activation)]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = size
        layers.append(nn.Linear(width, out_features))
        self.layers = nn.Sequential(*layers)
        if config.init == "scaled":
            scale_initialisation(self, config.activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
