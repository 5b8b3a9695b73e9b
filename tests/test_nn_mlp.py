"""Perceptrons: equations, gradient checks, bad input."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from nnzoo.nn import ACTIVATIONS, MLP, LinearRegression, MLPConfig, make_activation


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_gradients_match_finite_differences(activation):
    torch.manual_seed(0)
    mlp = MLP(4, 2, MLPConfig(hidden=[5, 3], activation=activation)).double()
    x = torch.randn(6, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, *params: torch.func.functional_call(mlp, dict(zip(dict(mlp.named_parameters()), params)), (x,)),
        (x, *mlp.parameters()),
    )


def test_mlp_is_the_stated_equation():
    torch.manual_seed(0)
    mlp = MLP(3, 2, MLPConfig(hidden=[4], activation="elu"))
    first, _, last = mlp.layers
    x = torch.randn(5, 3)
    expected = F.linear(F.elu(F.linear(x, first.weight, first.bias)), last.weight, last.bias)
    assert torch.allclose(mlp(x), expected)


@pytest.mark.parametrize(
    ("name", "z", "expected"),
    [
        ("sigmoid", 0.0, 0.5),
        ("relu", -2.0, 0.0),
        ("leaky_relu", -2.0, -0.02),
        ("prelu", -2.0, -0.5),
        ("elu", -1.0, torch.exp(torch.tensor(-1.0)).item() - 1),
        ("tanh", 0.5, torch.tanh(torch.tensor(0.5)).item()),
        ("identity", -1.5, -1.5),
    ],
)
def test_activations_of_the_notes(name, z, expected):
    assert make_activation(name)(torch.tensor([z])).item() == pytest.approx(expected, rel=1e-6)


def test_prelu_slope_is_learned():
    mlp = MLP(2, 1, MLPConfig(hidden=[3], activation="prelu"))
    assert any(name.endswith("1.weight") and p.numel() == 1 for name, p in mlp.named_parameters())


def test_linear_regression_is_one_neuron_per_output():
    model = LinearRegression(13)
    assert model.weight.shape == (1, 13) and model.bias.shape == (1,)


def test_dropout_is_active_only_in_training():
    torch.manual_seed(0)
    mlp = MLP(8, 1, MLPConfig(hidden=[64], dropout=0.5))
    x = torch.randn(4, 8)
    mlp.eval()
    assert torch.equal(mlp(x), mlp(x))
    mlp.train()
    assert not torch.equal(mlp(x), mlp(x))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MLP(0, 1, MLPConfig(hidden=[3])), "MLP sizes must be >= 1"),
        (lambda: MLP(2, 1, MLPConfig(hidden=[0])), r"hidden sizes must be >= 1, got \[0\]"),
        (lambda: MLP(2, 1, MLPConfig(activation="swish")), "activation must be one of sigmoid, tanh, relu"),
        (lambda: MLP(2, 1, MLPConfig(dropout=1.0)), r"dropout must be in \[0, 1\)"),
        (lambda: make_activation("swish"), "unknown activation 'swish'"),
    ],
)
def test_bad_sizes_and_names(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_the_default_config_is_two_hidden_layers_of_64():
    assert [m.out_features for m in MLP(13, 1).layers if isinstance(m, torch.nn.Linear)] == [64, 64, 1]
