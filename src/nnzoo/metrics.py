"""Metrics shared by the tasks. Each takes tensors or arrays of predictions and targets and returns a float."""

from __future__ import annotations

import torch
from torch import Tensor


def rmse(prediction: Tensor, target: Tensor) -> float:
    r"""Root mean squared error :math:`\sqrt{\tfrac1n \sum_i (\hat y_i - y_i)^2}`."""
    return float(torch.sqrt(torch.mean((prediction - target) ** 2)))


def mae(prediction: Tensor, target: Tensor) -> float:
    r"""Mean absolute error :math:`\tfrac1n \sum_i |\hat y_i - y_i|`."""
    return float(torch.mean(torch.abs(prediction - target)))


def r2(prediction: Tensor, target: Tensor) -> float:
    r"""Coefficient of determination :math:`1 - \sum_i (y_i - \hat y_i)^2 / \sum_i (y_i - \bar y)^2`.

    1 is a perfect fit, 0 is as good as predicting the mean of ``target``; it can be negative.
    """
    residual = torch.sum((target - prediction) ** 2)
    total = torch.sum((target - target.mean()) ** 2)
    return float(1 - residual / total) if total > 0 else float("nan")
