r"""Convolution and pooling from their formulas: the operation the CNN chapter is about, written out.

The notes define the (discrete, cross-correlation) convolution of an image I with a kernel K as

.. math::
    (I * K)(i, j) = \sum_m \sum_n I(i + m,\ j + n)\, K(m, n).

With C input channels, O filters, stride s, dilation d, zero padding p and G groups (each group of O/G filters
reads only its C/G channels), output map o at position (i, j) is

.. math::
    y_{o,i,j} = b_o + \sum_{c \in \text{group}(o)} \sum_{m,n} W_{o,c,m,n}\, x^{\text{pad}}_{c,\ s i + d m,\ s j + d n}

and pooling replaces the weighted sum by the maximum or the mean over the window (m, n).
The transposed convolution (the U-Net's and the GAN's up-sampling) runs the same map backwards: each input
pixel spreads its value, weighted by the kernel, over a window of the output,
:math:`y_{o,\ s i + d m - p,\ s j + d n - p} \mathrel{+}= \sum_c x_{c,i,j} W_{c,o,m,n}`.

Each operation has two paths that give the same numbers (the tests show it against ``torch.nn.functional`` to
1e-10 in float64, outputs and gradients):

* ``path="reference"`` is the formula: one term per kernel offset (m, n), each a strided slice of the padded
  input times one column of the kernel, summed; autograd differentiates it.
* ``path="fast"`` (default) is how convolutions are usually computed: *im2col* (``F.unfold`` copies every window
  into a column) and one matrix product; the transposed convolution is the product followed by *col2im*
  (``F.fold``, which adds overlapping windows).

The modules :class:`Conv2d`, :class:`ConvTranspose2d`, :class:`MaxPool2d`, :class:`AvgPool2d` take
``torch.nn``'s arguments and have its parameter names and shapes, so a state dict loads both ways.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.modules.utils import _pair

Path = Literal["fast", "reference"]
IntPair = int | tuple[int, int]


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Positions a window of ``kernel`` taps ``dilation`` apart takes along ``size + 2·padding``, every ``stride``."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _windows(x: Tensor, kernel: tuple[int, int], stride, dilation, out_hw) -> list[tuple[int, int, Tensor]]:
    """For each kernel offset (m, n): the (B, C, H_out, W_out) slice x[:, :, s·i + d·m, s·j + d·n] of a padded x."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    return [
        (m, n, x[:, :, dh * m : dh * m + sh * (ho - 1) + 1 : sh, dw * n : dw * n + sw * (wo - 1) + 1 : sw])
        for m in range(kh)
        for n in range(kw)
    ]


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
    path: Path = "fast",
) -> Tensor:
    """The convolution of the module docstring. Shapes: x (B, C, H, W), weight (O, C/G, kh, kw), bias (O,) ->
    (B, O, H_out, W_out), as ``F.conv2d``."""
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    batch, channels, height, width = x.shape
    out_channels, group_channels, kh, kw = weight.shape
    if channels != group_channels * groups or out_channels % groups:
        raise ValueError(
            f"conv2d: {channels} input channels and weight {tuple(weight.shape)} do not fit {groups} group(s)"
        )
    ho = output_size(height, kh, stride[0], padding[0], dilation[0])
    wo = output_size(width, kw, stride[1], padding[1], dilation[1])
    x = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
    w = weight.view(groups, out_channels // groups, group_channels, kh, kw)  # W[g, o, c, m, n]
    if path == "reference":
        y = x.new_zeros(batch, groups, out_channels // groups, ho, wo)
        for m, n, window in _windows(x, (kh, kw), stride, dilation, (ho, wo)):
            # Σ_c W[o, c, m, n] · x[c, s·i + d·m, s·j + d·n], for every output map o and position (i, j) at once
            y = y + torch.einsum(
                "bgchw,goc->bgohw", window.reshape(batch, groups, group_channels, ho, wo), w[..., m, n]
            )
        y = y.reshape(batch, out_channels, ho, wo)
    else:
        columns = F.unfold(x, (kh, kw), dilation=dilation, stride=stride)  # (B, C·kh·kw, H_out·W_out)
        columns = columns.view(batch, groups, group_channels * kh * kw, ho * wo)
        y = torch.matmul(w.reshape(groups, out_channels // groups, -1), columns).view(batch, out_channels, ho, wo)
    return y if bias is None else y + bias.view(1, -1, 1, 1)


def conv_transpose2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    groups: int = 1,
    dilation: IntPair = 1,
    path: Path = "fast",
) -> Tensor:
    """The transposed convolution of the module docstring. Shapes: x (B, C, H, W), weight (C, O/G, kh, kw) ->
    (B, O, (H−1)s − 2p + d(kh−1) + output_padding + 1, …), as ``F.conv_transpose2d`` (same argument order)."""
    stride, padding, dilation, output_padding = _pair(stride), _pair(padding), _pair(dilation), _pair(output_padding)
    batch, channels, height, width = x.shape
    in_channels, group_out, kh, kw = weight.shape
    if channels != in_channels or channels % groups:
        raise ValueError(f"conv_transpose2d: {channels} input channels do not fit weight {tuple(weight.shape)}")
    out_channels = group_out * groups
    full = [(size - 1) * s + d * (k - 1) + 1 + op for size, s, d, k, op in
            zip((height, width), stride, dilation, (kh, kw), output_padding)]  # fmt: skip
    group_in = channels // groups
    w = weight.view(groups, group_in, group_out, kh, kw)  # W[g, c, o, m, n]
    xs = x.reshape(batch, groups, group_in, height, width)
    if path == "reference":
        y = x.new_zeros(batch, groups, group_out, *full)
        for m in range(kh):
            for n in range(kw):
                # pixel (i, j) sends Σ_c x[c, i, j] · W[c, o, m, n] to output (s·i + d·m, s·j + d·n)
                spread = torch.einsum("bgchw,gco->bgohw", xs, w[..., m, n])
                rows = slice(dilation[0] * m, dilation[0] * m + stride[0] * (height - 1) + 1, stride[0])
                cols = slice(dilation[1] * n, dilation[1] * n + stride[1] * (width - 1) + 1, stride[1])
                y[:, :, :, rows, cols] += spread  # in place on slices: autograd records each as a copy
        y = y.reshape(batch, out_channels, *full)
    else:
        columns = torch.matmul(  # (B, G, O/G·kh·kw, H·W): each pixel's contribution to its output window
            w.reshape(groups, group_in, group_out * kh * kw).transpose(1, 2), xs.reshape(batch, groups, group_in, -1)
        )
        columns = columns.reshape(batch, out_channels * kh * kw, height * width)
        covered = [size - op for size, op in zip(full, output_padding)]  # output_padding rows get no window
        y = F.fold(columns, covered, (kh, kw), dilation=dilation, stride=stride)  # adds the overlapping windows
        y = F.pad(y, (0, output_padding[1], 0, output_padding[0]))
    y = y[:, :, padding[0] : full[0] - padding[0], padding[1] : full[1] - padding[1]]
    return y if bias is None else y + bias.view(1, -1, 1, 1)


def pool2d(
    x: Tensor,
    kind: Literal["max", "avg"],
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    path: Path = "fast",
) -> Tensor:
    """The maximum or the mean of each window: y[c, i, j] = max / mean over (m, n) of x[c, s·i + m, s·j + n].
    Padding counts as −∞ for the maximum and as 0 for the mean (``count_include_pad=True``), as in PyTorch.
    Shapes: (B, C, H, W) -> (B, C, H_out, W_out); the stride defaults to the kernel size."""
    kernel = _pair(kernel_size)
    stride, padding = _pair(stride if stride is not None else kernel_size), _pair(padding)
    batch, channels, height, width = x.shape
    ho = output_size(height, kernel[0], stride[0], padding[0], 1)
    wo = output_size(width, kernel[1], stride[1], padding[1], 1)
    fill = -math.inf if kind == "max" else 0.0
    x = F.pad(x, (padding[1], padding[1], padding[0], padding[0]), value=fill)
    if path == "reference":
        windows = torch.stack([w for _, _, w in _windows(x, kernel, stride, (1, 1), (ho, wo))])  # (kh·kw, B, C, …)
    else:
        windows = F.unfold(x.reshape(batch * channels, 1, *x.shape[2:]), kernel, stride=stride)  # (B·C, kh·kw, L)
        windows = windows.transpose(0, 1).reshape(kernel[0] * kernel[1], batch, channels, ho, wo)
    return windows.max(0).values if kind == "max" else windows.mean(0)


class Conv2d(nn.Module):
    """A convolution layer: :func:`conv2d` with learned ``weight`` (O, C/G, kh, kw) and ``bias`` (O,), named,
    shaped and initialised as ``torch.nn.Conv2d`` (same values from the same random state)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
        path: Path = "fast",
    ):
        super().__init__()
        _check_groups(in_channels, out_channels, groups)
        self.in_channels, self.out_channels, self.groups, self.path = in_channels, out_channels, groups, path
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.dilation = _pair(padding), _pair(dilation)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_like_torch(self.weight, self.bias, fan_in=self.weight[0].numel())

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups, self.path)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, path={self.path!r}"
        )


class ConvTranspose2d(nn.Module):
    """A transposed convolution layer: :func:`conv_transpose2d` with ``weight`` (C, O/G, kh, kw) and ``bias``
    (O,), named, shaped and initialised as ``torch.nn.ConvTranspose2d``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        output_padding: IntPair = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: IntPair = 1,
        path: Path = "fast",
    ):
        super().__init__()
        _check_groups(in_channels, out_channels, groups)
        self.in_channels, self.out_channels, self.groups, self.path = in_channels, out_channels, groups, path
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        self.output_padding, self.dilation = _pair(output_padding), _pair(dilation)
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels // groups, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch computes the fan-in from dimension 1 of the weight, (O/G)·kh·kw, for the transposed layer too
        _reset_like_torch(self.weight, self.bias, fan_in=self.weight[0].numel())

    def forward(self, x: Tensor) -> Tensor:
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                self.groups, self.dilation, self.path)  # fmt: skip


class _Pool2d(nn.Module):
    """:func:`pool2d` of the subclass's ``kind`` as a module, with ``torch.nn``'s pooling arguments (no dilation)."""

    kind: ClassVar[Literal["max", "avg"]]

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0, path: Path = "fast"):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.path = kernel_size, stride, padding, path

    def forward(self, x: Tensor) -> Tensor:
        return pool2d(x, self.kind, self.kernel_size, self.stride, self.padding, self.path)


