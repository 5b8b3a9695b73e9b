r"""Convolutional networks for image classification: LeNet-5 as LeCun et al. (1998) built it, and a small modern CNN.

A convolutional layer slides K learned filters over the image; output map k at position (i, j) is

.. math::
    y_{k,i,j} = b_k + \sum_{c} \sum_{u,v} W_{k,c,u,v} \, x_{c,\, i+u,\, j+v}

(:mod:`nnzoo.nn.convolution` writes it out; every model here takes ``conv="torch"`` for ``torch.nn``'s layers or
``conv="nnzoo"`` for those, with the same parameters). Pooling summarises each 2 × 2 window (its mean or
maximum), halving height and width, and fully connected layers map the last feature maps to class scores. Every
model here is an :class:`ImageClassifier`: a ``body`` that turns images (B, C, H, W) into feature vectors (B, F)
and a linear ``head`` to class logits (B, K); the features also serve the GAN's Fréchet distance.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo.errors import require
from nnzoo.nn.convolution import Implementation, conv2d, layer_types, pool2d
from nnzoo.nn.mlp import MLP, MLPConfig, make_activation, scale_initialisation


class ImageClassifier(nn.Module):
    """``head(body(x))``: images (B, C, H, W) -> logits (B, num_classes); :meth:`features` is ``body(x)``, (B, F)."""

    def __init__(self, body: nn.Module, feature_dim: int, num_classes: int):
        super().__init__()
        self.body = body
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


class Standardize(nn.Module):
    """``(x - mean) / std`` with the training set's pixel statistics, kept as buffers so that a checkpoint carries
    them: the model takes images in [0, 1], as the data sets and image files give them."""

    def __init__(self, mean: float = 0.0, std: float = 1.0):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


def image_mlp(image_shape: Sequence[int], num_classes: int, config: MLPConfig | None = None) -> ImageClassifier:
    """The multi-layer perceptron on the flattened pixels (the notes' fully connected network); the last hidden
    layer's activations are its features. Shapes: (B, C, H, W) -> (B, num_classes).

    Example::

        >>> model = image_mlp((1, 28, 28), 10, MLPConfig(hidden=[128]))
        >>> model.features(torch.zeros(4, 1, 28, 28)).shape
        torch.Size([4, 128])
    """
    config = config or MLPConfig()
    require(len(config.hidden) >= 1, "the image MLP needs at least one hidden layer (its features), got hidden = []")
    *inner, features = config.hidden
    body = nn.Sequential(
        nn.Flatten(),
        MLP(math.prod(image_shape), features, dataclasses.replace(config, hidden=inner)),
        make_activation(config.activation),
        nn.Dropout(config.dropout),
    )
    model = ImageClassifier(body, features, num_classes)
    if config.init == "scaled":
        scale_initialisation(model.head, config.activation)
    return model


# --- LeNet-5 -----------------------------------------------------------------------------------------------------
class ScaledTanh(nn.Module):
    r"""LeNet-5's squashing function :math:`f(a) = A \tanh(S a)` with A = 1.7159 and S = 2/3 (the paper's
    Appendix A): f(±1) = ±1, and the gain is largest around the targets."""

    def forward(self, x: Tensor) -> Tensor:
        return 1.7159 * torch.tanh(x * (2 / 3))


class Subsampling(nn.Module):
    r"""LeNet-5's sub-sampling layer (S2, S4): each unit adds the four inputs of its 2 × 2 window, multiplies the
    sum by a trainable coefficient and adds a trainable bias, one pair per feature map:

    .. math::
        y_{k,i,j} = w_k \sum_{u,v \in \{0,1\}} x_{k,\,2i+u,\,2j+v} + b_k

    Shapes: (B, K, H, W) -> (B, K, H/2, W/2). Parameters: 2K.
    """

    def __init__(self, channels: int, conv: Implementation = "torch"):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.conv = conv

    def forward(self, x: Tensor) -> Tensor:
        window_sum = 4 * (F.avg_pool2d(x, 2) if self.conv == "torch" else pool2d(x, "avg", 2))
        return window_sum * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def lenet_c3_table() -> list[tuple[int, ...]]:
    """Table I of the paper: which of S2's six maps feed each of C3's sixteen. Maps 0–5 read three neighbouring
    maps, 6–11 four neighbouring, 12–14 four non-neighbouring, 15 all six (60 connections): this breaks the
    symmetry between the maps and keeps the connections in bounds."""
    table = [tuple((i + d) % 6 for d in range(3)) for i in range(6)]
    table += [tuple((i + d) % 6 for d in range(4)) for i in range(6)]
    table += [tuple(sorted((i + d) % 6 for d in (0, 1, 3, 4))) for i in range(3)]
    return [*table, tuple(range(6))]


class SparseConv2d(nn.Module):
    """A convolution in which output map k sees only the input maps ``table[k]`` (LeNet-5's C3).

    Only the connected filters are parameters: ``weight`` holds them packed, (connections, kh, kw); the forward pass
    scatters them into a dense (out, in, kh, kw) filter bank whose other entries are zero, then convolves.
    """

    def __init__(
        self, in_channels: int, table: Sequence[Sequence[int]], kernel_size: int, conv: Implementation = "torch"
    ):
        super().__init__()
        self.convolve = F.conv2d if conv == "torch" else conv2d
        pairs = [(k, c) for k, inputs in enumerate(table) for c in inputs]
        if any(not 0 <= c < in_channels for _, c in pairs):
            raise ValueError(f"the connection table refers to input maps outside 0..{in_channels - 1}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, len(table), kernel_size
        self.register_buffer("slots", torch.tensor([k * in_channels + c for k, c in pairs]), persistent=False)
        # nn.Conv2d's default initialisation, with each output map's own fan-in: uniform in ±1/sqrt(fan-in).
        map_bound = torch.tensor([(len(inputs) * kernel_size**2) ** -0.5 for inputs in table])
        connection_bound = map_bound[[k for k, _ in pairs]].view(-1, 1, 1)
        self.weight = nn.Parameter((torch.rand(len(pairs), kernel_size, kernel_size) * 2 - 1) * connection_bound)
        self.bias = nn.Parameter((torch.rand(len(table)) * 2 - 1) * map_bound)

    def dense_weight(self) -> Tensor:
        k = self.kernel_size
        dense = self.weight.new_zeros(self.out_channels * self.in_channels, k, k).index_copy(0, self.slots, self.weight)
        return dense.view(self.out_channels, self.in_channels, k, k)

    def forward(self, x: Tensor) -> Tensor:
        return self.convolve(x, self.dense_weight(), self.bias)


@dataclass
class LeNet5Config:
    """Hyper-parameters of :class:`LeNet5`: the paper fixes its sizes; only the implementation of its layers is a
    choice."""

    conv: Implementation = "torch"  # C1, C3, C5 and the sub-sampling: torch.nn's, or nnzoo's from the formula


class LeNet5(ImageClassifier):
    r"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998, Fig. 2), for 1 × 28 × 28 images.

    As in the paper, the 28 × 28 image is centred in a 32 × 32 field (2 pixels of zero padding), and every layer's
    output passes through the squashing function :class:`ScaledTanh`:

    =====  ============================================  ==============  ==========
    layer  what it is                                    output          parameters
    =====  ============================================  ==============  ==========
    C1     6 convolutions 5 × 5                          6 × 28 × 28     156
    S2     sub-sampling 2 × 2                            6 × 14 × 14     12
    C3     16 convolutions 5 × 5, Table I's connections  16 × 10 × 10    1,516
    S4     sub-sampling 2 × 2                            16 × 5 × 5      32
    C5     120 convolutions 5 × 5 (fully connected)      120 × 1 × 1     48,120
    F6     fully connected                               84              10,164
    out    fully connected (``head``)                    10              850
    =====  ============================================  ==============  ==========

    One adaptation: the paper's output layer is ten Euclidean radial basis function units with fixed ±1 targets
    and its own loss; here it is a linear layer trained with softmax cross-entropy, today's standard.

    ``conv="nnzoo"`` builds C1, C3, C5 and the sub-sampling from :mod:`nnzoo.nn.convolution` (the formula) instead of
    ``torch.nn``; the parameters and their initial values are the same.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, conv: Implementation = "torch"):
        Conv2d, _, _ = layer_types(conv)
        body = nn.Sequential()
        body.add_module("pad", nn.ZeroPad2d(2))
        body.add_module("C1", Conv2d(in_channels, 6, 5))
        body.add_module("f1", ScaledTanh())
        body.add_module("S2", Subsampling(6, conv))
        body.add_module("f2", ScaledTanh())
        body.add_module("C3", SparseConv2d(6, lenet_c3_table(), 5, conv))
        body.add_module("f3", ScaledTanh())
        body.add_module("S4", Subsampling(16, conv))
        body.add_module("f4", ScaledTanh())
        body.add_module("C5", Conv2d(16, 120, 5))
        body.add_module("f5", ScaledTanh())
        body.add_module("flatten", nn.Flatten())
        body.add_module("F6", nn.Linear(120, 84))
        body.add_module("f6", ScaledTanh())
        super().__init__(body, 84, num_classes)


# --- a small modern CNN ------------------------------------------------------------------------------------------
def conv_bn_relu(in_channels: int, out_channels: int, conv: Implementation = "torch") -> nn.Sequential:
    r"""3 × 3 convolution (size kept by 1 pixel of padding), batch normalisation, ReLU. The convolution has no bias:
    batch normalisation's shift :math:`\beta` takes its place."""
    Conv2d, _, _ = layer_types(conv)
    return nn.Sequential(
        Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


@dataclass
class ConvNetConfig:
    """Hyper-parameters of :class:`ConvNet`."""

    channels: list[int] = field(default_factory=lambda: [32, 64])  # one stage (convolutions, then pooling) each
    convs_per_stage: int = 2
    hidden: int = 256  # the fully connected layer (the features)
    dropout: float = 0.25  # after each pooling; twice this after the fully connected layer
    conv: Implementation = "torch"  # the convolution and pooling layers: torch.nn's, or nnzoo's from the formula

    def __post_init__(self) -> None:
        require(
            len(self.channels) >= 1 and all(c >= 1 for c in self.channels),
            f"channels must be one or more sizes >= 1, got {list(self.channels)}",
        )
        require(self.convs_per_stage >= 1 and self.hidden >= 1, "convs_per_stage and hidden must be >= 1")
        require(
            0 <= self.dropout < 0.5,
            f"dropout must be in [0, 0.5) (twice it follows the hidden layer), got {self.dropout}",
        )


class ConvNet(ImageClassifier):
    r"""A small modern CNN (VGG-style): per stage, ``convs_per_stage`` × (3 × 3 convolution – batch norm – ReLU),
    then 2 × 2 max pooling and dropout; then a fully connected layer (with batch norm, ReLU, dropout) as features.

    .. math::
        \text{BN}(z) = \gamma \, \frac{z - \mu_{\text{batch}}}{\sqrt{\sigma^2_{\text{batch}} + \epsilon}} + \beta

    Shapes: (B, C, H, W) -> (B, num_classes); H and W must be divisible by 2^(number of stages).

    Example::

        >>> model = ConvNet((1, 28, 28), 10, ConvNetConfig(channels=[8, 16], hidden=32))
        >>> model(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self, image_shape: Sequence[int], num_classes: int, config: ConvNetConfig | None = None):
        config = config or ConvNetConfig()
        in_channels, height, width = image_shape
        if height % 2 ** len(config.channels) or width % 2 ** len(config.channels):
            raise ValueError(f"a {height}×{width} image cannot be halved {len(config.channels)} times (one per stage)")
        layers: list[nn.Module] = []
        for out_channels in config.channels:
            for i in range(config.convs_per_stage):
                layers.append(conv_bn_relu(in_channels if i == 0 else out_channels, out_channels, config.conv))
            layers += [layer_types(config.conv)[2](2), nn.Dropout(config.dropout)]
            in_channels = out_channels
        cells = (height // 2 ** len(config.channels)) * (width // 2 ** len(config.channels))
        layers += [
            nn.Flatten(),
            nn.Linear(config.channels[-1] * cells, config.hidden, bias=False),
            nn.BatchNorm1d(config.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(2 * config.dropout),
        ]
        super().__init__(nn.Sequential(*layers), config.hidden, num_classes)
