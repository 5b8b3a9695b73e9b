"""Task ``classify-images``: what is in a small grey-scale image? Fashion-MNIST clothes, or hand-written digits.

Models: the multi-layer perceptron on the pixels (``mlp``), LeNet-5 as LeCun et al. built it in 1998 (``lenet5``),
and a small modern CNN with batch normalisation, max pooling and dropout (``cnn``). Metrics: accuracy (and the loss);
``nnzoo eval`` adds the per-class accuracy, the confusion matrix, the most confidently wrong images and the first
layer's filters as figures.

Splits: Fashion-MNIST's official 10,000 test images are the test split, untouched until ``nnzoo eval --split test``;
validation is ``data.val_fraction`` of its 60,000 training images (a fixed shuffle). The MNIST subset and the
scikit-learn digits have no official test set: val and test are cut from all images the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo.config import ImageDataConfig
from nnzoo.data.images import (
    ImageBatch,
    LabelledImages,
    class_names,
    digits,
    fashion_mnist,
    image_input,
    image_splits,
    mnist_subset,
    splits_info,
)
from nnzoo.errors import ConfigError, UserError
from nnzoo.nn.conv import ConvNet, ConvNetConfig, ImageClassifier, LeNet5, LeNet5Config, Standardize, image_mlp
from nnzoo.nn.mlp import MLPConfig
from nnzoo.nn.resnet import ResNet, ResNetConfig
from nnzoo.registry import register_model, register_task
from nnzoo.tasks.base import Classification, Published, Splits, Task


@dataclass
class ClassifyImagesData(ImageDataConfig):
    dataset: Literal["fashion-mnist", "mnist", "digits"] = "fashion-mnist"
    image_size: int = 0  # resize to N × N pixels (e.g. 28 for LeNet-5 on the 8 × 8 digits); 0: as stored
    augment: bool = False  # random shifts of up to 2 pixels (and left-right flips for clothes) while training

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.image_size < 0:
            raise ConfigError("data.image_size must be >= 0 (0: the stored size)")


def _standardized(model: ImageClassifier, info: dict) -> ImageClassifier:
    """Put the training set's pixel standardisation in front of the body."""
    model.body = nn.Sequential(Standardize(info["pixel_mean"], info["pixel_std"]), *model.body.children())
    return model


@register_model("classify-images", "mlp", config=MLPConfig, defaults={"hidden": [512, 256], "dropout": 0.2})
def build_mlp(cfg: MLPConfig, info: dict) -> nn.Module:
    """Multi-layer perceptron on the flattened pixels."""
    return _standardized(image_mlp(info["image_shape"], len(info["classes"]), cfg), info)


@register_model("classify-images", "lenet5", config=LeNet5Config)
def build_lenet5(cfg: LeNet5Config, info: dict) -> nn.Module:
    """LeNet-5 (LeCun et al. 1998): C1-S2-C3-S4-C5-F6 with scaled tanh, C3's sparse connections, 61,706 parameters."""
    shape = tuple(info["image_shape"])
    if shape != (1, 28, 28):
        raise ConfigError(
            f"lenet5 is built for 1×28×28 images, these are {'×'.join(map(str, shape))}; set data.image_size=28"
        )
    return _standardized(LeNet5(len(info["classes"]), conv=cfg.conv), info)


@register_model("classify-images", "cnn", config=ConvNetConfig)
def build_cnn(cfg: ConvNetConfig, info: dict) -> nn.Module:
    """Small modern CNN: stages of 3×3 conv–batchnorm–ReLU, max pooling and dropout, one hidden layer."""
    return _standardized(ConvNet(info["image_shape"], len(info["classes"]), cfg), info)


@register_model("classify-images", "resnet", config=ResNetConfig)
def build_resnet(cfg: ResNetConfig, info: dict) -> nn.Module:
    """Residual network (He et al. 2016), depth 6n + 2: y = relu(F(x) + x); model.shortcut=false: the plain net."""
    return _standardized(ResNet(info["image_shape"], len(info["classes"]), cfg), info)


