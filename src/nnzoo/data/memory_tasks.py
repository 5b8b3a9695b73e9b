"""Synthetic sequence problems that need long-range memory (Hochreiter & Schmidhuber 1997).

* **Adding problem**: a sequence of T steps, each a pair (value, marker); the values are uniform on [0, 1], and
  the marker is 1 at exactly two steps, one in the first half and one in the second half, 0 elsewhere. The target
  is the sum of the two marked values. Predicting the constant 1 (the mean of the sum) gives a mean squared error
  of Var(U₁ + U₂) = 2/12 ≈ 0.167, the floor a model must beat to show it remembers anything.
* **Copy memory** (as in Arjovsky, Shah & Bengio 2016): 10 symbols drawn from 8, then ``delay`` blanks, the last
  one replaced by a delimiter, then 10 more blanks during which the model must repeat the 10 symbols in order.
  Only those 10 positions are scored; guessing gives an accuracy of 1/8.

Two problems that tell the Elman network (it feeds back its hidden state) from the Jordan network (it feeds back
its output). Both read a sign per step and answer a sign ±1 at every step; answering 0 scores an MSE of 1.

* **Latch** (a flip-flop): at each step a pulse ±1 arrives with probability ``LATCH_PULSE`` (always at the first
  step), else 0; the target is the sign of the last pulse. The answer is the whole state the problem needs, so
  feeding back the output is enough: y_t = x_t if x_t ≠ 0 else y_{t-1}.
* **Echo**: a random sign ±1 at every step; the target is the input ``delay`` steps earlier, scored on the
  ``ECHO_SCORED`` steps after the first ``delay``. The answer says nothing about the signs still to be echoed, so
  the memory must be hidden: a Jordan network, whose only state is its last answer, cannot hold them.
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


LATCH_PULSE = 0.05  # the chance of a pulse at each step: holds of 20 steps on average, some over 100
ECHO_SCORED = 100  # steps scored after the delay
UNSCORED = float("nan")  # the target of a step that is not scored (echo's first ``delay`` steps)


def latch(batch: int, length: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Inputs (batch, length, 1) of pulses ±1 (else 0) and targets (batch, length): the sign of the last pulse."""
    if length < 2:
        raise ValueError(f"the latch needs length >= 2, got {length}")
    signs = torch.randint(0, 2, (batch, length), generator=generator).float() * 2 - 1
    pulses = torch.rand(batch, length, generator=generator) < LATCH_PULSE
    pulses[:, 0] = True
    x = torch.where(pulses, signs, torch.zeros(()))
    last = torch.cummax(torch.where(pulses, torch.arange(length), -1), dim=1).values  # index of the last pulse
    return x.unsqueeze(-1), signs.gather(1, last)


def echo(batch: int, delay: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Inputs (batch, delay + ECHO_SCORED, 1) of random signs and targets (batch, delay + ECHO_SCORED): the input
    ``delay`` steps before, UNSCORED (NaN) for the first ``delay`` steps."""
    if delay < 1:
        raise ValueError(f"the echo delay must be >= 1, got {delay}")
    x = torch.randint(0, 2, (batch, delay + ECHO_SCORED), generator=generator).float() * 2 - 1
    targets = torch.full_like(x, UNSCORED)
    targets[:, delay:] = x[:, :-delay]
    return x.unsqueeze(-1), targets
