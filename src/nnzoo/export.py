r"""Export a trained run to ONNX: ``nnzoo export RUN_DIR --format onnx``.

One code path for every task. The run is opened as ``nnzoo eval`` opens it; the task says what to trace
(:meth:`nnzoo.tasks.base.Task.export_spec` returns an :class:`ExportSpec`: the module, example inputs, the names of
the inputs and outputs, and which of their axes may vary); the module is traced into an ONNX file, which is then
run in onnxruntime and compared with PyTorch on the example inputs and on a second batch of another size (and,
where it may vary, another sequence length). A file that disagrees is deleted, not written.

Which exporter: the TorchScript-based one, ``torch.onnx.export(..., dynamo=False)``. Our layers are the equations
with their input checks, and a few of those branch on the data (``if bool(blocked.any())`` in attention, the
length checks of the recurrent layers). ``torch.export``, under the dynamo exporter, stops at each of them ("could
not guard on data-dependent expression"); tracing records the branch the example inputs take, so the examples are
chosen to take the general one (a batch with sequences shorter than the padded length). The TorchScript exporter
gets no new features upstream (torch 2.13 marks its helpers deprecated); moving to the dynamo exporter would need
those branches rewritten with ``torch.cond`` or ``torch._check`` first.

Recurrent layers are traced on their ``reference`` path, the cell equations in out-of-place operations. The fast
path's hand-written kernels update tensors in place inside an ``autograd.Function``, which tracing records wrongly
and silently (outputs off by 0.2 on a tiny LSTM). Tracing also unrolls the loop over time, so the sequence length of
a recurrent model is fixed at export, to the longest it was trained for: pad shorter sequences and give their
lengths. The Transformer encoders have no loop over time and take any length up to their positional table.

The file carries the task, the model, the checkpoint, what each input and output means, and the run's
``info.json`` (vocabularies, class names, scaler statistics) in its metadata, so it stands on its own.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor, nn

from nnzoo.data.vocab import Vocabulary
from nnzoo.errors import UserError

if TYPE_CHECKING:
    from nnzoo.training.run import OpenRun

OPSET = 17  # from 17 on, LayerNormalization is one operator instead of a dozen
TOLERANCE = 1e-4  # largest |onnxruntime - PyTorch|, relative to the outputs' scale when that exceeds 1


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


@dataclass(frozen=True)
class Exported:
    path: Path
    task: str
    model: str
    notes: dict[str, str]  # the file's inputs and outputs: shape and meaning
    max_abs_diff: float  # onnxruntime against PyTorch, over the example and the check inputs


class Adapted(nn.Module):
    """``fn(model, *inputs)`` as one module to trace: a forecaster with its horizon fixed, a GAN's generator alone."""

    def __init__(self, model: nn.Module, fn: Callable[..., Tensor]):
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.fn(self.model, *inputs)


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
# The export
# --------------------------------------------------------------------------------------------------------------


def export_run(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    checkpoint: Literal["best", "last"] = "best",
    format: Literal["onnx"] = "onnx",
) -> Exported:
    """Write the run's model as an ONNX file (default ``RUN_DIR/best.onnx`` or ``last.onnx``) and verify it."""
    from nnzoo.training.run import open_run

    if format != "onnx":
        raise UserError(f"unknown export format {format!r}; accepted: onnx")
    opened = open_run(run_dir, device="cpu", checkpoint=checkpoint, with_data=False)
    torch.manual_seed(0)  # the example inputs, and so the file, are the same at every export
    spec = opened.task.export_spec(opened.model)  # a UserError for the models that cannot be exported
    onnx, onnxruntime = _require_onnx()
    path = Path(out) if out is not None else opened.run.path / f"{checkpoint}.onnx"
    if path.is_dir():
        raise UserError(f"--out {path} is a folder; give the file to write, e.g. {path / 'model.onnx'}")
    path.parent.mkdir(parents=True, exist_ok=True)

    try:
        notes = _write(path, spec, onnx, checkpoint, opened)
        diff = verify(path, spec, onnxruntime)
    except Exception:
        path.unlink(missing_ok=True)  # no file rather than a wrong one
        raise
    return Exported(path, opened.cfg.task, opened.cfg.model.name, notes, diff)


