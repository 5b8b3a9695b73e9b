"""Captioned scenes: one or two real Fashion-MNIST garments on a real texture, described by a small grammar.

A scene is a ``size`` × ``size`` crop of one of scikit-image's texture photographs (as in :mod:`nnzoo.data.scenes`,
and from the same band of rows per split) with one garment or two pasted on it. Its caption follows from what was
pasted, so it is exact:

=======================  ===========================================================
one garment              ``a sneaker on grass``
two of the same class    ``two bags on brick``
two different classes    ``a sneaker to the left of a shirt on gravel`` (side by side)
                         ``a coat above a pair of trousers on grass`` (one above the other)
=======================  ===========================================================

Two garments stand either side by side or one above the other, far enough apart that the relation is never in
doubt: their centres are at least 28 pixels apart along one axis and at most 12 along the other. The caption names
the left (or upper) one first, so every scene has exactly one caption.

**Held-out compositions.** A fixed set of the 45 pairs of different classes (``novel_pairs``, chosen by a hash) is
never shown together in training; in the validation and test splits, half the scenes with two different garments
use one of them. A model that captions those right has composed what it learnt from other pairs.

A split's scenes use only that split's garment images and only that split's band of texture rows, so nothing seen
in training reappears in a test picture. Everything follows from one seed.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from nnzoo.data.images import FASHION_CLASSES, Images
from nnzoo.data.scenes import TEXTURE_ROWS, TEXTURES, object_shape, texture_crop, textures
from nnzoo.data.splits import hash_fraction

# Each Fashion-MNIST class as a noun phrase, singular and plural (in the order of FASHION_CLASSES).
NOUNS = (
    ("top", "tops"),
    ("pair of trousers", "pairs of trousers"),
    ("pullover", "pullovers"),
    ("dress", "dresses"),
    ("coat", "coats"),
    ("sandal", "sandals"),
    ("shirt", "shirts"),
    ("sneaker", "sneakers"),
    ("bag", "bags"),
    ("boot", "boots"),
)
RELATIONS = ("to the left of", "above")  # side by side (left one first), one above the other (upper one first)
OBJECT_SIZE = 28
NEAR = 12  # along the other axis than the relation's, two garments' corners are at most NEAR pixels apart
# How a scene's content is drawn: one garment, two of one class, two of different classes.
KINDS = {"one": 0.25, "same": 0.15, "different": 0.6}
assert len(NOUNS) == len(FASHION_CLASSES)


class Description(NamedTuple):
    """What a caption says: the garments' classes in the order named (one or two), how two different ones stand
    (a member of ``RELATIONS``; empty for one garment or two of a class), and the texture."""

    garments: tuple[int, ...]
    relation: str
    background: str

    def words(self) -> list[str]:
        """The caption, word by word."""
        if len(self.garments) == 1:
            phrase = f"a {NOUNS[self.garments[0]][0]}"
        elif self.garments[0] == self.garments[1]:
            phrase = f"two {NOUNS[self.garments[0]][1]}"
        else:
            first, second = (NOUNS[g][0] for g in self.garments)
            phrase = f"a {first} {self.relation} a {second}"
        return f"{phrase} on {self.background}".split()

    @property
    def pair(self) -> tuple[int, int] | None:
        """The two different classes, smaller first; None for one garment or two of a class."""
        return tuple(sorted(self.garments)) if len(set(self.garments)) == 2 else None  # type: ignore[return-value]


def every_description() -> list[Description]:
    """Every scene the grammar can describe (600: 30 of one garment, 30 of two alike, 540 of two different)."""
    classes = range(len(NOUNS))
    found = []
    for background in TEXTURES:
        found += [Description((g,), "", background) for g in classes]
        found += [Description((g, g), "", background) for g in classes]
        found += [
            Description((a, b), relation, background)
            for a, b in itertools.permutations(classes, 2)
            for relation in RELATIONS
        ]
    return found


CAPTIONS = {tuple(d.words()): d for d in every_description()}


def parse_caption(words: list[str]) -> Description | None:
    """What a caption says, or None if the grammar cannot produce it (a model's malformed output)."""
    return CAPTIONS.get(tuple(words))


def novel_pairs(count: int) -> list[tuple[int, int]]:
    """The ``count`` pairs of different classes held out of training: the first by a fixed hash of the pair."""
    pairs = list(itertools.combinations(range(len(NOUNS)), 2))
    return sorted(sorted(pairs, key=lambda p: hash_fraction(f"{p[0]}-{p[1]}", "caption-novel"))[:count])


class CaptionedScenes(NamedTuple):
    images: Tensor  # (N, 1, size, size) float32 in [0, 1]
    descriptions: list[Description]  # what each scene shows; Description.words() is its caption


def _positions(rng: np.random.Generator, size: int, relation: str) -> list[tuple[int, int]]:
    """The (row, column) of the top-left corners of two garments: the first left of (or above) the second."""
    free = size - 2 * OBJECT_SIZE  # room left over along the relation's axis
    along = [
        int(rng.integers(0, free // 2 + 1)),
        int(rng.integers(OBJECT_SIZE + (free + 1) // 2, size - OBJECT_SIZE + 1)),
    ]
    first = int(rng.integers(0, size - OBJECT_SIZE + 1))
    second = int(np.clip(first + rng.integers(-NEAR, NEAR + 1), 0, size - OBJECT_SIZE))
    across = [first, second]
    if relation == RELATIONS[0]:  # side by side: columns apart, rows close
        return list(zip(across, along))
    return list(zip(along, across))


def compose_captioned_scenes(
    objects: Images,
    count: int,
    split: str,
    *,
    size: int = 64,
    held_out: list[tuple[int, int]] = (),  # type: ignore[assignment]
    novel_share: float = 0.0,
    seed: int | tuple[int, ...] = 0,
) -> CaptionedScenes:
    """``count`` scenes of ``split`` (its band of texture rows) with garments from ``objects``.

    Scenes of two different classes never use a pair in ``held_out``, except a share ``novel_share`` of them, which
    use only those pairs (0 for training, 0.5 for validation and test)."""
    if split not in TEXTURE_ROWS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(TEXTURE_ROWS)}")
    if size < 2 * OBJECT_SIZE:
        raise ValueError(f"captioned scenes need at least {2 * OBJECT_SIZE} pixels to hold two garments, got {size}")
    if tuple(objects.images.shape[-2:]) != (OBJECT_SIZE, OBJECT_SIZE):
        raise ValueError(f"the garments must be {OBJECT_SIZE} × {OBJECT_SIZE}, got {tuple(objects.images.shape[-2:])}")
    held = {tuple(sorted(p)) for p in held_out}
    pairs = list(itertools.combinations(range(len(NOUNS)), 2))
    seen, novel = [p for p in pairs if p not in held], sorted(held)
    if novel_share > 0 and not novel:
        raise ValueError("novel_share > 0 needs held-out pairs")
    rng = np.random.default_rng(seed)
    pixels = objects.images[:, 0].numpy()
    by_class = [np.flatnonzero(objects.labels.numpy() == c) for c in range(len(NOUNS))]
    if any(len(indices) == 0 for indices in by_class):
        raise ValueError("the garments must include every class")
    pictures = textures()
    kinds, weights = list(KINDS), list(KINDS.values())
    images = np.empty((count, size, size), np.float32)
    descriptions = []
    for n in range(count):
        background, images[n] = texture_crop(rng, pictures, split, size)
        kind = kinds[rng.choice(len(kinds), p=weights)]
        relation = RELATIONS[rng.integers(len(RELATIONS))]
        if kind == "one":
            garments: tuple[int, ...] = (int(rng.integers(len(NOUNS))),)
            corners = [tuple(int(v) for v in rng.integers(0, size - OBJECT_SIZE + 1, size=2))]
        else:
            if kind == "same":
                garments = (int(rng.integers(len(NOUNS))),) * 2
            else:
                choices = novel if rng.random() < novel_share else seen
                pair = choices[rng.integers(len(choices))]
                garments = pair if rng.random() < 0.5 else pair[::-1]
            corners = _positions(rng, size, relation)
        for label, (y, x) in zip(garments, corners):
            index = by_class[label][rng.integers(len(by_class[label]))]
            shape = object_shape(pixels[index], fill_holes=True)
            window = (slice(y, y + OBJECT_SIZE), slice(x, x + OBJECT_SIZE))
            images[n][window][shape] = pixels[index][shape]
        descriptions.append(Description(garments, relation if kind == "different" else "", background))
    return CaptionedScenes(torch.from_numpy(images).unsqueeze(1), descriptions)
