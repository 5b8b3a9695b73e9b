"""The temporal convolutional network: the causal convolution equals PyTorch's, outputs see exactly their receptive
field, and the blocks pass gradcheck."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnzoo.nn.tcn import TCN, CausalConv1d, TemporalBlock, causal_conv1d, levels_for, receptive_field


@pytest.mark.parametrize(("kernel", "dilation", "length"), [(2, 1, 9), (3, 2, 9), (3, 4, 9), (2, 16, 9), (5, 1, 3)])
def test_the_causal_convolution_is_pytorchs_padded_convolution_cut_to_the_past(kernel, dilation, length):
    torch.manual_seed(0)
    torch_conv = nn.Conv1d(3, 4, kernel, dilation=dilation, padding=(kernel - 1) * dilation).double()
    ours = {path: CausalConv1d(3, 4, kernel, dilation, path=path).double() for path in ("fast", "reference")}
    for conv in ours.values():
        conv.load_state_dict(torch_conv.state_dict())  # the same names and shapes
    x = torch.randn(2, 3, length, dtype=torch.float64, requires_grad=True)
    expected = torch_conv(x)[:, :, :length]  # the padded convolution, its last (k - 1) d outputs dropped
    grad_out = torch.randn_like(expected)
    (expected_grad,) = torch.autograd.grad(expected, x, grad_out)
    for conv in ours.values():
        y = conv(x)
        (grad,) = torch.autograd.grad(y, x, grad_out)
        torch.testing.assert_close(y, expected, rtol=0, atol=1e-10)
        torch.testing.assert_close(grad, expected_grad, rtol=0, atol=1e-10)
    # y_t = b + sum_i W[:, :, k-1-i] x_{t - i d}, written out for one output
    w, b, t = torch_conv.weight, torch_conv.bias, length - 1
    taps = [i for i in range(kernel) if t - i * dilation >= 0]  # the others read the zeros before the start
    by_hand = b + sum(w[:, :, kernel - 1 - i] @ x[0, :, t - i * dilation] for i in taps)
    torch.testing.assert_close(causal_conv1d(x, w, b, dilation, path="reference")[0, :, t], by_hand, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("levels", "kernel"), [(1, 2), (3, 2), (3, 3), (4, 3)])
def test_an_output_sees_exactly_its_receptive_field_and_nothing_after_it(levels, kernel):
    torch.manual_seed(0)
    tcn = TCN(2, channels=16, levels=levels, kernel_size=kernel).double().eval()
    r = tcn.receptive_field
    assert r == 1 + 2 * (kernel - 1) * (2**levels - 1)
    length = r + 10
    x = torch.randn(32, length, 2, dtype=torch.float64, requires_grad=True)
    t = length - 4  # an output with 3 steps after it
    (grad,) = torch.autograd.grad(tcn(x)[:, t].sum(), x)
    reached = grad.abs().sum(dim=(0, 2)) > 0
    assert reached[t - r + 1 : t + 1].all()  # every step of the field matters (random weights, 32 sequences)
    assert not reached[: t - r + 1].any() and not reached[t + 1 :].any()  # nothing before it, nothing after


def test_a_block_adds_its_input_and_matches_widths_with_a_1x1_convolution():
    torch.manual_seed(0)
    same, wider = TemporalBlock(4, 4, 3, 2), TemporalBlock(3, 5, 3, 2)
    assert isinstance(same.shortcut, nn.Identity) and isinstance(wider.shortcut, nn.Conv1d)
    x = torch.randn(2, 4, 11)
    f = torch.relu(same.conv2(torch.relu(same.conv1(x))))
    torch.testing.assert_close(same(x), torch.relu(x + f))
    assert wider(torch.randn(2, 3, 11)).shape == (2, 5, 11)


def test_the_tcn_passes_gradcheck():
    torch.manual_seed(0)
    tcn = TCN(2, channels=3, levels=2, kernel_size=2).double()
    x = torch.randn(2, 7, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(tcn, (x,))


def test_the_fewest_levels_cover_a_length():
    assert [receptive_field(n, 3) for n in range(1, 6)] == [5, 13, 29, 61, 125]
    assert levels_for(125, 3) == 5 and levels_for(126, 3) == 6 and levels_for(1, 2) == 1
    with pytest.raises(ValueError, match="kernel_size >= 2"):
        TCN(2, 4, levels=2, kernel_size=1)
