r"""Residual networks (He et al., "Deep Residual Learning for Image Recognition", 2016): layers learn a change to
their input instead of a new representation.

A residual block adds its input to what its layers compute,

.. math::
    y = \sigma\big(F(x) + S(x)\big), \qquad F(x) = \text{BN}(W_2 * \sigma(\text{BN}(W_1 * x)))

with :math:`\sigma` the ReLU, :math:`W_1, W_2` 3 × 3 convolutions and :math:`S` the shortcut: the identity
:math:`S(x) = x` where the shapes agree, else a 1 × 1 convolution with batch norm that matches the channels and the
stride (the paper's option B). If the best a block can do is nothing, it only has to drive :math:`F` to zero,
which is easier than learning the identity through two convolutions. A plain network of the same depth
(``shortcut=False``, :math:`y = \sigma(F(x))`) must learn that identity, and trains worse as it gets deeper: the
*degradation problem* that residual learning removes.

The network is the paper's for small images (its CIFAR-10 model, depth 6n + 2): a 3 × 3 stem convolution, three
stages of ``n`` blocks with 16, 32 and 64 channels (the second and third start with stride 2), global average
pooling and a linear layer. The parameter names follow torchvision's ``BasicBlock`` (``conv1``, ``bn1``,
``conv2``, ``bn2``, ``downsample``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo.errors import require
from nnzoo.nn.conv import ImageClassifier
from nnzoo.nn.convolution import Implementation, layer_types


class ResidualBlock(nn.Module):
    r"""One block: :math:`y = \sigma(F(x) + S(x))`, or :math:`\sigma(F(x))` without the shortcut (see the module).

    Shapes: (B, C_in, H, W) -> (B, C_out, H / stride, W / stride).

    Example::

        >>> import torch
        >>> block = ResidualBlock(16, 32, stride=2)
        >>> block(torch.zeros(2, 16, 28, 28)).shape
        torch.Size([2, 32, 14, 14])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: bool = True,
        conv: Implementation = "torch",
    ):
        super().__init__()
        Conv2d = layer_types(conv)[0]
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = shortcut
        self.downsample = None
        if shortcut and (stride != 1 or in_channels != out_channels):
            self.downsample = nn.Sequential(
                Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def residual(self, x: Tensor) -> Tensor:
        """F(x): what the block's layers add to the shortcut."""
        return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))

    def forward(self, x: Tensor) -> Tensor:
        if not self.shortcut:
            return F.relu(self.residual(x))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(self.residual(x) + identity)


@dataclass
class ResNetConfig:
    """Hyper-parameters of :class:`ResNet`."""

    blocks_per_stage: int = 3  # n: depth 6n + 2 (3: ResNet-20; 9: ResNet-56)
    channels: list[int] = field(default_factory=lambda: [16, 32, 64])  # one stage each; stride 2 from the second
    shortcut: bool = True  # false: the plain network of the same depth, y = relu(F(x))
    zero_init_residual: bool = False  # start each block's last BN at γ = 0, so that each block starts as S(x)
    conv: Implementation = "torch"  # the convolutions: torch.nn's, or nnzoo's from the formula

    def __post_init__(self) -> None:
        require(self.blocks_per_stage >= 1, f"blocks_per_stage must be >= 1, got {self.blocks_per_stage}")
        require(
            len(self.channels) >= 1 and all(c >= 1 for c in self.channels),
            f"channels must be one or more sizes >= 1, got {list(self.channels)}",
        )

    @property
    def depth(self) -> int:
        """Layers with weights: the stem, two convolutions per block, the classifier."""
        return 2 * self.blocks_per_stage * len(self.channels) + 2


class ResNet(ImageClassifier):
    """The residual network for small images (see the module): stem, stages of :class:`ResidualBlock`, global
    average pooling; ``head`` maps the last stage's channels to class logits.

    Shapes: (B, C, H, W) -> (B, num_classes); the features are (B, channels[-1]).

    Example::

        >>> import torch
        >>> model = ResNet((1, 28, 28), 10, ResNetConfig(blocks_per_stage=1))
        >>> model.config.depth, model(torch.zeros(2, 1, 28, 28)).shape
        (8, torch.Size([2, 10]))
    """

    def __init__(self, image_shape: Sequence[int], num_classes: int, config: ResNetConfig | None = None):
        config = config or ResNetConfig()
        Conv2d = layer_types(config.conv)[0]
        layers: list[nn.Module] = [
            Conv2d(image_shape[0], config.channels[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(config.channels[0]),
            nn.ReLU(inplace=True),
        ]
        in_channels = config.channels[0]
        for stage, out_channels in enumerate(config.channels):
            for i in range(config.blocks_per_stage):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(ResidualBlock(in_channels, out_channels, stride, config.shortcut, config.conv))
                in_channels = out_channels
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        super().__init__(nn.Sequential(*layers), in_channels, num_classes)
        self.config = config
        for module in self.modules():
            if isinstance(module, Conv2d):  # He initialisation, as the paper's
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if config.zero_init_residual:
            for module in self.modules():
                if isinstance(module, ResidualBlock):
                    nn.init.zeros_(module.bn2.weight)
