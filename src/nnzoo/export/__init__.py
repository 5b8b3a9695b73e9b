r"""Export a trained run to ONNX: ``nnzoo export RUN_DIR --format onnx``.

One code path for every task. The run is opened as ``nnzoo eval`` opens it; the task says what to trace
(:func:`nnzoo.export.specs.export_spec` gives an :class:`ExportSpec`: the module, example inputs, the names of
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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor, nn

import nnzoo.tasks  # noqa: F401  (registers every task: a run is opened against them)
from nnzoo import pretrained
from nnzoo.errors import UserError
from nnzoo.export.specs import ExportSpec, export_spec
from nnzoo.files import replacing
from nnzoo.optional import require
from nnzoo.training.run import CheckpointName

if TYPE_CHECKING:
    from nnzoo.training.run import TrainedModel

OPSET = 17  # from 17 on, LayerNormalization is one operator instead of a dozen
TOLERANCE = 1e-4  # largest |onnxruntime - PyTorch|, relative to the outputs' scale when that exceeds 1


@dataclass(frozen=True)
class Exported:
    path: Path
    task: str
    model: str
    notes: dict[str, str]  # the file's inputs and outputs: shape and meaning
    max_abs_diff: float  # onnxruntime against PyTorch, over the example and the check inputs


# --------------------------------------------------------------------------------------------------------------
# The export
# --------------------------------------------------------------------------------------------------------------


def export_run(
    run_dir: str | Path,
    out: str | Path | None = None,
    *,
    checkpoint: CheckpointName = "best",
    format: Literal["onnx"] = "onnx",
) -> Exported:
    """Write the run's model as an ONNX file (default ``RUN_DIR/best.onnx`` or ``last.onnx``; for a shipped model,
    ``TASK-NAME.onnx`` in the current folder) and verify it."""
    from nnzoo.training.run import load_trained

    if format != "onnx":
        raise UserError(f"unknown export format {format!r}; accepted: onnx")
    opened = load_trained(run_dir, device="cpu", checkpoint=checkpoint)
    torch.manual_seed(0)  # the example inputs, and so the file, are the same at every export
    spec = export_spec(opened.task, opened.model)  # a UserError for the models that cannot be exported
    onnx, onnxruntime = _require_onnx()
    if out is not None:
        path = Path(out)
    elif pretrained.is_shipped(opened.run.path):  # nothing is written into the installed package
        path = Path(f"{opened.run.path.parent.name}-{opened.run.path.name}.onnx")
    else:
        path = opened.run.path / f"{checkpoint}.onnx"
    if path.is_dir():
        raise UserError(f"--out {path} is a folder; give the file to write, e.g. {path / 'model.onnx'}")
    # Written and verified under a temporary name, then renamed: a failed or killed export leaves the previous
    # file (or none), never a wrong or half-written one.
    with replacing(path) as temporary:
        notes = _write(temporary, spec, onnx, checkpoint, opened)
        diff = verify(temporary, spec, onnxruntime)
    return Exported(path, opened.config.task, opened.config.model.name, notes, diff)


def _write(path: Path, spec: ExportSpec, onnx: Any, checkpoint: str, opened: TrainedModel) -> dict[str, str]:
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
        "nnzoo.task": opened.config.task,
        "nnzoo.model": opened.config.model.name,
        "nnzoo.checkpoint": checkpoint,
        "nnzoo.io": "\n".join(f"{name}: {note}" for name, note in notes.items()),
        "nnzoo.info": json.dumps(opened.task.info, ensure_ascii=False),
    }
    onnx.helper.set_model_props(proto, metadata)
    proto.doc_string = f"nnzoo {opened.config.task}/{opened.config.model.name}, from {opened.run.path} ({checkpoint})"
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
                    f"the exported model's output {name} has shape {have.shape} in onnxruntime, {want.shape} in PyTorch"
                )
            diff = float(abs(want - have).max()) if want.size else 0.0
            scale = max(1.0, float(abs(want).max()) if want.size else 0.0)
            if diff > TOLERANCE * scale:
                raise RuntimeError(
                    f"the exported model differs from PyTorch by {diff:.3g} on output {name} "
                    f"(inputs {[tuple(x.shape) for x in inputs]}); this is a bug in nnzoo's export, please report it"
                )
            worst = max(worst, diff)
    return worst


# --------------------------------------------------------------------------------------------------------------


def _require_onnx() -> tuple[Any, Any]:
    return require("onnx", "nnzoo export"), require("onnxruntime", "nnzoo export")


def _flat_outputs(outputs: Any) -> list[Tensor]:
    """A model's outputs in the order the tracer flattens them: a tensor, a tuple, or a dict's values."""
    if isinstance(outputs, Tensor):
        return [outputs]
    if isinstance(outputs, Mapping):
        return [t for v in outputs.values() for t in _flat_outputs(v)]
    return [t for v in outputs for t in _flat_outputs(v)]


__all__ = [
    "ExportSpec",
    "Exported",
    "export_run",
    "export_spec",
    "for_tracing",
    "verify",
]
