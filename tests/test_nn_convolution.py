"""Convolution, transposed convolution and pooling from their formulas: equal to torch.nn.functional (float64,
outputs and every gradient, 1e-10) on both paths over a grid of shapes, strides, paddings, dilations and groups;
gradcheck; modules that share torch.nn's parameters both ways."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from devices import seeded
from nnzoo.nn import ConvNet, ConvNetConfig, LeNet5, UNet, UNetConfig
from nnzoo.nn.convolution import (
    AvgPool2d,
    Conv2d,
    ConvTranspose2d,
    MaxPool2d,
    conv2d,
    conv_transpose2d,
    pool2d,
)

PATHS = ("reference", "fast")


def _smallest(value: int | tuple[int, int]) -> int:
    return min(value) if isinstance(value, tuple) else value


# (in channels, out channels, groups), kernel, stride, padding, dilation
CONV_GRID = list(
    itertools.product([(3, 4, 1), (4, 6, 2), (3, 3, 3)], [1, 3, (2, 3)], [1, (2, 1)], [0, 1, (2, 0)], [1, 2])
)
# the same, with output_padding, which must be smaller than the stride or the dilation along each side
TRANSPOSED_GRID = [
    (*case, extra) for case in CONV_GRID for extra in (0, 1) if extra < max(_smallest(case[2]), _smallest(case[4]))
]


def grads(output: torch.Tensor, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The gradients of a fixed random projection of ``output`` (so every output element matters)."""
    projection = torch.randn(output.shape, dtype=output.dtype, generator=seeded(7))
    return torch.autograd.grad((output * projection).sum(), inputs)


def leaves(*shapes, seed: int) -> list[torch.Tensor]:
    generator = seeded(seed)
    return [torch.randn(*shape, dtype=torch.float64, generator=generator).requires_grad_() for shape in shapes]


def assert_equal_with_gradients(ours: torch.Tensor, theirs: torch.Tensor, inputs: list[torch.Tensor]) -> None:
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=1e-10, rtol=0)
    for mine, reference in zip(grads(ours, *inputs), grads(theirs, *inputs)):
        torch.testing.assert_close(mine, reference, atol=1e-10, rtol=0)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("channels", "kernel", "stride", "padding", "dilation"), CONV_GRID)
def test_conv2d_equals_torch(path, channels, kernel, stride, padding, dilation):
    c, o, groups = channels
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x, w, b = leaves((2, c, 9, 8), (o, c // groups, kh, kw), (o,), seed=hash((c, o, kh, kw)) % 1000)
    ours = conv2d(x, w, b, stride, padding, dilation, groups, path=path)
    assert_equal_with_gradients(ours, F.conv2d(x, w, b, stride, padding, dilation, groups), [x, w, b])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("channels", "kernel", "stride", "padding", "dilation", "output_padding"), TRANSPOSED_GRID)
def test_conv_transpose2d_equals_torch(path, channels, kernel, stride, padding, dilation, output_padding):
    c, o, groups = channels
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x, w, b = leaves((2, c, 5, 4), (c, o // groups, kh, kw), (o,), seed=11)
    theirs = F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)
    ours = conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation, path=path)
    assert_equal_with_gradients(ours, theirs, [x, w, b])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(
    ("kernel", "stride", "padding"), [(2, None, 0), (3, 2, 1), (3, 1, 1), ((2, 3), (1, 2), (1, 1))]
)
def test_pooling_equals_torch(path, kind, kernel, stride, padding):
    (x,) = leaves((2, 3, 9, 8), seed=5)
    reference = F.max_pool2d if kind == "max" else F.avg_pool2d
    theirs = reference(x, kernel, stride, padding)
    assert_equal_with_gradients(pool2d(x, kind, kernel, stride, padding, path=path), theirs, [x])


@pytest.mark.parametrize("path", PATHS)
def test_gradcheck(path):
    x, w, b = leaves((1, 4, 5, 5), (4, 2, 3, 2), (4,), seed=3)
    assert torch.autograd.gradcheck(lambda x, w, b: conv2d(x, w, b, 2, 1, (1, 2), 2, path=path), (x, w, b))
    wt = leaves((4, 3, 2, 3), seed=4)[0]
    assert torch.autograd.gradcheck(lambda x, w: conv_transpose2d(x, w, None, 2, 1, 1, 1, 1, path=path), (x, wt))
    assert torch.autograd.gradcheck(lambda x: pool2d(x, "avg", 3, 2, 1, path=path), (x,))
    assert torch.autograd.gradcheck(lambda x: pool2d(x, "max", 2, path=path), (x,))


def test_one_term_of_the_formula_by_hand():
    """y[o, i, j] = b[o] + Σ_c Σ_m Σ_n W[o, c, m, n] · x[c, s·i + d·m, s·j + d·n], for one output."""
    x, w, b = (t.detach() for t in leaves((1, 2, 7, 7), (3, 2, 2, 2), (3,), seed=9))
    stride, dilation, (o, i, j) = 2, 2, (1, 1, 2)
    by_hand = b[o] + sum(
        w[o, c, m, n] * x[0, c, stride * i + dilation * m, stride * j + dilation * n]
        for c in range(2)
        for m in range(2)
        for n in range(2)
    )
    for path in PATHS:
        assert torch.isclose(conv2d(x, w, b, stride, 0, dilation, path=path)[0, o, i, j], by_hand, atol=1e-12)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (
            lambda: Conv2d(4, 6, 3, stride=2, padding=1, groups=2),
            lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2),
        ),
        (lambda: Conv2d(4, 6, (2, 3), bias=False), lambda: nn.Conv2d(4, 6, (2, 3), bias=False)),
        (lambda: ConvTranspose2d(4, 6, 2, stride=2), lambda: nn.ConvTranspose2d(4, 6, 2, stride=2)),
        (lambda: ConvTranspose2d(4, 2, 4, 2, 1, groups=2), lambda: nn.ConvTranspose2d(4, 2, 4, 2, 1, groups=2)),
    ],
)
def test_modules_share_torch_parameters_and_initialisation(ours, theirs):
    torch.manual_seed(0)
    mine = ours()
    torch.manual_seed(0)
    reference = theirs()
    assert {k: v.shape for k, v in mine.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}
    for key, value in reference.state_dict().items():
        assert torch.equal(mine.state_dict()[key], value), key  # the same values from the same random state
    x = torch.randn(2, 4, 8, 8)
    reference.load_state_dict(mine.state_dict())  # and the state dicts load both ways
    mine.load_state_dict(reference.state_dict())
    torch.testing.assert_close(mine(x), reference(x), atol=1e-5, rtol=1e-5)


