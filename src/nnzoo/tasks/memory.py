r"""Tasks ``adding``, ``copy-memory``, ``latch`` and ``echo``: synthetic problems that need a memory over T steps
(Hochreiter & Schmidhuber 1997; :mod:`nnzoo.data.memory_tasks`).

* ``adding``: T steps of (value, marker); predict the sum of the two marked values. Metric: the MSE, against the
  constant predictor's 1/6 ≈ 0.167 (the floor a model must beat to show that it remembers anything).
* ``copy-memory``: 10 symbols, ``length`` blanks, then repeat the 10 symbols. Metric: the accuracy on the 10
  recalled symbols, against guessing's 1/8.
* ``latch``: pulses ±1 now and then; answer the sign of the last one at every step. ``echo``: a random sign at
  every step; answer the sign of ``length`` steps before. Metrics: the MSE of the answers (answering 0 scores 1)
  and the accuracy of their signs. In the latch the answer is the whole state; in the echo it holds none of it,
  which tells a Jordan network (it feeds back its answer) from an Elman network (it feeds back its hidden state).

The training split is drawn when a batch is asked for (from the seed ``data_seed`` and the batch's indices), so a
run of ``train.max_steps`` steps over ``data.train_examples = steps × batch`` examples sees new sequences at every
step, as the problems are usually trained; the validation and test splits are fixed draws. Models: the Elman RNN (tanh,
or ReLU with ``model.nonlinearity``), the LSTM, the GRU and a Transformer encoder
(:class:`~nnzoo.nn.sequence_models.SequenceModel`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from nnzoo.config import DataConfig
from nnzoo.data import TensorData
from nnzoo.data.memory_tasks import (
    ADDING_CONSTANT_MSE,
    COPY_SYMBOLS,
    COPY_TOKENS,
    ECHO_SCORED,
    IGNORE,
    adding_problem,
    copy_memory,
    echo,
    latch,
)
from nnzoo.errors import ConfigError, UserError
from nnzoo.nn.sequence_models import SequenceModel, SequenceModelConfig
from nnzoo.registry import register_model, register_task
from nnzoo.tasks.base import Splits, Task

Draw = Callable[[int, int, torch.Generator], tuple[Tensor, Tensor]]  # (examples, length, generator) -> (x, y)
SPLIT_SEEDS = {"val": 1, "test": 2}  # training examples use seeds from 3 on (see GeneratedProblems)


@dataclass
class MemoryData(DataConfig):
    length: int = 50  # T: the adding problem's and the latch's steps, copy memory's and the echo's delay
    train_examples: int = 64_000  # drawn afresh, one per index; steps × batch of them give fresh data every step
    val_examples: int = 1000
    test_examples: int = 1000
    data_seed: int = 0  # the examples depend on this seed only, not on the training seed

    def __post_init__(self) -> None:
        if self.length < 2 or min(self.train_examples, self.val_examples, self.test_examples) < 1:
            raise ConfigError("need data.length >= 2 and at least one train, val and test example")


class GeneratedProblems(Dataset):
    """``size`` training examples of a problem, drawn when a batch is asked for, with a generator seeded by the data
    seed and the batch's indices: a batch depends only on its indices, so a resumed run sees what an uninterrupted
    one saw, and every step of a run over ``steps × batch`` examples sees new ones. (One generator per batch, not
    per example: 40 times faster.)"""

    def __init__(self, draw: Draw, size: int, length: int, seed: int):
        self.draw, self.size, self.length, self.seed = draw, size, length, seed

    def __len__(self) -> int:
        return self.size

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        key = zlib.crc32(np.asarray(indices, dtype=np.int64).tobytes())
        generator = torch.Generator().manual_seed(self.seed + 3 + key)  # 3 on: past the val and test seeds
        return self.draw(len(indices), self.length, generator)

    @staticmethod
    def collate(batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        return batch


class MemoryProblem(Task):
    """What the two problems share: data drawn by ``draw``, models, training defaults."""

    DataConfig = MemoryData
    default_model = "lstm"
    label_smoothing_applies: ClassVar[bool] = False
    train_defaults: ClassVar[dict] = {
        "optimizer": "adam",
        "lr": 3e-3,
        "batch_size": 64,
        "epochs": 1,
        "grad_clip": 1.0,  # the ReLU RNN explodes without it
        "shuffle": False,  # every example is new anyway
    }
    draw: ClassVar[Draw]
    step_shape: ClassVar[tuple[int, ...]]  # of one step of an input sequence

    def build_data(self) -> Splits:
        cfg = self.cfg.data
        seed = cfg.data_seed * 1_000_003
        self.info = {"length": cfg.length, "sequence_length": self.sequence_length(cfg.length)}
        data: Splits = {"train": GeneratedProblems(type(self).draw, cfg.train_examples, cfg.length, seed)}
        for split, size in (("val", cfg.val_examples), ("test", cfg.test_examples)):
            generator = torch.Generator().manual_seed(seed + SPLIT_SEEDS[split])
            data[split] = TensorData(*type(self).draw(size, cfg.length, generator))
        return data

    @staticmethod
    def sequence_length(length: int) -> int:
        return length

    def predict(self, model: nn.Module, inputs: list, **options) -> list:
        if options:
            raise UserError(f"{self.name}'s predict takes no options, got {', '.join(options)}")
        if not inputs:
            return []
        x = torch.stack([torch.as_tensor(item) for item in inputs]).to(self.device)
        expected = (self.info["sequence_length"], *self.step_shape)
        if tuple(x.shape[1:]) != expected:
            raise UserError(f"a sequence of shape {tuple(x.shape[1:])}; this model reads sequences of shape {expected}")
        return self.answers(model, x)

    def answers(self, model: nn.Module, x: Tensor) -> list:
        raise NotImplementedError


@register_task("adding")
class Adding(MemoryProblem):
    """The adding problem: the sum of two marked values among T (test MSE; the constant predictor's is 0.167)."""

    metric_names = ("loss",)
    draw = staticmethod(adding_problem)
    step_shape = (2,)  # value, marker

    def loss(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch
        return F.mse_loss(model(x).squeeze(-1), y)

    def evaluate(self, model: nn.Module, dataset: TensorData) -> dict[str, float]:
        x, y = dataset.tensors
        prediction = torch.cat([model(chunk.to(self.device)).squeeze(-1).float().cpu() for chunk in x.split(500)])
        return {"loss": float(F.mse_loss(prediction, y))}

    def baselines(self, data: Splits, split: str) -> dict[str, dict[str, float]]:
        _, y = data[split].tensors
        return {"constant 1 (expected MSE 1/6)": {"loss": float(F.mse_loss(torch.ones_like(y), y))}}

    def answers(self, model: nn.Module, x: Tensor) -> list[float]:
        """The predicted sum of each sequence (T, 2) of (value, marker) pairs."""
        return model(x.float()).squeeze(-1).cpu().tolist()


@register_task("copy-memory")
class CopyMemory(MemoryProblem):
    """Copy memory: repeat 10 symbols after T blanks (accuracy on the recalled symbols; guessing gives 1/8)."""

    metric_names = ("loss", "accuracy")
    draw = staticmethod(copy_memory)
    step_shape = ()  # a token id

    @staticmethod
    def sequence_length(length: int) -> int:
        return length + 20  # 10 symbols, the delay, 10 recalled

    def loss(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch
        return F.cross_entropy(model(x).flatten(0, 1), y.flatten(), ignore_index=IGNORE)

    def evaluate(self, model: nn.Module, dataset: TensorData) -> dict[str, float]:
        x, y = dataset.tensors
        logits = torch.cat([model(chunk.to(self.device)).float().cpu() for chunk in x.split(500)])
        scored = y != IGNORE
        return {
            "loss": float(F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE)),
            "accuracy": float((logits.argmax(-1)[scored] == y[scored]).double().mean()),
        }

    def answers(self, model: nn.Module, x: Tensor) -> list[list[int]]:
        """The 10 symbols each token sequence (delay + 20 ids) recalls at its end."""
        return model(x.long()).argmax(-1)[:, -10:].cpu().tolist()


class SignProblem(MemoryProblem):
    """What the latch and the echo share: a sign ±1 to answer at every scored step (targets NaN elsewhere)."""

    metric_names = ("loss", "accuracy")
    default_model = "rnn"
    step_shape = (1,)  # the input sign (the latch: 0 between pulses)

    def loss(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch
        scored = ~y.isnan()
        return F.mse_loss(model(x).squeeze(-1)[scored], y[scored])

    def evaluate(self, model: nn.Module, dataset: TensorData) -> dict[str, float]:
        x, y = dataset.tensors
        answers = torch.cat([model(chunk.to(self.device)).squeeze(-1).float().cpu() for chunk in x.split(500)])
        scored = ~y.isnan()
        answers, y = answers[scored], y[scored]
        return {
            "loss": float(F.mse_loss(answers, y)),
            "accuracy": float((torch.where(answers >= 0, 1.0, -1.0) == y).double().mean()),
        }

    def baselines(self, data: Splits, split: str) -> dict[str, dict[str, float]]:
        x, y = data[split].tensors
        scored = ~y.isnan()
        own_input = x.squeeze(-1)[scored]  # the latch: right at each pulse, 0 (half right) between them
        return {
            "answer 0 (MSE 1)": {"loss": float(y[scored].square().mean()), "accuracy": 0.5},
            "the step's own input": {
                "loss": float(F.mse_loss(own_input, y[scored])),
                "accuracy": float(((own_input == y[scored]).double() + 0.5 * (own_input == 0)).mean()),
            },
        }

    def answers(self, model: nn.Module, x: Tensor) -> list[list[float]]:
        """The answer at every step of each sequence (steps, 1) of signs."""
        return model(x.float()).squeeze(-1).cpu().tolist()


@register_task("latch")
class Latch(SignProblem):
    """Latch: hold the sign of the last pulse among T steps (MSE and sign accuracy; the output is the whole state)."""

    draw = staticmethod(latch)


@register_task("echo")
class Echo(SignProblem):
    """Echo: answer each step's sign T steps later (MSE and sign accuracy; the memory cannot be in the output)."""

    draw = staticmethod(echo)

    @staticmethod
    def sequence_length(length: int) -> int:
        return length + ECHO_SCORED


TITLES = {"rnn": "Elman RNN", "jordan": "Jordan network", "lstm": "LSTM", "gru": "GRU", "transformer": "Transformer"}


def _register(task: str, readout: str, inputs: int, outputs: int, tokens: bool, cores: tuple[str, ...]) -> None:
    for core in cores:

        def build(cfg: SequenceModelConfig, info: dict, core: str = core) -> nn.Module:
            return SequenceModel(core, inputs, outputs, readout, cfg, tokens=tokens, max_len=info["sequence_length"])

        layers = "encoder (pre-norm, sinusoidal positions)" if core == "transformer" else "layer"
        steps = "the last step" if readout == "last" else "every step"
        build.__doc__ = f"{TITLES[core]} {layers} and a linear readout of {steps}."
        if core == "jordan":  # its readout is its own output layer
            build.__doc__ = "Jordan network layer: its answer y_t = tanh(W h_t + b) of each step is what it feeds back."
        register_model(task, core, config=SequenceModelConfig)(build)


FOUR = ("rnn", "lstm", "gru", "transformer")
_register("adding", "last", 2, 1, tokens=False, cores=FOUR)
_register("copy-memory", "every", COPY_TOKENS, COPY_SYMBOLS, tokens=True, cores=FOUR)
for _task in ("latch", "echo"):  # answers in [-1, 1]: the Jordan network's tanh output fits them
    _register(_task, "every", 1, 1, tokens=False, cores=("rnn", "jordan", *FOUR[1:]))

__all__ = ["ADDING_CONSTANT_MSE", "Adding", "CopyMemory", "Echo", "Latch", "MemoryData"]
