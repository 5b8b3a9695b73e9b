r"""What ``nnzoo export`` traces for each task: an :class:`ExportSpec` per exportable task, and the reason for the
others.

A spec names the module to trace (the model, or an :class:`Adapted` part of it), example inputs (a batch of 2, the
ones traced) and inputs of another size to verify the file on, the names of the inputs and outputs, which of their
axes may vary, and what each means. The specs live here, beside the exporter, so that the tasks know nothing of
ONNX; each reads only the task's ``info`` (sizes, vocabularies, scalers) and configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from nnzoo.data.reviews import LABELS
from nnzoo.data.vocab import Vocabulary
from nnzoo.errors import UserError
from nnzoo.nn.pix2pix import Pix2Pix
from nnzoo.nn.recurrent import _RecurrentLayer

Spec = Callable[[Any, nn.Module], "ExportSpec"]  # (task, model) -> ExportSpec

SPECS: dict[str, Spec] = {}
# Why a task's models cannot be exported, for the ones that have a reason beyond "not written yet".
NOT_EXPORTABLE = {
    "charlm": "its text is sampled one character at a time, with the state carried from call to call and "
    "constraints checked in Python between steps",
    "g2p": "its output is decoded one symbol at a time (greedy or beam search), a loop that stops on the data, "
    "which one traced forward pass cannot hold",
}
NOT_EXPORTABLE["translate"] = NOT_EXPORTABLE["caption"] = NOT_EXPORTABLE["g2p"]


@dataclass(frozen=True)
class ExportSpec:
    """What the exporter traces: ``module(*inputs)``, and how its inputs and outputs are named and sized.

    Attributes:
        module: the model, or an :class:`Adapted` model (fixed extra arguments, a part that runs alone).
        inputs: example inputs, a batch of 2, the ones traced.
        check_inputs: inputs of another batch size (and length, where it may vary) to verify the file on.
        input_names, output_names: the names in the ONNX graph, in the order of the inputs and outputs.
        dynamic_axes: name -> {axis: symbolic size} for the axes that may vary; the batch axis always.
        notes: name -> shape and meaning of each input and output, printed by ``nnzoo export`` and stored in
            the file's metadata.
    """

    module: nn.Module
    inputs: tuple[Tensor, ...]
    check_inputs: tuple[Tensor, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_axes: Mapping[str, Mapping[int, str]]
    notes: Mapping[str, str]


class Adapted(nn.Module):
    """``fn(model, *inputs)`` as one module to trace: a forecaster with its horizon fixed, a GAN's generator alone."""

    def __init__(self, model: nn.Module, fn: Callable[..., Tensor]):
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.fn(self.model, *inputs)


def spec_for(task: str) -> Callable[[Spec], Spec]:
    """Register ``spec(task, model) -> ExportSpec`` as what ``nnzoo export`` traces for ``task``'s models."""

    def register(spec: Spec) -> Spec:
        SPECS[task] = spec
        return spec

    return register


def export_spec(task: Any, model: nn.Module) -> ExportSpec:
    """The spec of ``task``'s ``model``, or a one-line refusal that says why and which tasks can be exported."""
    if task.name not in SPECS:
        reason = NOT_EXPORTABLE.get(task.name, "the task defines no ONNX export")
        raise UserError(
            f"{task.name}/{task.cfg.model.name} cannot be exported to ONNX: {reason}; "
            f"exportable tasks: {', '.join(exportable_tasks())}"
        )
    return SPECS[task.name](task, model)


def exportable_tasks() -> list[str]:
    """The tasks whose models ``nnzoo export`` writes."""
    return sorted(SPECS)


# --------------------------------------------------------------------------------------------------------------
# Specs that several tasks share
# --------------------------------------------------------------------------------------------------------------