def test_pooling_modules():
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(MaxPool2d(2)(x), nn.MaxPool2d(2)(x))
    torch.testing.assert_close(AvgPool2d(3, 2, 1)(x), nn.AvgPool2d(3, 2, 1)(x))


def test_bad_groups_are_a_clear_error():
    with pytest.raises(ValueError, match="must divide by groups"):
        Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="do not fit 2 group"):
        conv2d(torch.zeros(1, 3, 5, 5), torch.zeros(4, 1, 3, 3), groups=2)


def lenet5(conv):
    return LeNet5(10, conv=conv), (4, 1, 28, 28), F.cross_entropy


def cnn(conv):
    return (
        ConvNet((1, 16, 16), 10, ConvNetConfig(channels=[4, 8], hidden=16, conv=conv)),
        (4, 1, 16, 16),
        F.cross_entropy,
    )


def unet(conv):
    model = UNet(1, {"mask": 3}, UNetConfig(depth=2, base_channels=4, conv=conv))
    return model, (2, 1, 16, 16), lambda out, y: F.cross_entropy(out["mask"], y[:, None, None].expand(-1, 16, 16))


@pytest.mark.parametrize("build", [lenet5, cnn, unet])
def test_a_short_training_gives_the_same_weights_with_either_implementation(build):
    """The notes' CNNs train on the formula's layers exactly as on torch.nn's: same initial weights from the same
    seed, and (float64) the same weights after a few steps of SGD with momentum."""
    trained = {}
    for conv in ("torch", "nnzoo"):
        torch.manual_seed(0)
        model, shape, loss = build(conv)
        model = model.double()
        if conv == "nnzoo":
            assert any(isinstance(m, (Conv2d, ConvTranspose2d)) for m in model.modules())
            assert not any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in model.modules())
            for key, value in trained["torch"][0].items():
                assert torch.equal(model.state_dict()[key], value), key  # the same initial weights
        initial = {k: v.clone() for k, v in model.state_dict().items()}
        generator = seeded(1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        torch.manual_seed(2)  # the dropout masks
        for _ in range(4):
            x = torch.randn(*shape, dtype=torch.float64, generator=generator)
            y = torch.randint(0, 3, (shape[0],), generator=generator)
            optimizer.zero_grad()
            loss(model(x), y).backward()
            optimizer.step()
        trained[conv] = (initial, model.state_dict())
    initial, final = trained["torch"]
    assert sum(not torch.equal(final[key], initial[key]) for key in final) > len(final) / 2  # training moved them
    for key, value in final.items():
        torch.testing.assert_close(trained["nnzoo"][1][key], value, atol=1e-10, rtol=0, msg=key)


def test_the_convolution_figure_shows_the_maps_and_the_worked_value(tmp_path):
    from matplotlib.image import imread

    from nnzoo.viz.convolution import plot_convolution_step

    torch.manual_seed(0)
    weight, bias = torch.randn(6, 1, 5, 5), torch.randn(6)
    path = plot_convolution_step(torch.rand(1, 32, 32), weight, bias, tmp_path / "c1.png", kernel=2, position=(3, 4))
    pixels = imread(path)
    assert pixels.shape[:2] == (550, 1540)  # 14 × 5 inches at 110 dpi: seven panels over four
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 100  # heat maps, not a blank page
