"""What a convolution layer computes: its feature maps of one image, and one output value worked out by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor

from nnzoo.nn.convolution import conv2d
from nnzoo.viz.saving import save_figure


def plot_convolution_step(
    image: Tensor, weight: Tensor, bias: Tensor, path: str | Path, kernel: int = 0, position: tuple[int, int] = (10, 12)
) -> Path:
    r"""Top: the (padded) input with one window marked, then every feature map :math:`y_k = b_k + W_k * x` of the
    layer. Bottom: for feature map ``kernel`` at ``position`` (i, j), the window, the kernel and their products,
    with the sum :math:`b + \sum_m \sum_n x(i+m, j+n) W(m, n)` written out next to the layer's own output.

    Args:
        image: (1, H, W), already as the layer sees it (padded, standardised).
        weight: (K, 1, kh, kw) and bias (K,): a layer with one input channel (LeNet-5's C1).
    """
    image, weight, bias = image.detach().double().cpu(), weight.detach().double().cpu(), bias.detach().double().cpu()
    maps = conv2d(image[None], weight, bias, path="reference")[0]  # (K, H_out, W_out)
    i, j = position
    kh, kw = weight.shape[-2:]
    window = image[0, i : i + kh, j : j + kw]
    kernel_weights = weight[kernel, 0]
    products = window * kernel_weights
    by_hand = float(bias[kernel] + products.sum())

    count = len(maps)
    fig = Figure(figsize=(2.0 * (count + 1), 5.0))
    grid = fig.add_gridspec(2, max(count + 1, 4), height_ratios=[1, 1.05])
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(image[0].numpy(), cmap="gray")
    ax.add_patch(Rectangle((j - 0.5, i - 0.5), kw, kh, fill=False, edgecolor="red", linewidth=1.5))
    ax.set_title("input x (padded)", fontsize=9)
    for k in range(count):
        ax = fig.add_subplot(grid[0, k + 1])
        ax.imshow(maps[k].numpy(), cmap="RdBu_r")
        if k == kernel:
            ax.plot([j], [i], marker="s", markersize=4, color="red")
        ax.set_title(f"feature map y{k}", fontsize=9)
    for ax in fig.axes:
        ax.set_xticks([])
        ax.set_yticks([])
    panels = [(window, "window x(i+m, j+n)"), (kernel_weights, f"kernel W{kernel}(m, n)"), (products, "products")]
    for column, (values, title) in enumerate(panels):
        ax = fig.add_subplot(grid[1, column])
        grid_values = values.numpy()
        ax.imshow(grid_values, cmap="RdBu_r" if column else "gray")
        middle = (grid_values.min() + grid_values.max()) / 2
        for (m, n), value in np.ndenumerate(grid_values):
            ink = "white" if column == 0 and value < middle else "black"  # readable on the dark pixels too
            ax.text(n, m, f"{value:.2f}", ha="center", va="center", fontsize=5.5, color=ink)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    ax = fig.add_subplot(grid[1, 3:])
    ax.axis("off")
    ax.text(
        0,
        0.5,
        f"$y_{{{kernel}}}({i}, {j}) = b_{{{kernel}}} + \\sum_m \\sum_n x({i}+m, {j}+n)\\, W_{{{kernel}}}(m, n)$\n\n"
        f"$= {float(bias[kernel]):.4f} + ({float(products.sum()):.4f}) = {by_hand:.4f}$\n\n"
        f"the layer's output at ({i}, {j}): {float(maps[kernel, i, j]):.4f}",
        fontsize=10,
        va="center",
    )
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
