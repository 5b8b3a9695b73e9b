"""Convolutional networks and the GAN's players: LeNet-5 against the paper, the equations, gradient checks."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from nnzoo.nn.conv import ConvNet, ConvNetConfig, LeNet5, SparseConv2d, Subsampling, image_mlp, lenet_c3_table
from nnzoo.nn.gan import GAN, DCGANConfig, adversarial_losses, slerp
from nnzoo.nn.mlp import MLPConfig

# LeCun et al. (1998), section II-B: each layer's output size and trainable parameters.
LENET_PAPER = {
    "C1": ((6, 28, 28), 156),
    "S2": ((6, 14, 14), 12),
    "C3": ((16, 10, 10), 1516),
    "S4": ((16, 5, 5), 32),
    "C5": ((120, 1, 1), 48120),
    "F6": ((84,), 10164),
}


def test_lenet5_layers_have_the_papers_shapes_and_parameter_counts():
    model = LeNet5()
    x = torch.randn(2, 1, 28, 28)
    shapes = {}
    for name, layer in model.body.named_children():
        x = layer(x)
        shapes[name] = tuple(x.shape[1:])
    for name, (shape, count) in LENET_PAPER.items():
        layer = getattr(model.body, name)
        assert shapes[name] == shape, name
        assert sum(p.numel() for p in layer.parameters()) == count, name
    assert sum(p.numel() for p in model.parameters()) == sum(c for _, c in LENET_PAPER.values()) + 84 * 10 + 10


def test_c3_connection_table_is_table_one_of_the_paper():
    table = lenet_c3_table()
    assert table[:6] == [(0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1)]
    assert [sorted(t) for t in table[12:15]] == [[0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5]]
    assert table[15] == tuple(range(6)) and sum(map(len, table)) == 60


def test_sparse_convolution_is_a_dense_one_with_the_missing_filters_zero():
    torch.manual_seed(0)
    conv = SparseConv2d(3, [(0,), (1, 2), (0, 1, 2)], 3).double()
    dense = conv.dense_weight()
    mask = torch.tensor([[1, 0, 0], [0, 1, 1], [1, 1, 1]], dtype=torch.bool)
    assert (dense[~mask] == 0).all() and (dense[mask] != 0).all()
    x = torch.randn(2, 3, 6, 6, dtype=torch.double, requires_grad=True)
    assert torch.allclose(conv(x), F.conv2d(x, dense, conv.bias))
    assert torch.autograd.gradcheck(lambda x: conv(x), (x,))
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        SparseConv2d(3, [(0, 3)], 3)


def test_subsampling_adds_the_window_then_scales_and_shifts_each_map():
    layer = Subsampling(2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([0.5, -1.0]))
        layer.bias.copy_(torch.tensor([1.0, 0.0]))
    x = torch.arange(32.0).view(1, 2, 4, 4)
    window_sums = x.unfold(2, 2, 2).unfold(3, 2, 2).sum((-1, -2))
    expected = window_sums * torch.tensor([0.5, -1.0]).view(1, 2, 1, 1) + torch.tensor([1.0, 0.0]).view(1, 2, 1, 1)
    assert torch.allclose(layer(x), expected)


def test_classifiers_give_logits_and_features():
    x = torch.rand(4, 1, 28, 28)
    for model, features in (
        (LeNet5(), 84),
        (ConvNet((1, 28, 28), 10, ConvNetConfig(hidden=32)), 32),
        (image_mlp((1, 28, 28), 10, MLPConfig(hidden=[16, 8], activation="elu", dropout=0.1)), 8),
    ):
        model.eval()
        assert model(x).shape == (4, 10) and model.features(x).shape == (4, features)
    assert ConvNet((1, 8, 8), 10, ConvNetConfig(channels=[4, 8], hidden=6))(torch.rand(3, 1, 8, 8)).shape == (3, 10)
    with pytest.raises(ValueError, match="cannot be halved 3 times"):
        ConvNet((1, 28, 28), 10, ConvNetConfig(channels=[4, 8, 16]))


def test_gan_players_shapes_and_output_range():
    gan = GAN(1, DCGANConfig(latent_dim=8, width=4)).eval()
    z = gan.noise(5, torch.Generator().manual_seed(0))
    images = gan(z)
    assert images.shape == (5, 1, 28, 28) and gan.discriminator(images).shape == (5,)
    # The images lie in [-1, 1] whatever the weights: with the last layer's bias at ±50, every pixel saturates at
    # that end of the range instead of leaving it (a generator without its final tanh would give pixels near ±50).
    last = [m for m in gan.generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)][-1]
    for end in (1, -1):
        with torch.no_grad():
            last.bias.fill_(50.0 * end)
            saturated = gan(z)
        assert torch.allclose(saturated, torch.full_like(saturated, end), atol=1e-3)


def test_one_backward_of_the_summed_losses_gives_each_player_only_its_own_gradient():
    torch.manual_seed(0)
    gan = GAN(1, DCGANConfig(latent_dim=8, width=4)).double()
    real, z = torch.rand(6, 1, 28, 28, dtype=torch.double) * 2 - 1, torch.randn(6, 8, dtype=torch.double)
    g_params, d_params = list(gan.generator.parameters()), list(gan.discriminator.parameters())

    # Reference, written the textbook way: D's loss on detached fakes; G's loss through D, keeping only G's gradient.
    torch.manual_seed(1)
    fake = gan.generator(z)
    d_loss = F.binary_cross_entropy_with_logits(gan.discriminator(real), torch.ones(6, dtype=torch.double))
    d_loss = d_loss + F.binary_cross_entropy_with_logits(gan.discriminator(fake.detach()), torch.zeros(6).double())
    g_loss = F.binary_cross_entropy_with_logits(gan.discriminator(fake), torch.ones(6, dtype=torch.double))
    expected_d = torch.autograd.grad(d_loss, d_params)
    expected_g = torch.autograd.grad(g_loss, g_params)

    torch.manual_seed(1)
    losses = adversarial_losses(gan, real, z)
    losses["loss"].backward()
    assert torch.allclose(losses["d_loss"], d_loss) and torch.allclose(losses["g_loss"], g_loss)
    for param, expected in zip(d_params, expected_d):
        assert torch.allclose(param.grad, expected)
    for param, expected in zip(g_params, expected_g):
        assert torch.allclose(param.grad, expected)


def test_slerp_runs_along_the_great_circle_between_its_ends():
    a, b = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([0.0, 3.0, 0.0])
    path = slerp(a, b, 5)
    assert torch.allclose(path[0], a) and torch.allclose(path[-1], b, atol=1e-6)
    assert torch.allclose(path.norm(dim=1), torch.full((5,), 3.0))
    assert torch.allclose(slerp(a, a, 3), a.expand(3, 3))