@register_task("classify-images")
class ClassifyImages(Task):
    """Classify Fashion-MNIST clothes or hand-written digits (accuracy, confusion matrix)."""

    DataConfig = ClassifyImagesData
    default_model = "cnn"
    metric_names = ("loss", "accuracy")
    published = tuple(  # the data set's own benchmark table (README of the Debian package dataset-fashion-mnist)
        Published(system, {"accuracy": accuracy}, "Fashion-MNIST benchmark table", {"dataset": "fashion-mnist"})
        for system, accuracy in (
            ("MLP 256-128-100", 0.883),
            ("2 conv + pooling + batch norm", 0.934),
            ("ResNet-18", 0.949),
            ("human", 0.835),
        )
    )
    train_defaults: ClassVar[dict] = {
        "batch_size": 128,
        "epochs": 10,
        "lr": 2e-3,
        "optimizer": "adamw",
        "weight_decay": 5e-4,
        "schedule": "cosine",
        "warmup_steps": 100,
        "monitor": "accuracy",
        "monitor_mode": "max",
    }

    # --- data ----------------------------------------------------------------------------------------------------
    def build_data(self) -> Splits:
        cfg = self.cfg.data
        splits = image_splits(cfg.dataset, cfg.val_fraction, cfg.test_fraction, cfg.max_train, cfg.image_size)
        train = splits["train"].images
        self.info = {
            **splits_info(cfg.dataset, splits),
            "classes": list(class_names(cfg.dataset)),
            "pixel_mean": round(float(train.mean()), 6),
            "pixel_std": round(float(train.std()), 6),
        }
        flip = cfg.dataset == "fashion-mnist"  # a mirrored shirt is a shirt; a mirrored 2 is not a 2
        return {
            name: LabelledImages(part, augment=cfg.augment and name == "train", flip=flip)
            for name, part in splits.items()
        }

    @classmethod
    def prepare_data(cls) -> str:
        train, test = fashion_mnist("train"), fashion_mnist("test")
        return (
            f"Fashion-MNIST {len(train.labels):,} + {len(test.labels):,} images; "
            f"MNIST subset {len(mnist_subset().labels):,}; digits {len(digits().labels):,}"
        )

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: ImageBatch) -> Tensor:
        return F.cross_entropy(model(batch.images), batch.labels, label_smoothing=self.cfg.train.label_smoothing)

    def logits(self, model: nn.Module, dataset: LabelledImages) -> Tensor:
        return torch.cat([model(batch.images).float().cpu() for batch in self.batches(dataset, 500)])

    def evaluate(self, model: nn.Module, dataset: LabelledImages) -> dict[str, float]:
        logits = self.logits(model, dataset)
        return {
            "loss": float(F.cross_entropy(logits, dataset.labels)),
            "accuracy": float((logits.argmax(-1) == dataset.labels).double().mean()),
        }

    def figures(self, model: nn.Module, data: Splits, split: str, folder: Path) -> list[Path]:
        """The confusion matrix with per-class accuracy (also as ``per_class_{split}.txt``), the most confidently
        wrong images, and the first layer's filters."""
        from nnzoo.viz.images import confusion_matrix, plot_confusion_matrix, plot_filters, plot_image_grid

        dataset, classes = data[split], self.info["classes"]
        probabilities = torch.softmax(self.logits(model, dataset), -1)
        confidence, predicted = probabilities.max(-1)
        counts = confusion_matrix(predicted, dataset.labels, len(classes))
        per_class = counts.diag().double() / counts.sum(1).clamp(min=1)
        accuracy = float((predicted == dataset.labels).double().mean())
        name = f"{self.cfg.model.name} on {self.info['dataset']} {split}"
        paths = [plot_confusion_matrix(counts, classes, folder / f"confusion_{split}.png", f"{name}: {accuracy:.2%}")]
        lines = [f"{c:<12} {float(a):.4f}  ({int(n)} images)" for c, a, n in zip(classes, per_class, counts.sum(1))]
        per_class_path = folder / f"per_class_{split}.txt"
        per_class_path.write_text(f"accuracy per class, {name}\n" + "\n".join(lines) + "\n")
        paths.append(per_class_path)

        wrong = (predicted != dataset.labels).nonzero().flatten()
        worst = wrong[confidence[wrong].argsort(descending=True)][:24]
        if len(worst):
            titles = [
                f"{classes[predicted[i]]} {float(confidence[i]):.2f}\n(is {classes[dataset.labels[i]]})" for i in worst
            ]
            paths.append(
                plot_image_grid(
                    dataset.images[worst],
                    folder / f"mistakes_{split}.png",
                    columns=8,
                    titles=titles,
                    title=f"{name}: the most confident mistakes (predicted, probability; truth)",
                    cell_inches=1.2,
                )
            )
        weights = first_layer_weights(model, self.info["image_shape"])
        paths.append(plot_filters(weights, folder / "filters.png", f"{self.cfg.model.name}: first-layer filters"))
        return paths

    # --- prediction --------------------------------------------------------------------------------------------
    def predict(self, model: nn.Module, inputs: list, **options) -> list[Classification]:
        """The class of each image: a file path (any size or colour; see :func:`~nnzoo.data.images.load_image_file`)
        or an array (H, W) / (1, H, W) of grey levels in [0, 1] at the training size."""
        if options:
            raise UserError(f"classify-images' predict takes no options, got {', '.join(options)}")
        if not inputs:
            return []
        classes, (_, height, width) = self.info["classes"], self.info["image_shape"]
        images = torch.stack([image_input(image, (height, width)) for image in inputs]).to(self.device)
        probabilities = torch.softmax(model(images).float(), -1).cpu()
        return [
            Classification(classes[int(p.argmax())], {c: float(v) for c, v in zip(classes, p)}) for p in probabilities
        ]


def first_layer_weights(model: nn.Module, image_shape: list[int]) -> Tensor:
    """The first convolution's filters (K, C, h, w), or the first fully connected layer's weight rows as images."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.weight
        if isinstance(module, nn.Linear):
            return module.weight.view(-1, *image_shape)
    raise ValueError("the model has neither a convolution nor a linear layer")
