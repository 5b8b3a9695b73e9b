"""The residual network: the block's equation y = relu(F(x) + S(x)), torchvision's parameter names, the formula's
convolutions equal to torch's, gradients, its depth, and a short training on the digits."""

from __future__ import annotations

import json

import pytest
import torch
from torch.nn import functional as F

from conftest import train_run
from nnzoo.nn import ResidualBlock, ResNet, ResNetConfig


def test_a_block_adds_its_input_to_what_its_layers_compute():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 6, 6)
    block = ResidualBlock(8, 8).eval()
    assert torch.allclose(block(x), F.relu(block.residual(x) + x))
    plain = ResidualBlock(8, 8, shortcut=False).eval()
    plain.load_state_dict(block.state_dict())  # the same layers, without the shortcut
    assert torch.allclose(plain(x), F.relu(block.residual(x)))
    torch.nn.init.zeros_(block.bn2.weight)  # F(x) = BN's shift only, which starts at 0: the block passes x on
    assert torch.allclose(block(x), F.relu(x))


def test_a_block_that_changes_shape_projects_its_shortcut():
    block = ResidualBlock(8, 16, stride=2).eval()
    x = torch.randn(2, 8, 6, 6)
    assert block(x).shape == (2, 16, 3, 3)
    assert torch.allclose(block(x), F.relu(block.residual(x) + block.downsample(x)))
    assert ResidualBlock(8, 16, stride=2, shortcut=False).downsample is None


def test_parameter_names_are_torchvisions_basic_block():
    names = [name for name, _ in ResidualBlock(8, 16, stride=2).named_parameters()]
    assert names == [
        "conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias",
        "downsample.0.weight", "downsample.1.weight", "downsample.1.bias",
    ]  # fmt: skip


def test_the_formulas_convolutions_equal_torchs_outputs_and_gradients():
    torch.manual_seed(0)
    ours = ResNet((1, 12, 12), 5, ResNetConfig(blocks_per_stage=1, channels=[4, 8], conv="nnzoo")).double()
    theirs = ResNet((1, 12, 12), 5, ResNetConfig(blocks_per_stage=1, channels=[4, 8])).double()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(3, 1, 12, 12, dtype=torch.float64)
    for model in (ours, theirs):
        model(x).square().sum().backward()
    assert torch.allclose(ours(x), theirs(x), atol=1e-10)
    for (name, a), (_, b) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-10), name


def test_gradcheck_through_a_block_with_a_projection():
    torch.manual_seed(0)
    block = ResidualBlock(2, 3, stride=2).double().eval()  # eval: batch norm's running statistics, a fixed map
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,))


@pytest.mark.parametrize(("n", "depth"), [(1, 8), (3, 20), (9, 56)])
def test_depth_is_6n_plus_2_weight_layers_and_the_plain_net_differs_only_by_the_projections(n, depth):
    config = ResNetConfig(blocks_per_stage=n)
    model = ResNet((1, 28, 28), 10, config)
    layers = [m for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    projections = [m for name, m in model.named_modules() if name.endswith("downsample.0")]
    assert config.depth == depth == len(layers) - len(projections)
    plain = ResNet((1, 28, 28), 10, ResNetConfig(blocks_per_stage=n, shortcut=False))
    projection_size = sum(p.numel() for name, p in model.named_parameters() if "downsample" in name)
    total = sum(p.numel() for p in model.parameters())
    assert total - projection_size == sum(p.numel() for p in plain.parameters())


def test_a_small_resnet_learns_the_digits(tmp_path):
    run = train_run(
        tmp_path / "resnet", "classify-images", "resnet", "data.dataset=digits", "model.blocks_per_stage=1",
        "train.epochs=5", "train.warmup_steps=0",
    )  # fmt: skip
    assert main_eval(run) > 0.9


def main_eval(run) -> float:
    from nnzoo.cli import main

    assert main(["eval", str(run), "--split", "test", "--quiet"]) == 0
    return json.loads((run / "eval_test.json").read_text())["metrics"]["accuracy"]
