"""Task ``denoise``: a U-Net (a convolutional autoencoder with skip connections) removes noise from images.

Fashion-MNIST (or MNIST) images get Gaussian noise (σ = ``data.level``) or salt-and-pepper noise (a ``data.level``
share of the pixels set to black or white). The model sees the noisy image and is trained with the mean squared
error to give back the clean one. Training draws fresh noise for every batch; validation and test draw it once, from
a fixed seed, so their scores are reproducible. The skip-connection ablation is the same network with
``--set model.skip=false``: a plain encoder–decoder, whose decoder must rebuild the details from the bottleneck.

Metrics, per image and then averaged: PSNR = 10 log₁₀(1 / MSE) in dB (pixels in [0, 1]), and SSIM (Wang et al.
2004, scikit-image's ``structural_similarity``). Baselines in the same table: the noisy input itself, a 3 × 3
median filter and a Gaussian blur (σ = 1 pixel).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from nnzoo.config import ImageDataConfig
from nnzoo.data.images import add_noise, image_input, image_splits, splits_info
from nnzoo.errors import ConfigError, UserError
from nnzoo.metrics import mean_ssim
from nnzoo.nn.unet import UNet, UNetConfig
from nnzoo.optional import require
from nnzoo.registry import register_model, register_task
from nnzoo.tasks.base import Splits, Task

EVAL_NOISE_SEED = {"train": 0, "val": 1, "test": 2}


@dataclass
class DenoiseData(ImageDataConfig):
    dataset: Literal["fashion-mnist", "mnist"] = "fashion-mnist"
    noise: Literal["gaussian", "salt-and-pepper"] = "gaussian"
    level: float = 0.3  # σ of the Gaussian noise, or the share of salt-and-pepper pixels

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.level < 1:
            raise ConfigError(f"data.level must be in (0, 1), got {self.level}")


# Two poolings: 28 × 28 images allow two (28 -> 14 -> 7).
@register_model("denoise", "unet", config=UNetConfig, defaults={"depth": 2, "base_channels": 16})
def build_unet(cfg: UNetConfig, info: dict) -> nn.Module:
    """U-Net with one head, the clean image; model.skip=false gives the plain autoencoder."""
    cfg.check_fits(*info["image_shape"][1:])
    return UNet(info["image_shape"][0], {"image": info["image_shape"][0]}, cfg)


class NoisyBatch(NamedTuple):
    noisy: Tensor  # (B, 1, H, W)
    clean: Tensor


class NoisyImages(Dataset):
    """Clean images and their noisy copies: fresh noise for every training batch (from torch's global RNG, so a
    resumed run repeats it), or one fixed noisy copy (``fixed_seed``) for evaluation."""

    def __init__(self, images: Tensor, noise: str, level: float, fixed_seed: int | None = None):
        self.clean, self.kind, self.level = images, noise, level
        generator = None if fixed_seed is None else torch.Generator().manual_seed(fixed_seed)
        self.noisy = None if generator is None else add_noise(images, noise, level, generator)

    def __len__(self) -> int:
        return len(self.clean)

    def __getitems__(self, indices) -> NoisyBatch:
        index = torch.as_tensor(indices, dtype=torch.long)
        clean = self.clean[index]
        noisy = add_noise(clean, self.kind, self.level) if self.noisy is None else self.noisy[index]
        return NoisyBatch(noisy, clean)

    @staticmethod
    def collate(batch: NoisyBatch) -> NoisyBatch:
        return batch


@register_task("denoise")
class Denoise(Task):
    """Remove Gaussian or salt-and-pepper noise from Fashion-MNIST images with a U-Net (PSNR, SSIM)."""

    DataConfig = DenoiseData
    default_model = "unet"
    metric_names = ("loss", "psnr", "ssim")
    label_smoothing_applies = False
    train_defaults: ClassVar[dict] = {
        "batch_size": 64,
        "epochs": 5,
        "lr": 2e-3,
        "optimizer": "adamw",
        "weight_decay": 1e-4,
        "schedule": "cosine",
        "warmup_steps": 100,
        "monitor": "psnr",
        "monitor_mode": "max",
    }

    def build_data(self) -> Splits:
        cfg = self.cfg.data
        splits = image_splits(cfg.dataset, cfg.val_fraction, cfg.test_fraction, cfg.max_train)
        self.info = {**splits_info(cfg.dataset, splits), "noise": cfg.noise, "level": cfg.level}
        return {
            name: NoisyImages(part.images, cfg.noise, cfg.level, None if name == "train" else EVAL_NOISE_SEED[name])
            for name, part in splits.items()
        }

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: NoisyBatch) -> Tensor:
        return F.mse_loss(model(batch.noisy)["image"], batch.clean)

    def denoised(self, model: nn.Module, noisy: Tensor) -> Tensor:
        """The model's clean images (N, C, H, W) in [0, 1], on the CPU, for noisy images in [0, 1]."""
        return torch.cat([model(x.to(self.device))["image"].float().clamp(0, 1).cpu() for x in noisy.split(500)])

    def evaluate(self, model: nn.Module, dataset: NoisyImages) -> dict[str, float]:
        output = self.denoised(model, dataset.noisy)
        return {"loss": float(F.mse_loss(output, dataset.clean)), **image_quality(output, dataset.clean)}

    def baselines(self, data: Splits, split: str) -> dict[str, dict[str, float]]:
        ndimage = require("scipy.ndimage", "the denoise task's filter baselines")

        dataset = data[split]
        noisy = dataset.noisy.numpy()
        candidates = {
            "noisy input": dataset.noisy,
            "median filter 3×3": torch.from_numpy(ndimage.median_filter(noisy, size=(1, 1, 3, 3))),
            "Gaussian blur, σ = 1 pixel": torch.from_numpy(ndimage.gaussian_filter(noisy, sigma=(0, 0, 1, 1))),
        }
        return {
            name: {"loss": float(F.mse_loss(images, dataset.clean)), **image_quality(images, dataset.clean)}
            for name, images in candidates.items()
        }

    def figures(self, model: nn.Module, data: Splits, split: str, folder: Path) -> list[Path]:
        """``examples_{split}.png``: noisy, denoised and clean versions of 10 images of the split."""
        from nnzoo.viz.images import plot_image_grid

        noisy, clean = data[split].noisy[:10], data[split].clean[:10]
        rows = torch.cat([noisy, self.denoised(model, noisy), clean])
        title = f"{self.cfg.model.name} (skip={self.cfg.model.skip}), {self.info['noise']} noise {self.info['level']}"
        path = folder / f"examples_{split}.png"
        return [plot_image_grid(rows, path, columns=10, row_labels=["noisy", "denoised", "clean"], title=title)]

    # --- prediction --------------------------------------------------------------------------------------------
    def predict(self, model: nn.Module, inputs: list, **options) -> list[Tensor]:
        """The clean image (1, H, W) in [0, 1] of each noisy one: a file path or an array (H, W) / (1, H, W) in
        [0, 1] at the training size."""
        if options:
            raise UserError(f"denoise's predict takes no options, got {', '.join(options)}")
        if not inputs:
            return []
        _, height, width = self.info["image_shape"]
        return list(self.denoised(model, torch.stack([image_input(image, (height, width)) for image in inputs])))


def image_quality(images: Tensor, clean: Tensor) -> dict[str, float]:
    """Mean PSNR (dB, for pixels in [0, 1]; an exact copy counts as 100 dB) and mean SSIM over the images."""
    mse = (images - clean).double().square().flatten(1).mean(1)
    psnr = torch.where(mse > 0, 10 * torch.log10(1 / mse.clamp(min=1e-10)), torch.full_like(mse, 100.0))
    return {"psnr": float(psnr.mean()), "ssim": mean_ssim(images[:, 0], clean[:, 0], 1.0)}
