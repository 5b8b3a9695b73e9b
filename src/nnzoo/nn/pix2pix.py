r"""Image-to-image translation with a conditional GAN: pix2pix (Isola, Zhu, Zhou & Efros 2017).

A generator G maps an input image x (here: edges) to an output image; a discriminator D sees the input *and* an
output, real y or generated G(x), and gives the logit of "real" for each patch. The objective is

.. math::
    G^* = \arg\min_G \max_D \; \mathcal L_{cGAN}(G, D) + \lambda\, \mathcal L_{L1}(G), \qquad
    \mathcal L_{L1}(G) = \mathbb E_{x,y}\, \lVert y - G(x) \rVert_1

with :math:`\mathcal L_{cGAN} = \mathbb E_{x,y}[\log D(x, y)] + \mathbb E_x[\log(1 - D(x, G(x)))]` and λ = 100.
The L1 term alone is minimised by the per-pixel median of the outputs that fit the input; where the input leaves
the answer open (which grey, which stripes), that median is a blur. The adversarial term penalises outputs that
do not look real, patch by patch, and so pushes G towards one sharp answer instead of their mean.

* **Generator:** a U-Net (:class:`~nnzoo.nn.unet.UNet`: its skip connections carry the edges' positions straight
  to the output), with tanh at the output: images in [−1, 1], as in the paper.
* **Discriminator:** a *PatchGAN* (:class:`PatchDiscriminator`): a fully convolutional classifier whose every
  output judges one patch of the image pair, so D models high-frequency structure and leaves the low frequencies
  to the L1 term.
* **Training:** D's objective is halved, "which slows down the rate at which D learns relative to G"; G uses the
  non-saturating loss. Both step together (:func:`~nnzoo.nn.gan.adversarial_terms`).

``adversarial=False`` removes D: the same generator trained with the L1 loss alone, for the ablation.

The paper's generator also takes dropout at test time as its only noise; here G is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nnzoo.errors import require
from nnzoo.nn.gan import adversarial_terms, dcgan_init
from nnzoo.nn.unet import UNet, UNetConfig


class PatchDiscriminator(nn.Module):
    r"""A PatchGAN: (input, output) image pairs (B, 2C, H, W) -> logits (B, 1, H / 2^L, W / 2^L) of "real", one per
    patch.

    ``layers`` (L) strided 4 × 4 convolutions (stride 2; LeakyReLU(0.2); batch norm on all but the first) and a
    3 × 3 convolution to one channel. Each logit sees a square patch of the input of side

    .. math::
        r = 1 + 3\,(2^L - 1) + 2 \cdot 2^L

    pixels (3 pixels of kernel overhang per strided layer, at that layer's input spacing, then 2 from the last
    3 × 3): 18 for L = 2, 38 for L = 3. :attr:`receptive_field` gives it.
    """

    def __init__(self, in_channels: int, width: int, layers: int):
        super().__init__()
        blocks: list[nn.Module] = []
        channels = in_channels
        for layer in range(layers):
            out = width * 2**layer
            blocks.append(nn.Conv2d(channels, out, 4, stride=2, padding=1, bias=layer == 0))
            if layer:  # no batch norm on the input layer (DCGAN)
                blocks.append(nn.BatchNorm2d(out))
            blocks.append(nn.LeakyReLU(0.2, inplace=True))
            channels = out
        blocks.append(nn.Conv2d(channels, 1, 3, padding=1))
        self.layers = nn.Sequential(*blocks)
        self.receptive_field = 1 + 3 * (2**layers - 1) + 2 * 2**layers

    def forward(self, pair: Tensor) -> Tensor:
        return self.layers(pair)


@dataclass
class Pix2PixConfig:
    """Hyper-parameters of :class:`Pix2Pix`."""

    depth: int = 2  # the U-Net generator's poolings
    base_channels: int = 16  # the generator's channels at the top level (doubled at each level below)
    discriminator_width: int = 64  # channels of the discriminator's first layer (doubled at each layer below)
    discriminator_layers: int = 2  # strided convolutions of the PatchGAN: patches of 18 pixels for 2
    adversarial: bool = True  # false: no discriminator, the L1 loss alone (the ablation)
    l1_weight: float = 100.0  # λ, the L1 term's weight beside the adversarial term (the paper's 100)

    def __post_init__(self) -> None:
        require(self.depth >= 1 and self.base_channels >= 1, "depth and base_channels must be >= 1")
        require(self.discriminator_width >= 1, "discriminator_width must be >= 1")
        require(self.discriminator_layers >= 1, "discriminator_layers must be >= 1")
        require(self.l1_weight > 0, f"l1_weight must be > 0, got {self.l1_weight}")

    def generator_config(self) -> UNetConfig:
        return UNetConfig(depth=self.depth, base_channels=self.base_channels)


class Pix2Pix(nn.Module):
    """The generator and (unless ``adversarial=False``) the discriminator in one module, so that one checkpoint
    holds both. ``forward`` is the generator: x (B, C_in, H, W) in [−1, 1] -> (B, C_out, H, W) in [−1, 1];
    H and W divisible by 2^depth.

    Example::

        >>> model = Pix2Pix(1, 1, Pix2PixConfig(base_channels=4, discriminator_width=4)).eval()
        >>> model(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 1, 28, 28])
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, config: Pix2PixConfig | None = None):
        super().__init__()
        config = config or Pix2PixConfig()
        self.l1_weight = config.l1_weight
        self.generator = UNet(in_channels, {"image": out_channels}, config.generator_config())
        self.discriminator = None
        if config.adversarial:
            self.discriminator = PatchDiscriminator(
                in_channels + out_channels, config.discriminator_width, config.discriminator_layers
            )
            self.discriminator.apply(dcgan_init)

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(self.generator(x)["image"])

    def draw(self, x: Tensor) -> Tensor:
        """The generator between grey levels: x (B, C_in, H, W) in [0, 1] -> (B, C_out, H, W) in [0, 1]."""
        return (self(x * 2 - 1) + 1) / 2


def pix2pix_losses(model: Pix2Pix, x: Tensor, y: Tensor, real_target: float = 1.0) -> dict[str, Tensor]:
    r"""The training loss of one batch of pairs x -> y (both in [−1, 1]) and its parts.

    ``loss`` = ½ d_loss + g_loss + λ · l1, where d_loss and g_loss are :func:`~nnzoo.nn.gan.adversarial_terms` on
    the pairs (x, y) and (x, G(x)) stacked along the channels; without a discriminator, ``loss`` = l1. ``l1`` is
    the mean absolute error in the model's [−1, 1] units (twice that of images in [0, 1]).
    """
    fake = model(x)
    l1 = (fake - y).abs().mean()
    if model.discriminator is None:
        return {"loss": l1, "l1": l1.detach()}
    terms = adversarial_terms(model.discriminator, torch.cat([x, y], 1), torch.cat([x, fake], 1), real_target)
    loss = terms["d_loss"] / 2 + terms["g_loss"] + model.l1_weight * l1
    return {"loss": loss, "l1": l1.detach(), **{name: t.detach() for name, t in terms.items()}}
