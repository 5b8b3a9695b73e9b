"""Task ``gan``: a DCGAN learns to draw Fashion-MNIST clothes (or MNIST digits) from noise.

How good are the drawings? Two numbers, both from our own trained ``classify-images`` model (``eval.classifier``:
by default the Fashion-MNIST CNN that ships with nnzoo, or a run folder on the same data set) — not from the
Inception network of the published FID, so the values are comparable only with each other:

* ``frechet_distance``: the Fréchet distance between the classifier's features (its last hidden layer) of
  ``eval.samples`` generated images and as many real images of the split. Lower is better; the ``nnzoo eval``
  baseline "real images" (training images against the split) is the floor that sampling noise alone gives.
* the class histogram of the generated images by the classifier: ``class_entropy`` is its entropy over log K (1: every
  class equally often), ``classes_covered`` counts the classes drawn at least half as often as their fair share
  1/K. A collapsed generator, drawing a few kinds of clothes only, scores low on both.

Validation also records the same 64 latent points' images after every evaluation (``RUN_DIR/progress/``), from
which the figures show training progress as a sheet and an animation.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

from nnzoo import metrics
from nnzoo.config import ImageDataConfig
from nnzoo.data.images import ImageBatch, LabelledImages, class_names, image_splits, splits_info
from nnzoo.errors import ConfigError, UserError
from nnzoo.nn.gan import GAN, DCGANConfig, adversarial_losses, slerp
from nnzoo.registry import register_model, register_task
from nnzoo.tasks.base import Splits, Task
from nnzoo.tasks.image_judge import JudgedEval, judge, load_judge

PROGRESS_NOISE_SEED = 0  # the latent points whose images are recorded at every evaluation
SAMPLE_SEED = 1  # the latent points of the Fréchet distance and of the figures


@dataclass
class GANData(ImageDataConfig):
    dataset: Literal["fashion-mnist", "mnist"] = "fashion-mnist"


@dataclass
class GANEval(JudgedEval):
    samples: int = 2000  # generated (and real) images per Fréchet distance

    def __post_init__(self) -> None:
        if self.samples < 10:
            raise ConfigError(f"eval.samples must be >= 10 (a covariance needs many samples), got {self.samples}")


@register_model("gan", "dcgan", config=DCGANConfig)
def build_dcgan(cfg: DCGANConfig, info: dict) -> nn.Module:
    """DCGAN: transposed-convolution generator, strided-convolution discriminator, batch norm, non-saturating loss."""
    return GAN(info["image_shape"][0], cfg)


@register_task("gan")
class GANTask(Task):
    """Generate Fashion-MNIST (or MNIST) images with a GAN; scored by a Fréchet distance and a class histogram."""

    DataConfig = GANData
    EvalConfig = GANEval
    default_model = "dcgan"
    metric_names = ("frechet_distance", "class_entropy", "classes_covered")
    train_defaults: ClassVar[dict] = {
        "batch_size": 64,
        "epochs": 10,
        "optimizer": "adam",
        "lr": 2e-4,
        "beta1": 0.5,
        "monitor": "frechet_distance",
        "monitor_mode": "min",
    }

    # --- data ----------------------------------------------------------------------------------------------------
    def build_data(self) -> Splits:
        cfg = self.cfg.data
        splits = image_splits(cfg.dataset, cfg.val_fraction, cfg.test_fraction, cfg.max_train)
        self.info = {**splits_info(cfg.dataset, splits), "classes": list(class_names(cfg.dataset))}
        shape = self.info["image_shape"]
        if shape[1:] != [28, 28]:
            raise ConfigError(f"the DCGAN draws 28×28 images; {cfg.dataset} has {shape[1]}×{shape[2]}")
        self.classifier  # noqa: B018  (load the judge now: a missing one is an error before training, not after)
        return {name: LabelledImages(part) for name, part in splits.items()}

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: GAN, batch: ImageBatch) -> dict[str, Tensor]:
        real = batch.images * 2 - 1  # [0, 1] -> the generator's [-1, 1]
        z = torch.randn(len(real), model.latent_dim, device=real.device)
        return adversarial_losses(model, real, z, real_target=1 - self.cfg.train.label_smoothing)

    @functools.cached_property
    def classifier(self) -> nn.Module:
        """The judge: the trained ``classify-images`` model of ``eval.classifier``, frozen."""
        return load_judge(self.cfg.eval.classifier, self.info, self.device, "the GAN")

    def judge(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """The classifier's features and predicted classes of images in [0, 1]."""
        return judge(self.classifier, images, self.device)

    def generate(self, model: GAN, n: int, seed: int) -> Tensor:
        """n images in [0, 1] from the latent points drawn with ``seed``."""
        return self.draw(model, model.noise(n, torch.Generator().manual_seed(seed)))

    @staticmethod
    def draw(model: GAN, z: Tensor) -> Tensor:
        """The generator's images of latent points z, mapped from its [-1, 1] to [0, 1], on the CPU."""
        return torch.cat([(model(chunk).float().cpu() + 1) / 2 for chunk in z.split(500)])

    def scores(self, generated: Tensor, real: Tensor) -> dict[str, float]:
        fake_features, fake_classes = self.judge(generated)
        real_features, _ = self.judge(real)
        k = len(self.info["classes"])
        shares = torch.bincount(fake_classes, minlength=k).double() / len(fake_classes)
        present = shares[shares > 0]
        entropy = (present * present.reciprocal().log()).sum() / math.log(k)  # Σ p log(1/p): no -0.0
        return {
            "frechet_distance": metrics.frechet_distance(real_features, fake_features),
            "class_entropy": float(entropy),
            "classes_covered": float((shares >= 0.5 / k).sum()),
        }

    def evaluate(self, model: GAN, dataset: LabelledImages) -> dict[str, float]:
        n = min(self.cfg.eval.samples, len(dataset))
        return self.scores(self.generate(model, n, SAMPLE_SEED), dataset.images[:n])

    def validate(self, model: GAN, dataset: LabelledImages) -> dict[str, float]:
        scores = self.evaluate(model, dataset)
        if self.run_dir is not None:
            self.record_progress(model)
        return scores

    def record_progress(self, model: GAN) -> Path:
        """Save the images of the 64 progress latent points as ``progress/NNN.png`` (NNN: the evaluation's number)."""
        from PIL import Image

        from nnzoo.viz.saving import save_image

        folder = self.run_dir / "progress"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{len(list(folder.glob('*.png'))) + 1:03d}.png"
        return save_image(Image.fromarray(tile(self.generate(model, 64, PROGRESS_NOISE_SEED), columns=8)), path)

    def baselines(self, data: Splits, split: str) -> dict[str, dict[str, float]]:
        n = min(self.cfg.eval.samples, len(data[split]), len(data["train"]))
        floor = self.scores(data["train"].images[:n], data[split].images[:n])
        return {f"real images ({n} training images against the split: the floor)": floor}

    def figures(self, model: GAN, data: Splits, split: str, folder: Path) -> list[Path]:
        """Samples, interpolations between latent points, the class histogram, and progress (sheet and GIF)."""
        from nnzoo.viz.images import plot_class_histogram, plot_image_grid

        classes, title = self.info["classes"], f"DCGAN on {self.info['dataset']}"
        paths = [
            plot_image_grid(self.generate(model, 100, SAMPLE_SEED), folder / "samples.png", columns=10, title=title)
        ]
        ends = model.noise(16, torch.Generator().manual_seed(SAMPLE_SEED + 1))
        walks = torch.cat([slerp(ends[2 * i], ends[2 * i + 1], 10) for i in range(8)])
        interpolated = self.draw(model, walks)
        paths.append(
            plot_image_grid(
                interpolated, folder / "interpolation.png", columns=10, title=f"{title}: z from left to right"
            )
        )
        n = min(self.cfg.eval.samples, len(data[split]))
        _, generated_classes = self.judge(self.generate(model, n, SAMPLE_SEED))
        _, real_classes = self.judge(data[split].images[:n])  # judged the same way, not the true labels
        paths.append(
            plot_class_histogram(
                {"generated": generated_classes, f"real ({split})": real_classes},
                classes,
                folder / "classes.png",
                title=f"{title}: classes of {n} images by the classifier",
            )
        )
        paths += self.progress_figures(folder)
        return paths

    def progress_figures(self, folder: Path) -> list[Path]:
        """``progress.png``: the first 10 progress images after each evaluation, a row per evaluation (at most 12,
        evenly spaced); ``progress.gif``: every evaluation's 64 images, one frame each."""
        from PIL import Image

        from nnzoo.viz.images import plot_image_grid
        from nnzoo.viz.saving import save_image

        recorded = sorted((self.run_dir / "progress").glob("*.png")) if self.run_dir else []
        if not recorded:
            return []
        frames = [Image.open(p).convert("L") for p in recorded]
        gif = folder / "progress.gif"
        save_image(frames[0], gif, save_all=True, append_images=frames[1:], duration=400, loop=0)
        rows = sorted({round(i) for i in np.linspace(0, len(recorded) - 1, min(12, len(recorded)))})
        side = self.info["image_shape"][1]
        images = [untile(np.asarray(frames[r]), side)[:10] for r in rows]
        sheet = plot_image_grid(
            torch.from_numpy(np.concatenate(images)).float() / 255,
            folder / "progress.png",
            columns=10,
            row_labels=[f"eval {r + 1}" for r in rows],
            title="the same 10 latent points after each evaluation",
        )
        return [sheet, gif]

    # --- prediction --------------------------------------------------------------------------------------------
    def predict(self, model: GAN, inputs: list, **options) -> list[Tensor]:
        """The image (C, H, W) in [0, 1] that the generator draws from each latent point (a vector of
        ``model.latent_dim`` numbers, e.g. a row of ``torch.randn(n, latent_dim)``)."""
        if options:
            raise UserError(f"gan's predict takes no options, got {', '.join(options)}")
        if not inputs:
            return []
        z = torch.stack([torch.as_tensor(point, dtype=torch.float32).flatten() for point in inputs])
        if z.shape[1] != model.latent_dim:
            raise UserError(f"latent points have {model.latent_dim} numbers; got {z.shape[1]}")
        return list(self.draw(model, z.to(self.device)))


GAP = 2  # pixels between tiles


def tile(images: Tensor, columns: int) -> np.ndarray:
    """Images (N, 1, H, W) in [0, 1] as one uint8 grey picture, ``columns`` per row, GAP black pixels apart."""
    n, _, height, width = images.shape
    rows = math.ceil(n / columns)
    canvas = np.zeros((rows * (height + GAP) - GAP, columns * (width + GAP) - GAP), np.uint8)
    pixels = (images[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    for i, image in enumerate(pixels):
        top, left = (i // columns) * (height + GAP), (i % columns) * (width + GAP)
        canvas[top : top + height, left : left + width] = image
    return canvas


def untile(canvas: np.ndarray, side: int) -> np.ndarray:
    """The inverse of :func:`tile` for square images of ``side`` pixels: (N, 1, side, side), row by row."""
    rows, columns = (canvas.shape[0] + GAP) // (side + GAP), (canvas.shape[1] + GAP) // (side + GAP)
    step = side + GAP
    return np.stack(
        [canvas[r * step : r * step + side, c * step : c * step + side] for r in range(rows) for c in range(columns)]
    )[:, None]
