r"""U-Net (Ronneberger, Fischer & Brox 2015): an encoder that contracts, a decoder that expands, and skip
connections that hand each decoder level the encoder's feature maps of the same size.

.. code-block:: text

    x ─ DoubleConv(b) ──────────────────────────────────────────── concat ─ DoubleConv(b) ─┬─ head "a" (1×1 conv)
          │ max pool 2×2                                              ▲ up-conv 2×2       └─ head "b" (1×1 conv)
          DoubleConv(2b) ─────────────────────────── concat ─ DoubleConv(2b)
                │ max pool                              ▲ up-conv
                …   bottleneck DoubleConv(2^depth · b)  ┘

DoubleConv is (3 × 3 convolution – batch norm – ReLU) twice. The paper's convolutions were unpadded, so its output
was smaller than its input; here they are padded, so every head's output has the input's height and width, which
requires both to be divisible by 2^depth. Each head is a 1 × 1 convolution of the last decoder level: any number of
per-pixel outputs share one decoder (the notes' multi-task U-Net). With ``skip=False`` the skip connections are
removed and the network is a plain convolutional autoencoder, for the ablation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nnzoo.errors import require
from nnzoo.nn.convolution import Implementation, layer_types


def double_conv(in_channels: int, out_channels: int, conv: Implementation = "torch") -> nn.Sequential:
    """(3 × 3 convolution, padded – batch norm – ReLU) × 2; the convolutions have no bias (batch norm's shift)."""
    Conv2d, _, _ = layer_types(conv)
    return nn.Sequential(
        Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


@dataclass
class UNetConfig:
    """Hyper-parameters of :class:`UNet`; the defaults are the paper's (four poolings, 64 channels at the top)."""

    depth: int = 4  # number of poolings (encoder levels below the first)
    base_channels: int = 64  # channels of the first level; each level below doubles them
    skip: bool = True  # concatenate the encoder's maps into the decoder (U-Net) or not (plain autoencoder)
    conv: Implementation = "torch"  # the convolution, pooling and up-sampling layers: torch.nn's, or nnzoo's

    def __post_init__(self) -> None:
        require(self.depth >= 1 and self.base_channels >= 1, "depth and base_channels must be >= 1")

    def check_fits(self, height: int, width: int) -> None:
        """A clear error, before training, if images of this size cannot pass ``depth`` 2 × 2 poolings exactly."""
        factor = 2**self.depth
        require(
            height % factor == 0 and width % factor == 0,
            f"a U-Net of depth {self.depth} needs a height and width divisible by {factor}, not {height}×{width}: "
            "lower the depth",
        )


class UNet(nn.Module):
    """x (B, in_channels, H, W) -> {head: (B, out_channels, H, W)}; H and W divisible by 2**depth.

    Args:
        in_channels: channels of the input.
        heads: name -> output channels of each per-pixel head, e.g. ``{"velocity": 1, "edges": 1}``.
        config: depth, width and skip connections (:class:`UNetConfig`; the paper's sizes when omitted).

    Example::

        >>> import torch
        >>> unet = UNet(1, {"velocity": 1, "edges": 1}, UNetConfig(depth=2, base_channels=8))
        >>> {name: tuple(y.shape) for name, y in unet(torch.zeros(2, 1, 32, 16)).items()}
        {'velocity': (2, 1, 32, 16), 'edges': (2, 1, 32, 16)}
    """

    def __init__(self, in_channels: int, heads: Mapping[str, int], config: UNetConfig | None = None):
        super().__init__()
        config = config or UNetConfig()
        depth, base_channels, skip, conv = config.depth, config.base_channels, config.skip, config.conv
        Conv2d, ConvTranspose2d, MaxPool2d = layer_types(conv)
        if in_channels < 1:
            raise ValueError(f"UNet needs in_channels >= 1, got {in_channels}")
        if not heads or any(n < 1 for n in heads.values()):
            raise ValueError(f"UNet needs at least one head with >= 1 output channel, got {dict(heads)}")
        self.in_channels, self.depth, self.skip = in_channels, depth, skip
        widths = [base_channels * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList([double_conv(in_channels, widths[0], conv)])
        self.down.extend(double_conv(widths[level - 1], widths[level], conv) for level in range(1, depth + 1))
        self.pool = MaxPool2d(2)
        self.up = nn.ModuleList(
            ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2) for level in range(depth)
        )
        merged = [2 * widths[level] if skip else widths[level] for level in range(depth)]
        self.merge = nn.ModuleList(double_conv(merged[level], widths[level], conv) for level in range(depth))
        self.heads = nn.ModuleDict({name: Conv2d(widths[0], channels, 1) for name, channels in heads.items()})

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        self.check_input(x)
        skips = []
        for level, block in enumerate(self.down):
            x = block(x if level == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()  # the bottleneck
        for level in reversed(range(self.depth)):
            x = self.up[level](x)
            if self.skip:
                x = torch.cat([skips[level], x], dim=1)
            x = self.merge[level](x)
        return {name: head(x) for name, head in self.heads.items()}

    def check_input(self, x: Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"UNet expects (batch, {self.in_channels}, height, width), got {tuple(x.shape)}")
        factor = 2**self.depth
        if x.shape[-2] % factor or x.shape[-1] % factor:
            raise ValueError(
                f"UNet of depth {self.depth} needs height and width divisible by {factor}, got "
                f"{x.shape[-2]}×{x.shape[-1]}; pad or crop the input, or lower the depth"
            )
