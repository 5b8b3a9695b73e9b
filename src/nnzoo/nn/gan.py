r"""A generative adversarial network (Goodfellow et al. 2014) in the DCGAN style (Radford, Metz & Chintala 2016).

The generator G maps noise :math:`z \sim \mathcal N(0, I)` to an image; the discriminator D maps an image to the
logit of "real". They play the minimax game

.. math::
    \min_G \max_D \; \mathbb E_{x}[\log \sigma(D(x))] + \mathbb E_{z}[\log(1 - \sigma(D(G(z))))]

D is trained as a binary classifier, real against generated. G uses the *non-saturating* loss
:math:`-\mathbb E_z[\log \sigma(D(G(z)))]`: the minimax loss :math:`\log(1 - \sigma(D(G(z))))` has almost no
gradient early on, when D rejects G's samples easily; this one has the same fixed point and a strong gradient
exactly then.

The DCGAN recipe, all used here: transposed convolutions (no pooling) in G and strided convolutions in D; batch
normalisation in both, except G's output and D's input layers; ReLU in G with tanh at the output (images in
[−1, 1]), LeakyReLU(0.2) in D; weights drawn from N(0, 0.02); Adam with lr 2e-4 and β₁ = 0.5 (the task's defaults).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo.errors import require


class Generator(nn.Module):
    r"""z (B, latent_dim) -> images (B, channels, 28, 28) in [−1, 1].

    A linear layer makes a 2w × 7 × 7 block of feature maps; two transposed convolutions (kernel 4, stride 2) double
    it to 14 × 14 and 28 × 28: a transposed convolution spreads each input pixel, weighted by the kernel, over a
    4 × 4 patch of an output twice as large (the gradient of a strided convolution, used forwards).
    """

    def __init__(self, latent_dim: int, width: int, channels: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.project = nn.Sequential(
            nn.Linear(latent_dim, 2 * width * 7 * 7, bias=False),
            nn.BatchNorm1d(2 * width * 7 * 7),
            nn.ReLU(inplace=True),
            nn.Unflatten(1, (2 * width, 7, 7)),
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),  # 7 -> 14
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1),  # 14 -> 28
            nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.upsample(self.project(z))


class Discriminator(nn.Module):
    """images (B, channels, 28, 28) -> logits (B,) of "real": two strided convolutions (28 -> 14 -> 7), then a
    linear layer."""

    def __init__(self, width: int, channels: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1),  # no batch norm on the input layer
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Flatten(),
            nn.Linear(2 * width * 7 * 7, 1),
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.layers(images).squeeze(1)


@dataclass
class DCGANConfig:
    """Hyper-parameters of :class:`GAN`."""

    latent_dim: int = 64  # size of the noise z
    width: int = 64  # feature maps of the generator's last and the discriminator's first layer (twice that inside)

    def __post_init__(self) -> None:
        require(self.latent_dim >= 1 and self.width >= 1, "latent_dim and width must be >= 1")


class GAN(nn.Module):
    """The two players in one module, so that one checkpoint holds both: images of ``channels`` × 28 × 28.

    Example::

        >>> gan = GAN(1, DCGANConfig(latent_dim=16, width=8)).eval()
        >>> gan(gan.noise(3)).shape
        torch.Size([3, 1, 28, 28])
    """

    def __init__(self, channels: int = 1, config: DCGANConfig | None = None):
        super().__init__()
        config = config or DCGANConfig()
        self.generator = Generator(config.latent_dim, config.width, channels)
        self.discriminator = Discriminator(config.width, channels)
        self.apply(dcgan_init)

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n latent points z ~ N(0, I) on the model's device (drawn on the CPU, so a seeded ``generator`` gives the
        same points on every device)."""
        z = torch.randn(n, self.latent_dim, generator=generator)
        return z.to(next(self.parameters()).device)

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)


def dcgan_init(module: nn.Module) -> None:
    """Weights from N(0, 0.02), batch-norm scales from N(1, 0.02), biases 0 (Radford et al. 2016)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def adversarial_losses(gan: GAN, real: Tensor, z: Tensor, real_target: float = 1.0) -> dict[str, Tensor]:
    r"""Both players' losses on one batch, arranged so that one backward pass and one optimiser step train both
    (:func:`adversarial_terms`): ``loss`` = d_loss + g_loss, whose gradient is each player's own gradient, so the
    step updates D and G simultaneously from the same position (simultaneous rather than alternating gradient
    descent). ``real_target`` below 1 is one-sided label smoothing (Salimans et al. 2016). Also returned: the two
    losses and D's mean belief that real (``d_real``) and generated (``d_fake``) images are real.
    """
    terms = adversarial_terms(gan.discriminator, real, gan.generator(z), real_target)
    return {"loss": terms["d_loss"] + terms["g_loss"], **{name: t.detach() for name, t in terms.items()}}


def adversarial_terms(
    discriminator: nn.Module, real: Tensor, fake: Tensor, real_target: float = 1.0
) -> dict[str, Tensor]:
    r"""The two players' losses, each moving only its own player, for one backward pass:

    * ``d_loss`` = BCE(D(real), real_target) + BCE(D(fake), 0) sees ``fake`` detached, so it moves only D;
    * ``g_loss`` = BCE(D(fake), 1), the non-saturating loss, sees D's parameters detached (a functional call with
      frozen copies), so it moves only the generator — its gradient still flows *through* D to ``fake``.

    ``d_real`` and ``d_fake`` (detached) are D's mean belief that the real and the fake inputs are real.
    """
    real_logits = discriminator(real)
    fake_logits = discriminator(fake.detach())
    d_loss = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target))
    d_loss = d_loss + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    frozen = {name: p.detach() for name, p in discriminator.named_parameters()}
    judged = torch.func.functional_call(discriminator, frozen, (fake,))
    g_loss = F.binary_cross_entropy_with_logits(judged, torch.ones_like(judged))
    return {
        "d_loss": d_loss,
        "g_loss": g_loss,
        "d_real": torch.sigmoid(real_logits).mean().detach(),
        "d_fake": torch.sigmoid(fake_logits).mean().detach(),
    }


def slerp(a: Tensor, b: Tensor, steps: int) -> Tensor:
    r"""``steps`` latent points from ``a`` to ``b`` (both (latent_dim,)) along the great circle (spherical
    interpolation, White 2016):

    .. math::
        z(t) = \frac{\sin((1 - t)\,\Omega)}{\sin \Omega} a + \frac{\sin(t\,\Omega)}{\sin \Omega} b,
        \qquad \cos \Omega = \frac{a \cdot b}{\lVert a \rVert \lVert b \rVert}

    Points of a high-dimensional Gaussian lie near a sphere; the straight line between two of them passes through
    the unlikely region near the origin, the great circle does not. Shape: (steps, latent_dim).
    """
    t = torch.linspace(0, 1, steps, device=a.device).unsqueeze(1)
    omega = torch.arccos((a @ b / (a.norm() * b.norm())).clamp(-1, 1))
    if omega.abs() < 1e-6:  # (nearly) the same direction: the straight line is the arc
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
