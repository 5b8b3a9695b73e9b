"""Task ``translate-images``: image-to-image translation, edges -> garment, with pix2pix (a U-Net generator and a
PatchGAN discriminator, L1 + adversarial loss) or the same U-Net with the L1 loss alone.

The pairs are exact and offline: each Fashion-MNIST (or MNIST) image and its Canny edge map (``data.edge_sigma``),
the 28 × 28 analogue of pix2pix's edges -> shoes. The edges fix the outline and the seams but not the shading, the
texture or the print, so many outputs fit one input; that is where the two losses differ. Metrics on a split, the
model's outputs against the true images:

* ``l1``: mean absolute error of the grey levels in [0, 1], and ``ssim`` (scikit-image): closeness to *the* truth;
* ``sharpness``: the outputs' mean squared gradient (finite differences between neighbouring pixels) over the true
  images'; 1 is as much fine detail as real garments have, a blurred output scores below 1;
* ``accuracy``: how often the judge (``eval.classifier``, a trained ``classify-images`` model, by default the CNN
  that ships with nnzoo; :mod:`nnzoo.tasks.image_judge`) gives the output the true image's class;
* ``frechet_distance``: between the judge's features of the outputs and of the true images (lower is better).

Baselines in the same table: the edge map itself as the output, and the mean training image for every input.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from nnzoo import metrics
from nnzoo.config import ImageDataConfig, RunConfig
from nnzoo.data.images import Images, canny_edges, image_input, image_splits, splits_info
from nnzoo.errors import ConfigError
from nnzoo.nn.pix2pix import Pix2Pix, Pix2PixConfig, pix2pix_losses
from nnzoo.registry import register_model, register_task
from nnzoo.tasks.base import Splits, Task
from nnzoo.tasks.image_judge import JudgedEval, judge, load_judge


@dataclass
class EdgesData(ImageDataConfig):
    dataset: Literal["fashion-mnist", "mnist"] = "fashion-mnist"
    edge_sigma: float = 1.0  # the Gaussian smoothing (pixels) of the Canny edge detector

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.edge_sigma <= 5:
            raise ConfigError(f"data.edge_sigma must be in (0, 5] pixels, got {self.edge_sigma}")


@register_model("translate-images", "pix2pix", config=Pix2PixConfig)
def build_pix2pix(cfg: Pix2PixConfig, info: dict) -> nn.Module:
    """U-Net generator + PatchGAN discriminator, L1 + adversarial loss; model.adversarial=false: the L1 loss alone."""
    cfg.generator_config().check_fits(*info["image_shape"][1:])
    return Pix2Pix(1, info["image_shape"][0], cfg)


class EdgeBatch(NamedTuple):
    edges: Tensor  # (B, 1, H, W), 1 on an edge
    images: Tensor  # (B, C, H, W) in [0, 1]
    labels: Tensor  # (B,)


class EdgePairs(Dataset):
    """The images of a split, their edge maps and their classes, batched by one indexing operation."""

    def __init__(self, data: Images, edge_sigma: float):
        self.images, self.labels, self.edge_sigma = data.images, data.labels, edge_sigma

    @functools.cached_property
    def edges(self) -> Tensor:
        """The Canny edge maps (N, 1, H, W), found when first asked for: evaluating the test split alone does not
        wait for the 54,000 training images' edges (about 30 s on one core)."""
        return canny_edges(self.images, self.edge_sigma)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitems__(self, indices) -> EdgeBatch:
        index = torch.as_tensor(indices, dtype=torch.long)
        return EdgeBatch(self.edges[index], self.images[index], self.labels[index])

    @staticmethod
    def collate(batch: EdgeBatch) -> EdgeBatch:
        return batch