def _write(path: Path, spec: ExportSpec, onnx: Any, checkpoint: str, opened: OpenRun) -> dict[str, str]:
    """Trace ``spec`` into ``path``, add the metadata, check the file; return the notes of its inputs and outputs."""
    with warnings.catch_warnings(), torch.no_grad():
        # The TracerWarnings say that shape checks became constants: true, and wanted (they guard the inputs).
        # The DeprecationWarnings come from helpers the exporter calls itself; nothing here can act on them.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            for_tracing(spec.module),
            spec.inputs,
            str(path),
            dynamo=False,
            input_names=list(spec.input_names),
            output_names=list(spec.output_names),
            dynamic_axes={k: dict(v) for k, v in spec.dynamic_axes.items()},
            opset_version=OPSET,
        )

    proto = onnx.load(str(path))
    # The tracer drops inputs that the model ignores (the context-free tagger's lengths).
    names = [i.name for i in proto.graph.input] + [o.name for o in proto.graph.output]
    notes = {name: spec.notes[name] for name in names}
    metadata = {
        "nnzoo.task": opened.cfg.task,
        "nnzoo.model": opened.cfg.model.name,
        "nnzoo.checkpoint": checkpoint,
        "nnzoo.io": "\n".join(f"{name}: {note}" for name, note in notes.items()),
        "nnzoo.info": json.dumps(opened.task.info, ensure_ascii=False),
    }
    onnx.helper.set_model_props(proto, metadata)
    proto.doc_string = f"nnzoo {opened.cfg.task}/{opened.cfg.model.name}, from {opened.run.path} ({checkpoint})"
    onnx.save(proto, str(path))
    onnx.checker.check_model(str(path))
    return notes


def for_tracing(module: nn.Module) -> nn.Module:
    """A copy in eval mode whose recurrent layers run their reference path (see the module's docstring)."""
    from nnzoo.nn.recurrent import _RecurrentLayer

    module = copy.deepcopy(module).eval()
    for layer in module.modules():
        if isinstance(layer, _RecurrentLayer):
            layer.path = "reference"
    return module


def verify(path: Path, spec: ExportSpec, onnxruntime: Any = None) -> float:
    """Run the file in onnxruntime on the example and the check inputs; return the largest difference from PyTorch.
    Raises ``RuntimeError`` if it exceeds :data:`TOLERANCE` (relative to the outputs' scale above 1)."""
    if onnxruntime is None:
        _, onnxruntime = _require_onnx()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    kept = {i.name for i in session.get_inputs()}
    worst = 0.0
    spec.module.eval()
    for inputs in (spec.inputs, spec.check_inputs):
        with torch.no_grad():
            expected = _flat_outputs(spec.module(*inputs))
        feed = {name: x.numpy() for name, x in zip(spec.input_names, inputs) if name in kept}
        got = session.run(list(spec.output_names), feed)
        for name, want, have in zip(spec.output_names, expected, got):
            want = want.float().numpy()
            if want.shape != have.shape:
                raise RuntimeError(
                    f"{path}: output {name} has shape {have.shape} in onnxruntime, {want.shape} in PyTorch"
                )
            diff = float(abs(want - have).max()) if want.size else 0.0
            scale = max(1.0, float(abs(want).max()) if want.size else 0.0)
            if diff > TOLERANCE * scale:
                raise RuntimeError(
                    f"the exported {path.name} differs from PyTorch by {diff:.3g} on output {name} "
                    f"(inputs {[tuple(x.shape) for x in inputs]}); this is a bug in nnzoo's export, please report it"
                )
            worst = max(worst, diff)
    return worst


def exportable_tasks() -> list[str]:
    """The registered tasks whose models ``nnzoo export`` writes (those that define ``export_spec``)."""
    from nnzoo import registry
    from nnzoo.tasks.base import Task

    return [name for name, cls in registry.tasks().items() if cls.export_spec is not Task.export_spec]


# --------------------------------------------------------------------------------------------------------------


def _require_onnx() -> tuple[Any, Any]:
    try:
        import onnx
        import onnxruntime
    except ImportError as error:
        raise UserError(
            f"nnzoo export needs the onnx and onnxruntime packages ({error.name} is missing): "
            "pip install 'nnzoo[export]', or `make setup`, which installs them"
        ) from None
    return onnx, onnxruntime


def _has_recurrent_layer(model: nn.Module) -> bool:
    from nnzoo.nn.recurrent import _RecurrentLayer

    return any(isinstance(m, _RecurrentLayer) for m in model.modules())


def _random_tokens(vocab_size: int, lengths: Tensor, length: int) -> Tensor:
    """Random ids (B, length) of real symbols, padded with 0 after each sequence's length as the data sets are."""
    tokens = torch.randint(len(Vocabulary.SPECIALS), vocab_size, (len(lengths), length))
    return tokens.masked_fill(torch.arange(length).unsqueeze(0) >= lengths.unsqueeze(1), 0)


def _flat_outputs(outputs: Any) -> list[Tensor]:
    """A model's outputs in the order the tracer flattens them: a tensor, a tuple, or a dict's values."""
    if isinstance(outputs, Tensor):
        return [outputs]
    if isinstance(outputs, Mapping):
        return [t for v in outputs.values() for t in _flat_outputs(v)]
    return [t for v in outputs for t in _flat_outputs(v)]


__all__ = [
    "Adapted",
    "ExportSpec",
    "Exported",
    "export_run",
    "exportable_tasks",
    "for_tracing",
    "image_to_image_spec",
    "token_sequence_spec",
    "verify",
]
