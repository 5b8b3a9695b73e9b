"""Task ``segment``: a U-Net labels every pixel of a scene with the object it belongs to, or the background.

The scenes (``nnzoo.data.scenes``) are real Fashion-MNIST garments (or MNIST digits) pasted onto crops of real
texture photographs bundled with scikit-image, so the masks are exact. ``data.mode=semantic`` asks for the class of
each pixel (background + the 10 classes); ``binary`` only for object or background. The model is a U-Net with one
head of K channels, the class logits of every pixel, trained with the pixel-wise cross-entropy.

Metrics over all pixels of the split: pixel accuracy, mean IoU and mean Dice over the classes (per-class IoU in
``per_class_{split}.txt``). Baselines: everything background, and (binary mode) Otsu's threshold of each image.
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
from nnzoo.data.images import class_names, image_input, image_splits, read_grey
from nnzoo.data.scenes import TEXTURES, Scenes, compose_scenes, textures
from nnzoo.errors import ConfigError, UserError
from nnzoo.metrics import iou_per_class, segmentation_scores
from nnzoo.nn.unet import UNet, UNetConfig
from nnzoo.optional import require
from nnzoo.registry import register_model, register_task
from nnzoo.tasks.base import Splits, Task
from nnzoo.viz.images import confusion_matrix

SPLITS = ("train", "val", "test")


@dataclass
class SegmentData(ImageDataConfig):
    dataset: Literal["fashion-mnist", "mnist"] = "fashion-mnist"
    mode: Literal["semantic", "binary"] = "semantic"
    size: int = 64  # scenes are size × size pixels
    max_objects: int = 3  # objects per scene: 1 to max_objects
    train_scenes: int = 8000
    val_scenes: int = 1000
    test_scenes: int = 2000
    scene_seed: int = 0  # the scenes depend on this seed only, not on the training seed

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.size < 28:
            raise ConfigError(f"data.size must be >= 28 (the objects are 28 × 28), got {self.size}")
        if self.max_objects < 1:
            raise ConfigError(f"data.max_objects must be >= 1, got {self.max_objects}")
        if min(self.train_scenes, self.val_scenes, self.test_scenes) < 1:
            raise ConfigError("data.train_scenes, data.val_scenes and data.test_scenes must be >= 1")


# Three poolings: 64 -> 32 -> 16 -> 8.
@register_model("segment", "unet", config=UNetConfig, defaults={"depth": 3, "base_channels": 16})
def build_unet(cfg: UNetConfig, info: dict) -> nn.Module:
    """U-Net with one head: the logits of every class at every pixel."""
    cfg.check_fits(info["size"], info["size"])
    return UNet(1, {"classes": len(info["classes"])}, cfg)


class SceneBatch(NamedTuple):
    images: Tensor  # (B, 1, H, W)
    masks: Tensor  # (B, H, W) class indices


class SceneDataset(Dataset):
    """Scenes and their class maps, batched by one indexing operation."""

    def __init__(self, scenes: Scenes):
        self.images, self.masks = scenes

    def __len__(self) -> int:
        return len(self.images)

    def __getitems__(self, indices) -> SceneBatch:
        index = torch.as_tensor(indices, dtype=torch.long)
        return SceneBatch(self.images[index], self.masks[index])

    @staticmethod
    def collate(batch: SceneBatch) -> SceneBatch:
        return batch


@register_task("segment")
class Segment(Task):
    """Label each pixel of garments pasted on real textures with its class (IoU, Dice)."""

    DataConfig = SegmentData
    default_model = "unet"
    metric_names = ("loss", "pixel_accuracy", "mean_iou", "mean_dice")
    train_defaults: ClassVar[dict] = {
        "batch_size": 32,
        "epochs": 6,
        "lr": 2e-3,
        "optimizer": "adamw",
        "weight_decay": 1e-4,
        "schedule": "cosine",
        "warmup_steps": 100,
        "monitor": "mean_iou",
        "monitor_mode": "max",
    }

    def build_data(self) -> Splits:
        cfg = self.cfg.data
        objects = image_splits(cfg.dataset, cfg.val_fraction, cfg.test_fraction, cfg.max_train)
        data = {}
        for number, split in enumerate(SPLITS):
            scenes = compose_scenes(
                objects[split],
                getattr(cfg, f"{split}_scenes"),
                split,
                size=cfg.size,
                max_objects=cfg.max_objects,
                fill_holes=cfg.dataset == "fashion-mnist",
                seed=(cfg.scene_seed, number),
            )
            if cfg.mode == "binary":
                scenes = Scenes(scenes.images, scenes.masks.clamp(max=1))
            data[split] = SceneDataset(scenes)
        classes = ["object"] if cfg.mode == "binary" else list(class_names(cfg.dataset))
        self.info = {
            "dataset": cfg.dataset,
            "mode": cfg.mode,
            "size": cfg.size,
            "classes": ["background", *classes],
            "scenes": {split: len(data[split]) for split in SPLITS},
            "background_share": float((data["train"].masks == 0).double().mean()),
        }
        return data

    @classmethod
    def prepare_data(cls) -> str:
        pictures = textures()
        return "textures bundled with scikit-image: " + ", ".join(
            f"{name} {pictures[name].shape[0]}×{pictures[name].shape[1]}" for name in TEXTURES
        )

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: SceneBatch) -> Tensor:
        logits = model(batch.images)["classes"]
        return F.cross_entropy(logits, batch.masks, label_smoothing=self.cfg.train.label_smoothing)

    def predicted(self, model: nn.Module, images: Tensor) -> Tensor:
        """The class map (N, H, W) of images (N, 1, H, W), on the CPU."""
        return torch.cat([model(x.to(self.device))["classes"].argmax(1).cpu() for x in images.split(200)])

    def confusion(self, predicted: Tensor, masks: Tensor) -> Tensor:
        return confusion_matrix(predicted.flatten(), masks.flatten(), len(self.info["classes"]))

    def evaluate(self, model: nn.Module, dataset: SceneDataset) -> dict[str, float]:
        total, count, counts = 0.0, 0, 0
        for batch in self.batches(dataset, 200):
            logits = model(batch.images)["classes"].float()
            total += float(F.cross_entropy(logits, batch.masks, reduction="sum"))
            count += batch.masks.numel()
            counts = counts + self.confusion(logits.argmax(1).cpu(), batch.masks.cpu())
        return {"loss": total / count, **segmentation_scores(counts)}

    def baselines(self, data: Splits, split: str) -> dict[str, dict[str, float]]:
        masks = data[split].masks
        results = {"everything background": segmentation_scores(self.confusion(torch.zeros_like(masks), masks))}
        if self.info["mode"] == "binary":
            threshold_otsu = require("skimage.filters", "the segment task's Otsu baseline").threshold_otsu

            images = data[split].images[:, 0].numpy()
            otsu = torch.stack([torch.from_numpy(image > threshold_otsu(image)) for image in images]).long()
            results["Otsu threshold of each image"] = segmentation_scores(self.confusion(otsu, masks))
        return results

    def figures(self, model: nn.Module, data: Splits, split: str, folder: Path) -> list[Path]:
        """``overlays_{split}.png``: 8 scenes, their true and predicted masks; ``per_class_{split}.txt``: IoU of
        every class."""
        from nnzoo.viz.images import plot_segmentations

        dataset, classes = data[split], self.info["classes"]
        predicted = self.predicted(model, dataset.images)
        counts = self.confusion(predicted, dataset.masks)
        name = f"{self.cfg.model.name} (skip={self.cfg.model.skip}) on {split}"
        lines = [
            f"{c:<12} {float(iou):.4f}  ({int(n):,} true pixels)"
            for c, iou, n in zip(classes, iou_per_class(counts), counts.sum(1))
        ]
        per_class = folder / f"per_class_{split}.txt"
        per_class.parent.mkdir(parents=True, exist_ok=True)
        per_class.write_text(f"IoU per class, {name}\n" + "\n".join(lines) + "\n")
        overlays = plot_segmentations(
            dataset.images[:8],
            {"truth": dataset.masks[:8], "predicted": predicted[:8]},
            classes,
            folder / f"overlays_{split}.png",
            f"{name}: mean IoU {segmentation_scores(counts)['mean_iou']:.3f}",
        )
        return [overlays, per_class]

    # --- prediction --------------------------------------------------------------------------------------------
    def predict(self, model: nn.Module, inputs: list, **options) -> list[Tensor]:
        """The class map (H, W) of each image, indices into ``info["classes"]`` (0 is the background): a file path
        (read in grey levels and resized to the scenes' size, without the classifiers' inversion) or an array
        (H, W) / (1, H, W) in [0, 1] of the scenes' size."""
        if options:
            raise UserError(f"segment's predict takes no options, got {', '.join(options)}")
        if not inputs:
            return []
        size = self.info["size"]
        images = torch.stack([image_input(image, (size, size), load=read_grey) for image in inputs])
        return list(self.predicted(model, images))