@register_task("translate-images")
class TranslateImages(Task):
    """Draw a Fashion-MNIST garment from its edges (pix2pix; L1, SSIM, sharpness, a classifier's accuracy, FD)."""

    DataConfig = EdgesData
    EvalConfig = JudgedEval
    default_model = "pix2pix"
    metric_names = ("l1", "ssim", "sharpness", "accuracy", "frechet_distance")
    train_defaults: ClassVar[dict] = {
        "batch_size": 64,
        "epochs": 5,
        "optimizer": "adam",
        "lr": 1e-3,  # the paper's 2e-4 measured worse for these small nets (docs/translate-images.md)
        "beta1": 0.5,  # pix2pix's Adam
        "monitor": "frechet_distance",
        "monitor_mode": "min",
    }

    def __init__(self, cfg: RunConfig, device: torch.device | None = None):
        super().__init__(cfg, device)
        # the judge's features of each split's true images: every score of the split compares with them
        self._real_features: weakref.WeakKeyDictionary[EdgePairs, Tensor] = weakref.WeakKeyDictionary()

    # --- data ----------------------------------------------------------------------------------------------------
    def build_data(self) -> Splits:
        cfg = self.cfg.data
        splits = image_splits(cfg.dataset, cfg.val_fraction, cfg.test_fraction, cfg.max_train)
        self.info = {**splits_info(cfg.dataset, splits), "edge_sigma": cfg.edge_sigma}
        self.classifier  # noqa: B018  (load the judge now: a missing one is an error before training, not after)
        return {name: EdgePairs(part, cfg.edge_sigma) for name, part in splits.items()}

    @functools.cached_property
    def classifier(self) -> nn.Module:
        """The judge: the trained ``classify-images`` model of ``eval.classifier``, frozen."""
        return load_judge(self.cfg.eval.classifier, self.info, self.device, "image translation")

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: Pix2Pix, batch: EdgeBatch) -> dict[str, Tensor]:
        # the model works in [-1, 1], as the paper's; the data are in [0, 1]
        real_target = 1 - self.cfg.train.label_smoothing
        return pix2pix_losses(model, batch.edges * 2 - 1, batch.images * 2 - 1, real_target)

    def translated(self, model: Pix2Pix, edges: Tensor) -> Tensor:
        """The model's images (N, C, H, W) in [0, 1], on the CPU, of edge maps (N, 1, H, W) in [0, 1]."""
        return torch.cat([model.draw(x.to(self.device)).float().cpu() for x in edges.split(500)])

    def real_features(self, dataset: EdgePairs) -> Tensor:
        """The judge's features of the split's true images, computed once per split."""
        if dataset not in self._real_features:
            self._real_features[dataset] = judge(self.classifier, dataset.images, self.device)[0]
        return self._real_features[dataset]

    def scores(self, outputs: Tensor, dataset: EdgePairs) -> dict[str, float]:
        fake_features, fake_classes = judge(self.classifier, outputs, self.device)
        return {
            "l1": float((outputs - dataset.images).abs().mean()),
            "ssim": metrics.mean_ssim(outputs[:, 0], dataset.images[:, 0], 1.0),
            "sharpness": gradient_energy(outputs) / gradient_energy(dataset.images),
            "accuracy": float((fake_classes == dataset.labels).double().mean()),
            "frechet_distance": metrics.frechet_distance(self.real_features(dataset), fake_features),
        }

    def evaluate(self, model: Pix2Pix, dataset: EdgePairs) -> dict[str, float]:
        return self.scores(self.translated(model, dataset.edges), dataset)

    def baselines(self, data: Splits, split: str) -> dict[str, dict[str, float]]:
        dataset = data[split]
        mean_image = data["train"].images.mean(0, keepdim=True).expand_as(dataset.images)
        return {
            "the edge map itself": self.scores(dataset.edges, dataset),
            "the mean training image": self.scores(mean_image, dataset),
        }

    def figures(self, model: Pix2Pix, data: Splits, split: str, folder: Path) -> list[Path]:
        """``examples_{split}.png``: edges, output and true image of the split's first garment of each class."""
        from nnzoo.viz.images import plot_image_grid

        dataset = data[split]
        first = [int((dataset.labels == c).nonzero()[0]) for c in dataset.labels.unique()]
        edges, truth = dataset.edges[first], dataset.images[first]
        rows = torch.cat([edges, self.translated(model, edges), truth])
        adversarial = "L1 + adversarial" if model.discriminator is not None else "L1 only"
        title = f"{self.cfg.model.name} ({adversarial}), {self.info['dataset']} {split}: edges -> image"
        path = folder / f"examples_{split}.png"
        return [plot_image_grid(rows, path, columns=len(first), row_labels=["edges", "output", "true"], title=title)]

    # --- prediction --------------------------------------------------------------------------------------------
    def predict(self, model: Pix2Pix, inputs: list, from_images: bool = False) -> list[Tensor]:
        """The image (C, H, W) in [0, 1] drawn from each edge map: a file path, or an array (H, W) / (1, H, W) in
        [0, 1] at the training size, edges bright on black (a file with a light background, say black lines on
        white paper, is inverted). ``from_images=True``: the inputs are pictures of garments instead, whose
        Canny edges are taken first, as in training."""
        if not inputs:
            return []
        _, height, width = self.info["image_shape"]
        pictures = torch.stack([image_input(image, (height, width)) for image in inputs])
        edges = canny_edges(pictures, self.info["edge_sigma"]) if from_images else pictures
        return list(self.translated(model, edges))


def gradient_energy(images: Tensor) -> float:
    """The mean squared difference between horizontally and vertically neighbouring pixels of images (N, C, H, W)."""
    images = images.double()
    across = (images[..., :, 1:] - images[..., :, :-1]).square().mean()
    down = (images[..., 1:, :] - images[..., :-1, :]).square().mean()
    return float(across + down)
