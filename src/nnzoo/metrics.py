"""Metrics shared by the tasks. Each takes tensors or arrays of predictions and targets and returns a float."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from nnzoo.optional import require


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


def edit_distance(hypothesis: Sequence, reference: Sequence) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions turning one into the other.

    Dynamic programming over one row: ``row[j]`` is the distance between the hypothesis read so far and the first
    j reference symbols.
    """
    row = list(range(len(reference) + 1))
    for i, symbol in enumerate(hypothesis, 1):
        diagonal, row[0] = row[0], i
        for j, other in enumerate(reference, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (symbol != other))
    return row[-1]


def error_rates(hypotheses: Sequence[Sequence], references: Sequence[Sequence[Sequence]]) -> dict[str, float]:
    """Symbol and sequence error rates against one or more references per item, as in the G2P literature.

    PER = Σ edit distance to the closest reference / Σ length of that reference (on a tie, the first one);
    WER = share of items whose hypothesis equals none of their references.
    """
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError(
            f"need as many hypotheses as reference lists (and at least one): {len(hypotheses)}, {len(references)}"
        )
    errors = symbols = wrong = 0
    for hypothesis, options in zip(hypotheses, references):
        distances = [edit_distance(hypothesis, ref) for ref in options]
        closest = distances.index(min(distances))  # on a tie, the first reference (the primary pronunciation)
        errors, symbols = errors + distances[closest], symbols + len(options[closest])
        distance = distances[closest]
        wrong += distance > 0
    return {"per": errors / max(symbols, 1), "wer": wrong / len(hypotheses)}


def seasonal_naive_scale(history, period: int) -> float:
    r"""MASE's denominator: the in-sample mean absolute error of the seasonal-naive forecast,
    :math:`\tfrac{1}{n-m} \sum_{t>m} |y_t - y_{t-m}|` (m = 1: the naive forecast). Hyndman & Koehler (2006)."""
    history = torch.tensor(history, dtype=torch.float64)  # a copy: pandas may hand over a read-only array
    if period < 1 or len(history) <= period:
        raise ValueError(f"need more than period={period} values to scale MASE, got {len(history)}")
    return float(torch.mean(torch.abs(history[period:] - history[:-period])))


def mase(prediction: Tensor, target: Tensor, scale: float) -> float:
    r"""Mean absolute scaled error :math:`\text{MAE} / s`, with ``scale`` s from :func:`seasonal_naive_scale`.

    Below 1: better than the one-step seasonal-naive forecast was on the training data."""
    return mae(prediction, target) / scale


def classification_scores(predicted: Tensor, labels: Tensor, num_classes: int) -> dict[str, float]:
    """Accuracy, and the F1 score of each class averaged over the classes (macro F1; a class never predicted nor
    present counts 0)."""
    f1s = []
    for c in range(num_classes):
        tp = float(((predicted == c) & (labels == c)).sum())
        wrong = float(((predicted == c) != (labels == c)).sum())  # false positives + false negatives
        f1s.append(2 * tp / (2 * tp + wrong) if tp + wrong else 0.0)
    return {"accuracy": float((predicted == labels).double().mean()), "f1": sum(f1s) / num_classes}


def segmentation_scores(counts: Tensor) -> dict[str, float]:
    r"""Scores of a segmentation from its pixel confusion matrix ``counts`` (true class × predicted class):
    pixel accuracy, and the means over classes of

    .. math::
        \text{IoU}_c = \frac{TP_c}{TP_c + FP_c + FN_c}, \qquad \text{Dice}_c = \frac{2\,TP_c}{2\,TP_c + FP_c + FN_c}

    A class that is neither in the truth nor in the prediction has no score and is left out of the means."""
    counts = counts.double()
    tp, fp, fn = counts.diag(), counts.sum(0) - counts.diag(), counts.sum(1) - counts.diag()
    present = tp + fp + fn > 0
    return {
        "pixel_accuracy": float(tp.sum() / counts.sum()),
        "mean_iou": float((tp / (tp + fp + fn))[present].mean()),
        "mean_dice": float((2 * tp / (2 * tp + fp + fn))[present].mean()),
    }


def mean_ssim(images: Tensor, references: Tensor, data_range: float) -> float:
    """Mean structural similarity (Wang et al. 2004; scikit-image's ``structural_similarity``) of images (N, H, W)
    against references of the same shape, with pixel values spanning ``data_range``."""
    structural_similarity = require("skimage.metrics", "the SSIM score").structural_similarity

    pairs = zip(images.double().cpu().numpy(), references.double().cpu().numpy())
    return float(sum(structural_similarity(a, b, data_range=data_range) for a, b in pairs) / len(images))


def iou_per_class(counts: Tensor) -> Tensor:
    """IoU of each class (NaN for a class neither true nor predicted) from a true × predicted confusion matrix."""
    counts = counts.double()
    tp = counts.diag()
    return tp / (counts.sum(0) + counts.sum(1) - tp)


def frechet_distance(features_a: Tensor, features_b: Tensor) -> float:
    r"""Fréchet distance between Gaussians fitted to two sets of feature vectors (N, F), the formula of FID
    (Heusel et al. 2017):

    .. math::
        d^2 = \lVert \mu_a - \mu_b \rVert^2 + \operatorname{Tr}\bigl(\Sigma_a + \Sigma_b
              - 2 (\Sigma_a^{1/2} \Sigma_b \Sigma_a^{1/2})^{1/2}\bigr)

    (:math:`\Sigma_a^{1/2} \Sigma_b \Sigma_a^{1/2}` is similar to :math:`\Sigma_a \Sigma_b`, so the trace is the
    usual :math:`\operatorname{Tr}(\Sigma_a \Sigma_b)^{1/2}`, computed from symmetric eigenvalues in float64.)
    It is biased upwards for small N: compare distances computed with the same N.
    """
    if features_a.dim() != 2 or features_a.shape[1] != features_b.shape[1] or min(len(features_a), len(features_b)) < 2:
        raise ValueError(
            f"need two (N >= 2, F) feature sets of equal F, got {tuple(features_a.shape)}, {tuple(features_b.shape)}"
        )
    a, b = features_a.detach().cpu().double(), features_b.detach().cpu().double()  # MPS has no float64
    cov_a, cov_b = torch.atleast_2d(torch.cov(a.T)), torch.atleast_2d(torch.cov(b.T))  # F = 1 gives a scalar
    values, vectors = torch.linalg.eigh(cov_a)
    root_a = vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T
    middle = root_a @ cov_b @ root_a
    cross = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    return float((a.mean(0) - b.mean(0)).square().sum() + cov_a.trace() + cov_b.trace() - 2 * cross)
