"""Deterministic train/validation/test splits."""

from __future__ import annotations

import numpy as np


def split_indices(n: int, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Shuffle ``range(n)`` with ``seed`` and cut it into train/val/test index arrays (each sorted).

    The same ``(n, fractions, seed)`` always gives the same split, whatever the training seed.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            f"val_fraction and test_fraction must be in [0, 1) with a sum below 1, got {val_fraction}, {test_fraction}"
        )
    order = np.random.default_rng(seed).permutation(n)
    n_val, n_test = round(n * val_fraction), round(n * test_fraction)
    n_train = n - n_val - n_test
    if n_train < 1 or (val_fraction > 0 and n_val < 1) or (test_fraction > 0 and n_test < 1):
        raise ValueError(f"{n} rows are too few for a split with fractions val={val_fraction}, test={test_fraction}")
    return {
        "train": np.sort(order[:n_train]),
        "val": np.sort(order[n_train : n_train + n_val]),
        "test": np.sort(order[n_train + n_val :]),
    }


def hash_fraction(key: str, salt: str = "") -> float:
    """A number in [0, 1) fixed by ``key`` alone (SHA-1): the same on every machine and Python version."""
    import hashlib

    return int(hashlib.sha1(f"{salt}{key}".encode()).hexdigest()[:12], 16) / 16**12


def hash_split(keys: list[str], val_fraction: float, test_fraction: float) -> dict[str, list[str]]:
    """Assign each key to test, val or train by its hash: stable when keys are added or removed, and every
    occurrence of a key (e.g. all pronunciations of a word) lands in the same split."""
    split: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for key in keys:
        position = hash_fraction(key)
        name = "test" if position < test_fraction else "val" if position < test_fraction + val_fraction else "train"
        split[name].append(key)
    return split
