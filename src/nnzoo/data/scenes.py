"""Segmentation scenes with exact masks: real garments (or digits) pasted onto real textures.

Each scene is a ``size`` × ``size`` crop of one of scikit-image's bundled photographs of textures (``brick``,
``grass``, ``gravel``: files inside the installed package, nothing is downloaded), with its contrast and brightness
drawn at random, onto which 1 to ``max_objects`` Fashion-MNIST garments (or MNIST digits) are pasted at random
places; a later object hides an earlier one where they overlap.

A garment's shape is its pixels brighter than ``OBJECT_THRESHOLD`` with the holes filled (a bag's handle, dark
parts of a shoe); a digit's shape is its stroke, holes kept (the loop of a 6 is background). Inside the shape the
scene takes the object's pixels, outside it keeps the texture's, so the mask is exactly the set of pasted pixels.

Splits never share material: a split's scenes use only that split's objects and only that split's band of rows of
every texture (train: the top 60 %, val: the next 20 %, test: the last 20 %). Everything follows from one seed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from nnzoo.data.images import Images
from nnzoo.optional import require

TEXTURES = ("brick", "grass", "gravel")
TEXTURE_ROWS = {"train": (0.0, 0.6), "val": (0.6, 0.8), "test": (0.8, 1.0)}
OBJECT_THRESHOLD = 0.05


class Scenes(NamedTuple):
    images: Tensor  # (N, 1, size, size) float32 in [0, 1]
    masks: Tensor  # (N, size, size) int64: 0 for background, 1 + the object's label where an object is


def textures() -> dict[str, np.ndarray]:
    """The bundled texture photographs as float arrays in [0, 1] (512 × 512 grey scale)."""
    data = require("skimage.data", "the segment task's texture photographs")

    return {name: getattr(data, name)().astype(np.float32) / 255 for name in TEXTURES}


def texture_crop(
    rng: np.random.Generator, pictures: dict[str, np.ndarray], split: str, size: int
) -> tuple[str, np.ndarray]:
    """A background: a random texture's name, and a size × size crop from the split's band of its rows with its
    contrast and brightness drawn at random."""
    name = TEXTURES[rng.integers(len(TEXTURES))]
    texture = pictures[name]
    rows, columns = texture.shape
    first, last = TEXTURE_ROWS[split]
    top = rng.integers(int(first * rows), int(last * rows) - size + 1)
    left = rng.integers(0, columns - size + 1)
    crop = texture[top : top + size, left : left + size]
    contrast, brightness = rng.uniform(0.4, 1.0), rng.uniform(-0.2, 0.2)
    return name, np.clip((crop - crop.mean()) * contrast + crop.mean() + brightness, 0, 1)


def object_shape(image: np.ndarray, fill_holes: bool) -> np.ndarray:
    """The boolean shape of an object image (H, W): pixels above the threshold, holes filled or not."""
    ndimage = require("scipy.ndimage", "the segment task's object shapes")

    shape = image > OBJECT_THRESHOLD
    return ndimage.binary_fill_holes(shape) if fill_holes else shape


def compose_scenes(
    objects: Images,
    count: int,
    split: str,
    *,
    size: int = 64,
    max_objects: int = 3,
    fill_holes: bool = True,
    seed: int | tuple[int, ...] = 0,
) -> Scenes:
    """``count`` scenes of ``split`` (which band of the textures to crop), with objects drawn from ``objects``."""
    if split not in TEXTURE_ROWS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(TEXTURE_ROWS)}")
    object_size = objects.images.shape[-1]
    if size < object_size:
        raise ValueError(f"scenes of {size} pixels cannot hold {object_size}-pixel objects")
    if max_objects < 1:
        raise ValueError(f"max_objects must be >= 1, got {max_objects}")
    rng = np.random.default_rng(seed)
    pictures = textures()
    pixels = objects.images[:, 0].numpy()
    labels = objects.labels.numpy()
    images = np.empty((count, size, size), np.float32)
    masks = np.zeros((count, size, size), np.int64)
    for n in range(count):
        _, images[n] = texture_crop(rng, pictures, split, size)
        for index in rng.choice(len(labels), size=rng.integers(1, max_objects + 1), replace=False):
            y, x = rng.integers(0, size - object_size + 1, size=2)
            shape = object_shape(pixels[index], fill_holes)
            window = (slice(y, y + object_size), slice(x, x + object_size))
            images[n][window][shape] = pixels[index][shape]
            masks[n][window][shape] = labels[index] + 1
    return Scenes(torch.from_numpy(images).unsqueeze(1), torch.from_numpy(masks))