class MaxPool2d(_Pool2d):
    """The maximum of each window; ``torch.nn.MaxPool2d``'s arguments (no dilation)."""

    kind = "max"


class AvgPool2d(_Pool2d):
    """The mean of each window; ``torch.nn.AvgPool2d``'s arguments (padding counted)."""

    kind = "avg"


Implementation = Literal["torch", "nnzoo"]  # a CNN's convolution layers: torch.nn's, or these


def layer_types(implementation: Implementation) -> tuple[type[nn.Module], type[nn.Module], type[nn.Module]]:
    """The (Conv2d, ConvTranspose2d, MaxPool2d) classes a model builds its layers from: ``torch.nn``'s (oneDNN's
    kernels) or the ones here (the formula's). Both take the same arguments and hold the same parameters."""
    if implementation == "torch":
        return nn.Conv2d, nn.ConvTranspose2d, nn.MaxPool2d
    if implementation == "nnzoo":
        return Conv2d, ConvTranspose2d, MaxPool2d
    raise ValueError(f"conv must be 'torch' or 'nnzoo', got {implementation!r}")


def _check_groups(in_channels: int, out_channels: int, groups: int) -> None:
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise ValueError(
            f"in_channels ({in_channels}) and out_channels ({out_channels}) must divide by groups ({groups})"
        )


def _reset_like_torch(weight: Tensor, bias: Tensor | None, fan_in: int) -> None:
    """``torch.nn.Conv2d.reset_parameters``: weight uniform in ±sqrt(1/fan_in) (Kaiming with a = √5), then the
    bias uniform in ±1/sqrt(fan_in), drawn in that order."""
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        nn.init.uniform_(bias, -bound, bound)


__all__ = [
    "AvgPool2d",
    "Conv2d",
    "ConvTranspose2d",
    "Implementation",
    "MaxPool2d",
    "conv2d",
    "conv_transpose2d",
    "layer_types",
    "output_size",
    "pool2d",
]
