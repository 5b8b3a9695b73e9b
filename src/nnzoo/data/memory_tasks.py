"""Synthetic sequence problems that need long-range memory (Hochreiter & Schmidhuber 1997).

* **Adding problem**: a sequence of T steps, each a pair (value, marker); the values are uniform on [0, 1], and
  the marker is 1 at exactly two steps, one in the first half and one in the second half, 0 elsewhere. The target
  is the sum of the two marked values. Predicting the constant 1 (the mean of the sum) gives a mean squared error
  of Var(U₁ + U₂) = 2/12 ≈ 0.167, the floor a model must beat to show it remembers anything.
* **Copy memory** (as in Arjovsky, Shah & Bengio 2016): 10 symbols drawn from 8, then ``delay`` blanks, the last
  one replaced by a delimiter, then 10 more blanks during which the model must repeat the 10 symbols in order.
  Only those 10 positions are scored; guessing gives an accuracy of 1/8.
"""

from __future__ import annotations

import torch
from torch import Tensor

ADDING_CONSTANT_MSE = 1 / 6  # Var(U1 + U2) for independent uniforms on [0, 1]


def adding_problem(batch: int, length: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Inputs (batch, length, 2) [value, marker] and targets (batch,), the sum of the two marked values."""
    if length < 2:
        raise ValueError(f"the adding problem needs length >= 2, got {length}")
    values = torch.rand(batch, length, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (batch,), generator=generator)
    second = torch.randint(half, length, (batch,), generator=generator)
    markers = torch.zeros(batch, length)
    rows = torch.arange(batch)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return torch.stack([values, markers], dim=-1), (values * markers).sum(1)


COPY_SYMBOLS, COPY_LENGTH = 8, 10
BLANK, DELIMITER = COPY_SYMBOLS, COPY_SYMBOLS + 1  # token ids 0-7 are symbols
COPY_TOKENS = COPY_SYMBOLS + 2
IGNORE = -100  # targets of the positions that are not scored (cross_entropy's ignore_index)


def copy_memory(batch: int, delay: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Token ids (batch, delay + 20) and targets of the same shape: IGNORE except the last 10 positions."""
    if delay < 1:
        raise ValueError(f"the copy-memory delay must be >= 1, got {delay}")
    symbols = torch.randint(0, COPY_SYMBOLS, (batch, COPY_LENGTH), generator=generator)
    tokens = torch.full((batch, delay + 2 * COPY_LENGTH), BLANK)
    tokens[:, :COPY_LENGTH] = symbols
    tokens[:, COPY_LENGTH + delay - 1] = DELIMITER
    targets = torch.full_like(tokens, IGNORE)
    targets[:, -COPY_LENGTH:] = symbols
    return tokens, targets
