"""The judge of generated images: a trained ``classify-images`` model of the same data set, frozen.

Its last hidden layer gives the features of a Fréchet distance (the FID's idea, with our own classifier instead of
the Inception network, so the values compare only with each other) and its head gives each image a class. The
``gan`` and ``translate-images`` tasks score their outputs with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nnzoo.config import EvalConfig
from nnzoo.errors import UserError


@dataclass
class JudgedEval(EvalConfig):
    # A classify-images model of the same data set: a shipped model's name (nnzoo list --pretrained) or a run folder.
    classifier: str = "classify-images/cnn"


def load_judge(path: str, info: dict, device: torch.device, scored: str) -> nn.Module:
    """The classifier of ``path`` (a run folder or a shipped model), frozen, after checking that it was trained on
    ``info["dataset"]`` at ``info["image_shape"]``; ``scored`` names what it scores, for the error messages."""
    from nnzoo import pretrained
    from nnzoo.training.run import RunDir, load_trained

    if not RunDir(path).is_run() and path not in pretrained.names():
        raise UserError(
            f"{scored} is scored by a trained image classifier, and {path} is neither a run folder nor a shipped "
            "model; set eval.classifier to classify-images/cnn (it ships with nnzoo) or to a classify-images run"
        )
    opened = load_trained(path, device=device)
    trained_on = opened.task.info
    if opened.config.task != "classify-images" or trained_on.get("dataset") != info["dataset"]:
        raise UserError(
            f"{path} must be a classify-images run on {info['dataset']}, "
            f"it is a {opened.config.task} run on {trained_on.get('dataset', 'other data')}"
        )
    if trained_on["image_shape"] != info["image_shape"]:
        raise UserError(f"{path} classifies {trained_on['image_shape']} images, {scored} makes {info['image_shape']}")
    return opened.model.requires_grad_(False)


def judge(classifier: nn.Module, images: Tensor, device: torch.device) -> tuple[Tensor, Tensor]:
    """The classifier's features (its last hidden layer) and predicted classes of images in [0, 1], on the CPU."""
    features, predicted = [], []
    for chunk in images.split(500):
        hidden = classifier.features(chunk.to(device))
        features.append(hidden.float().cpu())
        predicted.append(classifier.head(hidden).argmax(-1).cpu())
    return torch.cat(features), torch.cat(predicted)