def token_sequence_spec(
    model: nn.Module, vocab_size: int, max_length: int, output: str, per_token: bool, output_note: str
) -> ExportSpec:
    """``model(tokens (B, T), lengths (B,))`` -> (B, T, C) with ``per_token``, else (B, C).

    A recurrent model is traced at ``max_length`` (its loop over time is unrolled); a Transformer encoder at
    ``max_length`` too, with T left free below it. The example batch has one full and one shorter sequence, so that
    the lengths are traced as a mask (with every sequence full the recurrent layers skip the mask).
    """
    recurrent = _has_recurrent_layer(model)
    check_length = max_length if recurrent else max(1, max_length - 3)
    lengths = torch.tensor([max_length, (max_length + 1) // 2])
    check_lengths = torch.tensor([check_length, max(1, check_length // 3), max(1, check_length - 1)])
    time = {} if recurrent else {1: "length"}
    length_note = f"{max_length}: pad shorter sequences" if recurrent else f"length <= {max_length}"
    return ExportSpec(
        model,
        (_random_tokens(vocab_size, lengths, max_length), lengths),
        (_random_tokens(vocab_size, check_lengths, check_length), check_lengths),
        ("tokens", "lengths"),
        (output,),
        {"tokens": {0: "batch", **time}, "lengths": {0: "batch"}, output: {0: "batch", **(time if per_token else {})}},
        {
            "tokens": f"(batch, {length_note}) int64, ids of info.json's symbols after the specials "
            f"{', '.join(Vocabulary.SPECIALS)} (ids 0 to {len(Vocabulary.SPECIALS) - 1}); padding is 0",
            "lengths": "(batch,) int64, the real length of each sequence (>= 1)",
            output: output_note,
        },
    )


def image_to_image_spec(
    model: nn.Module, shape: Sequence[int], depth: int, input_name: str, input_note: str, head_notes: Mapping[str, str]
) -> ExportSpec:
    """A U-Net: images (B, C, H, W) -> one (B, c, H, W) per head, named after the heads. Height and width may vary
    (any multiples of 2**depth: the network is convolutional)."""
    channels, height, width = shape
    factor = 2**depth
    heads = tuple(model.heads)
    axes = {0: "batch", 2: "height", 3: "width"}
    return ExportSpec(
        model,
        (torch.rand(2, channels, height, width),),
        (torch.rand(3, channels, height + factor, width + factor),),
        (input_name,),
        heads,
        {name: axes for name in (input_name, *heads)},
        {
            input_name: f"(batch, {channels}, height, width) float32, {input_note}; height and width multiples of "
            f"{factor} ({height} × {width} in training)",
            **{head: head_notes[head] for head in heads},
        },
    )


# --------------------------------------------------------------------------------------------------------------
# The tasks
# --------------------------------------------------------------------------------------------------------------


@spec_for("regression")
def regression(task: Any, model: nn.Module) -> ExportSpec:
    """Table rows in the table's units -> the target in its units (the scalers are inside the model)."""
    features, target = task.info["features"], task.info["target"]
    mean, std = torch.tensor(task.info["x_mean"]), torch.tensor(task.info["x_std"])
    return ExportSpec(
        model,
        (mean + std * torch.randn(2, len(features)),),
        (mean + std * torch.randn(5, len(features)),),
        ("x",),
        ("prediction",),
        {"x": {0: "batch"}, "prediction": {0: "batch"}},
        {
            "x": f"(batch, {len(features)}) float32 in the table's units, columns {', '.join(features)} "
            "(a one-hot column is 1 for its category)",
            "prediction": f"(batch,) float32, {target} in the table's units",
        },
    )


@spec_for("classify-images")
def classify_images(task: Any, model: nn.Module) -> ExportSpec:
    shape, classes = task.info["image_shape"], task.info["classes"]
    return ExportSpec(
        model,
        (torch.rand(2, *shape),),
        (torch.rand(5, *shape),),
        ("images",),
        ("logits",),
        {"images": {0: "batch"}, "logits": {0: "batch"}},
        {
            "images": f"(batch, {', '.join(map(str, shape))}) float32, grey levels in [0, 1], bright object on "
            "black as in the training images",
            "logits": f"(batch, {len(classes)}) float32, softmax gives the probabilities of {', '.join(classes)}",
        },
    )


@spec_for("classify-text")
def classify_text(task: Any, model: nn.Module) -> ExportSpec:
    return token_sequence_spec(
        model,
        len(task.info["symbols"]) + len(Vocabulary.SPECIALS),
        task.info["max_chars"],
        "logits",
        per_token=False,
        output_note=f"(batch, {len(LABELS)}) float32 over {', '.join(LABELS)}; tokens are characters",
    )


@spec_for("tagging")
def tagging(task: Any, model: nn.Module) -> ExportSpec:
    tags = task.info["tags"]
    return token_sequence_spec(
        model,
        len(task.info["words"]) + len(Vocabulary.SPECIALS),
        task.info["longest"],
        "logits",
        per_token=True,
        output_note=f"(batch, length, {len(tags)}) float32, per word, over the tags {', '.join(tags)}",
    )


@spec_for("forecast")
def forecast(task: Any, model: nn.Module) -> ExportSpec:
    """The forecast of the trained horizon from one window (the recurrent decoders unrolled over it)."""
    window, horizon = task.info["window"], task.info["horizon"]
    unit = f" ({task.info['unit']})" if task.info["unit"] else ""
    values = task.info["center"] + task.info["scale"] * torch.randn(7, window).cumsum(1)  # plausible levels
    return ExportSpec(
        Adapted(model, lambda forecaster, history: forecaster(history, horizon)),
        (values[:2],),
        (values[2:],),
        ("window",),
        ("forecast",),
        {"window": {0: "batch"}, "forecast": {0: "batch"}},
        {
            "window": f"(batch, {window}) float32, the last {window} values of the series{unit}, oldest first",
            "forecast": f"(batch, {horizon}) float32, the next {horizon} values{unit}",
        },
    )


@spec_for("denoise")
def denoise(task: Any, model: nn.Module) -> ExportSpec:
    noise = f"{task.info['noise']} noise {task.info['level']}"
    return image_to_image_spec(
        model,
        task.info["image_shape"],
        task.cfg.model.depth,
        "noisy",
        f"noisy grey levels in [0, 1] (trained on {noise})",
        {"image": "(batch, 1, height, width) float32, the clean image; clamp it to [0, 1] as nnzoo does"},
    )


@spec_for("translate-images")
def translate_images(task: Any, model: nn.Module) -> ExportSpec:
    """The generator alone, between grey levels in [0, 1] (``Pix2Pix.draw``; the model works in [-1, 1])."""
    channels, height, width = task.info["image_shape"]
    factor = 2**task.cfg.model.depth
    axes = {0: "batch", 2: "height", 3: "width"}
    return ExportSpec(
        Adapted(model, Pix2Pix.draw),
        ((torch.rand(2, 1, height, width) > 0.8).float(),),
        ((torch.rand(3, 1, height + factor, width + factor) > 0.8).float(),),
        ("edges",),
        ("image",),
        {"edges": axes, "image": axes},
        {
            "edges": f"(batch, 1, height, width) float32, Canny edge maps (1 on an edge, 0 elsewhere); height and "
            f"width multiples of {factor} ({height} × {width} in training)",
            "image": f"(batch, {channels}, height, width) float32, the drawn image's grey levels in [0, 1]",
        },
    )


@spec_for("segment")
def segment(task: Any, model: nn.Module) -> ExportSpec:
    classes = task.info["classes"]
    return image_to_image_spec(
        model,
        (1, task.info["size"], task.info["size"]),
        task.cfg.model.depth,
        "images",
        "grey levels in [0, 1]",
        {"classes": f"(batch, {len(classes)}, height, width) float32, per-pixel logits of {', '.join(classes)}"},
    )


@spec_for("seismic")
def seismic(task: Any, model: nn.Module) -> ExportSpec:
    low, high = task.info["v_range"]
    notes = {
        "velocity": f"(batch, 1, depth, traces) float32, (v - {low:g}) / ({high:g} - {low:g}) with v in m/s",
        "edges": "(batch, 1, depth, traces) float32, logits of a layer boundary at each pixel",
    }
    return image_to_image_spec(
        model, (1, *task.info["shape"]), task.cfg.model.depth, "seismic", "a section divided by its RMS", notes
    )


@spec_for("gan")
def gan(task: Any, model: nn.Module) -> ExportSpec:
    """The generator alone, its images mapped from [-1, 1] to grey levels in [0, 1] as ``generate`` does."""
    latent, shape = model.latent_dim, task.info["image_shape"]
    return ExportSpec(
        Adapted(model.generator, lambda generator, z: (generator(z) + 1) / 2),
        (torch.randn(2, latent),),
        (torch.randn(5, latent),),
        ("z",),
        ("images",),
        {"z": {0: "batch"}, "images": {0: "batch"}},
        {
            "z": f"(batch, {latent}) float32, latent points drawn from the standard normal distribution",
            "images": f"(batch, {', '.join(map(str, shape))}) float32, grey levels in [0, 1]",
        },
    )


def _has_recurrent_layer(model: nn.Module) -> bool:
    return any(isinstance(m, _RecurrentLayer) for m in model.modules())


def _random_tokens(vocab_size: int, lengths: Tensor, length: int) -> Tensor:
    """Random ids (B, length) of real symbols, padded with 0 after each sequence's length as the data sets are."""
    tokens = torch.randint(len(Vocabulary.SPECIALS), vocab_size, (len(lengths), length))
    return tokens.masked_fill(torch.arange(length).unsqueeze(0) >= lengths.unsqueeze(1), 0)
