r"""Recurrent networks from their equations: the Elman RNN, the Jordan network, the LSTM and the GRU.

Reading order: the one-step equations as functions (``rnn_step`` … ``jordan_step``), the cells that hold one
step's parameters, then the layers that run a cell over a sequence — stacked, bidirectional, with variable lengths.

Every layer has paths with the same parameters and the same results:

* ``path="reference"`` loops the one-step function over time and lets autograd differentiate it: the equations
  and nothing else. It supports double backward.
* ``path="fast"`` (RNN, LSTM, GRU) runs :mod:`nnzoo.nn.recurrent_kernels`: the same forward loop plus
  back-propagation through time written out by hand, which needs one matrix product per step in the backward pass
  and computes the weight gradients of the whole sequence as a few large matrix products at the end.
* ``path="native"`` (RNN, LSTM, GRU) hands this layer's parameters to PyTorch's own fused kernel (cuDNN on CUDA,
  ATen/oneDNN on the CPU) through ``torch.func.functional_call``: possible because the parameter layouts are
  identical. Its dropout between layers draws other random numbers than ours; everything else is equal.
* ``path="auto"`` (the default) takes, at every call, the fastest of these for the input, as measured by
  ``benchmarks/recurrent.py`` (:meth:`_RecurrentLayer.path_on`): on the CPU ``fast``, except ``native`` for an
  LSTM over sequences of one length; on a GPU ``native`` (cuDNN), since a per-step Python loop cannot keep a GPU
  busy.

Parameter names and layouts are those of ``torch.nn.RNN/LSTM/GRU`` and their cells (gates stacked in PyTorch's
order), so ``load_state_dict`` works in both directions.

Shapes (``batch_first=False``): input (T, B, I) -> output (T, B, D·H) and final state (L·D, B, H), where T is the
sequence length, B the batch, I the input size, H the hidden size, L the number of layers and D = 2 if
bidirectional else 1. With ``batch_first=True`` input and output are (B, T, ·). A 2-D input (T, I) is one
unbatched sequence.

Variable lengths: pass ``lengths`` (B,) or a ``PackedSequence``. Padded steps never change the state, ``h_n`` is
each sequence's state at its own last step, the reverse direction starts at each sequence's own end, and the
output at padded steps is zero (as ``pad_packed_sequence`` gives).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from nnzoo.nn import recurrent_kernels as kernels

# ----------------------------------------------------------------------------------------------------------------
# One time step, as in the notes
# ----------------------------------------------------------------------------------------------------------------

NONLINEARITIES: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "identity": lambda z: z,
}


def rnn_step(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    nonlinearity: str = "tanh",
) -> Tensor:
    r"""Elman RNN: :math:`h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`, :math:`\phi` tanh or ReLU."""
    return rnn_recurrence(F.linear(x, w_ih, b_ih), h, w_hh, b_hh, nonlinearity)


def rnn_recurrence(x_proj: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, nonlinearity: str = "tanh") -> Tensor:
    """:func:`rnn_step` given its input term ``x_proj`` = :math:`W_{ih} x_t + b_{ih}`."""
    return NONLINEARITIES[nonlinearity](x_proj + F.linear(h, w_hh, b_hh))


def lstm_step(
    x: Tensor, h: Tensor, c: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None
) -> tuple[Tensor, Tensor]:
    r"""LSTM, gates stacked (i, f, g, o) as in PyTorch:

    .. math::
        i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})   &&\text{input gate} \\
        f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})   &&\text{forget gate} \\
        g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})    &&\text{candidate memory} \\
        o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})   &&\text{output gate} \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t                        &&\text{memory cell} \\
        h_t &= o_t \odot \tanh(c_t)
    """
    return lstm_recurrence(F.linear(x, w_ih, b_ih), h, c, w_hh, b_hh)


def lstm_recurrence(x_proj: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    r""":func:`lstm_step` given its input terms ``x_proj`` = :math:`W_{i\cdot} x_t + b_{i\cdot}` (B, 4H)."""
    i, f, g, o = (x_proj + F.linear(h, w_hh, b_hh)).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g
    return o * torch.tanh(c), c


def gru_step(x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor:
    r"""GRU, gates stacked (r, z, n) as in PyTorch:

    .. math::
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})          &&\text{reset gate} \\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})          &&\text{update gate} \\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))  &&\text{candidate} \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
    """
    return gru_recurrence(F.linear(x, w_ih, b_ih), h, w_hh, b_hh)


def gru_recurrence(x_proj: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    r""":func:`gru_step` given its input terms ``x_proj`` = :math:`W_{i\cdot} x_t + b_{i\cdot}` (B, 3H)."""
    xr, xz, xn = x_proj.chunk(3, dim=-1)
    hr, hz, hn = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def jordan_step(
    x: Tensor,
    y: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    w_hy: Tensor,
    b_hy: Tensor | None,
    nonlinearity: str = "tanh",
    output_activation: str = "tanh",
) -> Tensor:
    r"""Jordan network: the recurrent input is the previous *output*, not the hidden state.

    .. math::
        h_t &= \phi(W_{ih} x_t + b_{ih} + W_{hh} y_{t-1} + b_{hh}) \\
        y_t &= f(W_{hy} h_t + b_{hy})
    """
    return jordan_recurrence(F.linear(x, w_ih, b_ih), y, w_hh, b_hh, w_hy, b_hy, nonlinearity, output_activation)


def jordan_recurrence(
    x_proj: Tensor,
    y: Tensor,
    w_hh: Tensor,
    b_hh: Tensor | None,
    w_hy: Tensor,
    b_hy: Tensor | None,
    nonlinearity: str = "tanh",
    output_activation: str = "tanh",
) -> Tensor:
    """:func:`jordan_step` given its input term ``x_proj`` = :math:`W_{ih} x_t + b_{ih}`."""
    h = NONLINEARITIES[nonlinearity](x_proj + F.linear(y, w_hh, b_hh))
    return NONLINEARITIES[output_activation](F.linear(h, w_hy, b_hy))


# ----------------------------------------------------------------------------------------------------------------
# Cells: one step with its parameters (same names and layout as torch.nn.RNNCell / LSTMCell / GRUCell)
# ----------------------------------------------------------------------------------------------------------------


class _CellBase(nn.Module):
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        factory = {"device": device, "dtype": dtype}
        rows = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(rows, self._recurrent_size(), **factory))
        for name in ("bias_ih", "bias_hh"):
            self.register_parameter(name, nn.Parameter(torch.empty(rows, **factory)) if bias else None)

    def _recurrent_size(self) -> int:
        return self.hidden_size

    def reset_parameters(self) -> None:
        """Uniform in ±1/√H, as PyTorch initialises recurrent layers."""
        bound = 1 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def _batched_input(self, x: Tensor) -> tuple[Tensor, bool]:
        """x as (B, I), and whether it came unbatched as (I,)."""
        if x.dim() not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__} expects input of shape (B, {self.input_size}) or ({self.input_size},), "
                f"got {tuple(x.shape)}"
            )
        return (x.unsqueeze(0), True) if x.dim() == 1 else (x, False)

    def _batched_state(self, state: Tensor | None, x: Tensor, unbatched: bool, size: int, name: str) -> Tensor:
        """The state as (B, size): zeros when None, else checked against the input's batch shape."""
        if state is None:
            return x.new_zeros(x.shape[0], size)
        expected = (size,) if unbatched else (x.shape[0], size)
        if tuple(state.shape) != expected:
            raise ValueError(f"{type(self).__name__} expects {name} of shape {expected}, got {tuple(state.shape)}")
        return state.unsqueeze(0) if unbatched else state


class RNNCell(_CellBase):
    r"""Elman RNN cell: :math:`h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`.

    Shapes: x (B, I) or (I,); h (B, H) or (H,); returns h_t of the same batch shape.
    Parameters: ``weight_ih`` (H, I), ``weight_hh`` (H, H), ``bias_ih`` (H), ``bias_hh`` (H).

    Args:
        nonlinearity: ``"tanh"`` (Elman 1990) or ``"relu"``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        device=None,
        dtype=None,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity
        self.reset_parameters()

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        x, unbatched = self._batched_input(x)
        h = self._batched_state(h, x, unbatched, self.hidden_size, "h")
        h = rnn_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)
        return h.squeeze(0) if unbatched else h


class LSTMCell(_CellBase):
    r"""Long short-term memory cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000): one
    step of :func:`lstm_step`, whose docstring has the gates :math:`i_t, f_t, g_t, o_t`; the memory and the output
    are

    .. math::
        c_t = f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t)

    Shapes: x (B, I) or (I,); h, c (B, H) or (H,). Returns (h_t, c_t).
    Parameters are laid out as in ``torch.nn.LSTMCell``: ``weight_ih`` (4H, I) and ``weight_hh`` (4H, H) with
    the gates stacked i, f, g, o; ``bias_ih``, ``bias_hh`` (4H).
    """

    gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.reset_parameters()

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        x, unbatched = self._batched_input(x)
        h, c = state if state is not None else (None, None)
        h = self._batched_state(h, x, unbatched, self.hidden_size, "h")
        c = self._batched_state(c, x, unbatched, self.hidden_size, "c")
        h, c = lstm_step(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)

    def gate_activity(self, x: Tensor, state: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        """One step's gates and cell, for figures: dict of i, f, g, o, c, h, each (B, H)."""
        h, c = state
        pre = F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)
        i, f, g, o = pre.chunk(4, -1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": o * torch.tanh(c)}


class GRUCell(_CellBase):
    r"""Gated recurrent unit (Cho et al. 2014): one step of :func:`gru_step`, whose docstring has the gates
    :math:`r_t, z_t` and the candidate :math:`n_t`; the new state is

    .. math::
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    Shapes: x (B, I) or (I,); h (B, H) or (H,). Parameters as in ``torch.nn.GRUCell``: ``weight_ih`` (3H, I),
    ``weight_hh`` (3H, H), gates stacked r, z, n; ``bias_ih``, ``bias_hh`` (3H).
    """

    gates = 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.reset_parameters()

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        x, unbatched = self._batched_input(x)
        h = self._batched_state(h, x, unbatched, self.hidden_size, "h")
        h = gru_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h.squeeze(0) if unbatched else h


class JordanCell(_CellBase):
    r"""Jordan network cell (Jordan 1986): the previous *output* is fed back, not the hidden state.

    .. math::
        h_t &= \phi(W_{ih} x_t + b_{ih} + W_{hh} y_{t-1} + b_{hh}) \\
        y_t &= f(W_{hy} h_t + b_{hy})

    The cell owns its output layer :math:`(W_{hy}, b_{hy})`; its state is :math:`y`. Shapes: x (B, I);
    y (B, O); returns y_t (B, O). Parameters: ``weight_ih`` (H, I), ``weight_hh`` (H, O), ``bias_ih``,
    ``bias_hh`` (H), ``weight_hy`` (O, H), ``bias_hy`` (O).

    Args:
        output_size: O, the size of :math:`y`.
        nonlinearity: :math:`\phi`, ``"tanh"`` or ``"relu"``.
        output_activation: :math:`f`, ``"tanh"`` (default: a bounded feedback keeps the loop stable),
            ``"sigmoid"`` or ``"identity"``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        bias: bool = True,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        output_activation: Literal["tanh", "sigmoid", "identity"] = "tanh",
        device=None,
        dtype=None,
    ):
        _check_sizes(output_size=output_size)
        _check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
        _check_choice("output_activation", output_activation, ("tanh", "sigmoid", "identity"))
        self.output_size = output_size
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity, self.output_activation = nonlinearity, output_activation
        self.weight_hy = nn.Parameter(torch.empty(output_size, hidden_size, device=device, dtype=dtype))
        self.register_parameter(
            "bias_hy", nn.Parameter(torch.empty(output_size, device=device, dtype=dtype)) if bias else None
        )
        self.reset_parameters()

    def _recurrent_size(self) -> int:
        return self.output_size

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        x, unbatched = self._batched_input(x)
        y = self._batched_state(y, x, unbatched, self.output_size, "y")
        y = jordan_step(
            x,
            y,
            self.weight_ih,
            self.weight_hh,
            self.bias_ih,
            self.bias_hh,
            self.weight_hy,
            self.bias_hy,
            self.nonlinearity,
            self.output_activation,
        )
        return y.squeeze(0) if unbatched else y


# ----------------------------------------------------------------------------------------------------------------
# Layers: a cell over a sequence; stacked, bidirectional, variable length
# ----------------------------------------------------------------------------------------------------------------


class _RecurrentLayer(nn.Module):
    """Shared by RNN, LSTM, GRU and Jordan: parameters, input checks, lengths, layers and directions."""

    gates = 1
    has_cell_state = False
    paths: tuple[str, ...] = ("auto", "reference")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        *,
        path: Literal["auto", "fast", "reference", "native"] = "auto",
    ):
        super().__init__()
        _check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if not (isinstance(dropout, (int, float)) and 0 <= dropout <= 1):
            raise ValueError(f"dropout must be a number in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout acts between layers; with num_layers=1 it does nothing", stacklevel=2)
        _check_choice("path", path, self.paths)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, float(dropout), bidirectional
        self.path = path
        self.num_directions = 2 if bidirectional else 1
        factory = {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else self._layer_output_size() * self.num_directions
            for suffix in self._suffixes(layer):
                for name, shape in self._parameter_shapes(layer_input):
                    if name.startswith("bias") and not bias:
                        continue
                    self.register_parameter(f"{name}{suffix}", nn.Parameter(torch.empty(*shape, **factory)))
        self.reset_parameters()

    # --- layout ---------------------------------------------------------------------------------------------------
    def _parameter_shapes(self, layer_input: int) -> list[tuple[str, tuple[int, ...]]]:
        rows = self.gates * self.hidden_size
        return [
            ("weight_ih", (rows, layer_input)),
            ("weight_hh", (rows, self.hidden_size)),
            ("bias_ih", (rows,)),
            ("bias_hh", (rows,)),
        ]

    def _layer_output_size(self) -> int:
        return self.hidden_size

    def _state_size(self) -> int:
        return self.hidden_size

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}", f"_l{layer}_reverse"][: self.num_directions]

    def _weights(self, layer: int, direction: int) -> list[Tensor | None]:
        suffix = self._suffixes(layer)[direction]
        return [getattr(self, f"{name}{suffix}", None) for name, _ in self._parameter_shapes(0)]

    def reset_parameters(self) -> None:
        """Uniform in ±1/√H, as PyTorch initialises recurrent layers."""
        bound = 1 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text + f", path={self.path!r}"

    # --- forward --------------------------------------------------------------------------------------------------
    def forward(self, input: Tensor | PackedSequence, hx=None, lengths: Tensor | None = None):
        packed = input if isinstance(input, PackedSequence) else None
        if packed is not None:
            if lengths is not None:
                raise ValueError("give lengths or a PackedSequence, not both")
            x, lengths = pad_packed_sequence(packed)  # (T, B, I), original batch order
            unbatched = False
        else:
            x, unbatched = self._time_major(input)
        T, B, _ = x.shape
        mask = self._mask(lengths, T, B, x.device)
        states = self._initial_states(hx, B, unbatched, x)

        path = self.path_on(x.device, variable_lengths=mask is not None)
        if path == "native":
            output, final_states = self._forward_native(x, states, lengths if mask is not None else None)
        else:
            output, final_states = self._forward_layers(x, states, mask, path)

        if packed is not None:
            output = _repack(output, lengths, packed)
        elif unbatched:
            output, final_states = output.squeeze(1), [s.squeeze(1) for s in final_states]
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (tuple(final_states) if self.has_cell_state else final_states[0])

    def path_on(self, device: torch.device, variable_lengths: bool = False) -> str:
        """The path this layer runs for input on ``device``: its ``path``, with ``"auto"`` resolved to the fastest
        measured there (``benchmarks/recurrent.py``, with ``--lengths`` for variable lengths; docs/recurrent.md).
        Every path is proven equal to ``torch.nn`` by the tests."""
        if self.path != "auto":
            return self.path
        return self._fastest_path(device.type, variable_lengths)

    def _fastest_path(self, device_type: str, variable_lengths: bool) -> str:
        return "reference"  # Jordan's only path

    def _forward_layers(
        self, x: Tensor, states: list[Tensor], mask: Tensor | None, path: str
    ) -> tuple[Tensor, list[Tensor]]:
        """Layer after layer, direction after direction: (T, B, I) -> output (T, B, D·H) and final states."""
        final: list[list[Tensor]] = [[] for _ in states]
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                initial = [s[index] for s in states]
                weights = self._weights(layer, direction)
                output, last = self._run(layer_input, initial, weights, mask, direction == 1, path == "fast")
                outputs.append(output)
                for store, value in zip(final, last):
                    store.append(value)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        return layer_input, [torch.stack(s) for s in final]

    def _forward_native(self, x: Tensor, states: list[Tensor], lengths) -> tuple[Tensor, list[Tensor]]:
        """The same, by PyTorch's fused kernel on this layer's parameters; variable lengths go in packed."""
        template = self._native_template()
        template.train(self.training)
        hx = tuple(states) if self.has_cell_state else states[0]
        inputs = x if lengths is None else pack_padded_sequence(x, torch.as_tensor(lengths).cpu(), enforce_sorted=False)
        output, final = torch.func.functional_call(template, dict(self.named_parameters()), (inputs, hx))
        if lengths is not None:
            output, _ = pad_packed_sequence(output, total_length=x.shape[0])
        return output, list(final) if self.has_cell_state else [final]

    def _native_template(self) -> nn.RNNBase:
        """PyTorch's layer of this shape on the meta device (it holds no memory), whose forward runs the kernel."""
        raise NotImplementedError(f"{type(self).__name__} has no native path")

    def _template_shape(self) -> tuple:
        return (self.input_size, self.hidden_size, self.num_layers, self.bias, self.dropout, self.bidirectional)

    def _run(
        self,
        x: Tensor,
        initial: list[Tensor],
        weights: list[Tensor | None],
        mask: Tensor | None,
        reverse: bool,
        fast: bool,
    ) -> tuple[Tensor, list[Tensor]]:
        """One layer, one direction: (T, B, in) -> output (T, B, H) and the final state(s) (B, H), by the
        hand-written kernels if ``fast`` else by the equations under autograd."""
        if reverse:  # the reverse direction reads the sequence backwards; masked (padded) steps keep the state
            x, mask = x.flip(0), None if mask is None else mask.flip(0)
        if fast:
            output, last = self._run_fast(x, initial, weights, mask)
        else:
            output, last = self._run_reference(x, initial, weights, mask)
        return (output.flip(0) if reverse else output), last

    def _run_reference(self, x, initial, weights, mask):
        """The recurrence under autograd. The input terms W_ih x_t + b_ih of all steps are one matrix product."""
        w_ih, _, b_ih, _, *rest = weights
        recurrence = self._recurrence()
        states, outputs = list(initial), []
        # unbind, not x_proj[t]: indexing inside the loop would make the backward pass quadratic in T
        for t, x_t in enumerate(F.linear(x, w_ih, b_ih).unbind(0)):
            new = recurrence(x_t, *states, weights[1], weights[3], *rest)
            new = list(new) if isinstance(new, tuple) else [new]
            output = new[0]
            if mask is not None:
                keep = mask[t].unsqueeze(-1)
                output = torch.where(keep, output, torch.zeros_like(output))
                new = [torch.where(keep, n, s) for n, s in zip(new, states)]
            states = new
            outputs.append(output)
        return torch.stack(outputs), states

    def _run_fast(self, x, initial, weights, mask):
        raise NotImplementedError(f"{type(self).__name__} has no fast path")

    def _recurrence(self) -> Callable:
        """The one-step function given the input projection: f(x_proj, *states, w_hh, b_hh, *other weights)."""
        raise NotImplementedError

    # --- input checks ---------------------------------------------------------------------------------------------
    def _time_major(self, input: Tensor) -> tuple[Tensor, bool]:
        name = type(self).__name__
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        if not isinstance(input, Tensor) or input.dim() not in (2, 3) or input.shape[-1] != self.input_size:
            shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(
                f"{name} expects input of shape {layout.replace('I', str(self.input_size))} or "
                f"(T, {self.input_size}) for one sequence, got {shape}"
            )
        unbatched = input.dim() == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"{name} got an empty batch or sequence: (T, B) = {tuple(x.shape[:2])}")
        return x, unbatched

    def _mask(self, lengths: Tensor | None, T: int, B: int, device: torch.device) -> Tensor | None:
        """(T, B) boolean, True where step t is inside sequence b; None when every sequence has length T."""
        if lengths is None:
            return None
        lengths = torch.as_tensor(lengths)
        if lengths.dim() != 1 or lengths.numel() != B or lengths.is_floating_point():
            raise ValueError(
                f"lengths must be a 1-D integer tensor of shape ({B},), got {tuple(lengths.shape)} {lengths.dtype}"
            )
        if bool((lengths < 1).any()) or bool((lengths > T).any()):
            raise ValueError(f"lengths must be in [1, {T}] (the padded length), got {lengths.tolist()}")
        if bool((lengths == T).all()):
            return None
        return torch.arange(T, device=device).unsqueeze(1) < lengths.to(device).unsqueeze(0)

    def _initial_states(self, hx, B: int, unbatched: bool, x: Tensor) -> list[Tensor]:
        count = self.num_layers * self.num_directions
        size = self._state_size()
        if hx is None:
            zeros = x.new_zeros(count, B, size)
            return [zeros, zeros] if self.has_cell_state else [zeros]
        given = list(hx) if self.has_cell_state else [hx]
        if self.has_cell_state and (not isinstance(hx, (tuple, list)) or len(given) != 2):
            raise ValueError(f"{type(self).__name__} expects hx = (h_0, c_0)")
        expected = (count, size) if unbatched else (count, B, size)
        states = []
        for name, state in zip(("h_0", "c_0"), given):
            if tuple(state.shape) != expected:
                raise ValueError(f"{type(self).__name__} expects {name} of shape {expected}, got {tuple(state.shape)}")
            states.append(state.unsqueeze(1) if unbatched else state)
        return states


class RNN(_RecurrentLayer):
    r"""Elman RNN over a sequence: :math:`h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})` per layer.

    Arguments, parameter names (``weight_ih_l{k}``, ``weight_hh_l{k}_reverse``, …), inputs and outputs are those of
    ``torch.nn.RNN``; ``forward(input, hx=None, lengths=None)`` returns ``(output, h_n)``.

    Args:
        nonlinearity: ``"tanh"`` or ``"relu"``.
        path: ``"auto"`` (default: the fastest of the others for the input, see :meth:`path_on`),
            ``"fast"`` (hand-written BPTT), ``"reference"`` (the cell equations under autograd) or ``"native"``
            (PyTorch's fused kernel on these parameters).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        *,
        path: Literal["auto", "fast", "reference", "native"] = "auto",
    ):
        _check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
        self.nonlinearity = nonlinearity
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype, path=path
        )

    def _recurrence(self):
        return lambda x_proj, h, w_hh, b_hh: rnn_recurrence(x_proj, h, w_hh, b_hh, self.nonlinearity)

    paths = ("auto", "fast", "reference", "native")

    def _fastest_path(self, device_type: str, variable_lengths: bool) -> str:
        # CPU: our BPTT beats ATen's per-step nn.RNN loop (0.81-0.96x); GPU: cuDNN.
        return "fast" if device_type == "cpu" else "native"

    def _run_fast(self, x, initial, weights, mask):
        w_ih, w_hh, b_ih, b_hh = weights
        bias = None if b_ih is None else b_ih + b_hh
        output, h_n = kernels.rnn_sequence(x, initial[0], w_ih, w_hh, bias, mask, self.nonlinearity)
        return output, [h_n]

    def _native_template(self) -> nn.RNNBase:
        return _native_template(nn.RNN, self._template_shape(), nonlinearity=self.nonlinearity)


class LSTM(_RecurrentLayer):
    r"""LSTM over a sequence (equations in :class:`LSTMCell`), stacked and optionally bidirectional.

    Arguments, parameter names and layout (gates stacked i, f, g, o) are those of ``torch.nn.LSTM`` (without
    ``proj_size``); ``forward(input, hx=None, lengths=None)`` returns ``(output, (h_n, c_n))``.

    Args:
        path: ``"auto"`` (default: the fastest of the others for the input, see :meth:`path_on`),
            ``"fast"`` (hand-written BPTT), ``"reference"`` (the cell equations under autograd) or ``"native"``
            (PyTorch's fused kernel on these parameters).
    """

    gates = 4
    has_cell_state = True
    paths = ("auto", "fast", "reference", "native")

    def _fastest_path(self, device_type: str, variable_lengths: bool) -> str:
        # CPU: oneDNN's fused LSTM beats our BPTT on sequences of one length (fast is 1.13-1.28x), but a packed
        # sequence takes it off that kernel, and our masked BPTT is then 1.8-7x faster. GPU: cuDNN.
        return "fast" if device_type == "cpu" and variable_lengths else "native"

    def _native_template(self) -> nn.RNNBase:
        return _native_template(nn.LSTM, self._template_shape())

    def _recurrence(self):
        return lstm_recurrence

    def _run_fast(self, x, initial, weights, mask):
        w_ih, w_hh, b_ih, b_hh = weights
        bias = None if b_ih is None else b_ih + b_hh
        output, h_n, c_n = kernels.lstm_sequence(x, initial[0], initial[1], w_ih, w_hh, bias, mask)
        return output, [h_n, c_n]

    def first_layer_cell(self, direction: int = 0) -> LSTMCell:
        cell = LSTMCell(self.input_size, self.hidden_size, self.bias)
        suffix = self._suffixes(0)[direction]
        cell.load_state_dict({name: getattr(self, f"{name}{suffix}") for name, _ in cell.named_parameters()})
        return cell.to(self.weight_ih_l0)

    def gate_activity(self, x: Tensor) -> dict[str, Tensor]:
        """Gates and cell of layer 0 (forward direction) over one sequence x (T, I): dict of (T, H) tensors."""
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ValueError(
                f"gate_activity expects one sequence of shape (T, {self.input_size}), got {tuple(x.shape)}"
            )
        cell = self.first_layer_cell()
        h = c = x.new_zeros(1, self.hidden_size)
        steps = []
        with torch.no_grad():
            for x_t in x.unbind(0):
                step = cell.gate_activity(x_t.unsqueeze(0), (h, c))
                h, c = step["h"], step["c"]
                steps.append(step)
        return {key: torch.cat([s[key] for s in steps]) for key in steps[0]}


class GRU(_RecurrentLayer):
    r"""GRU over a sequence (equations in :class:`GRUCell`), stacked and optionally bidirectional.

    Arguments, parameter names and layout (gates stacked r, z, n) are those of ``torch.nn.GRU``;
    ``forward(input, hx=None, lengths=None)`` returns ``(output, h_n)``.

    Args:
        path: ``"auto"`` (default: the fastest of the others for the input, see :meth:`path_on`),
            ``"fast"`` (hand-written BPTT), ``"reference"`` (the cell equations under autograd) or ``"native"``
            (PyTorch's fused kernel on these parameters).
    """

    gates = 3
    paths = ("auto", "fast", "reference", "native")

    def _fastest_path(self, device_type: str, variable_lengths: bool) -> str:
        # CPU: our BPTT ties or beats nn.GRU on one length (0.86-0.97x) and is 1.9-7x faster on packed sequences.
        return "fast" if device_type == "cpu" else "native"

    def _native_template(self) -> nn.RNNBase:
        return _native_template(nn.GRU, self._template_shape())

    def _recurrence(self):
        return gru_recurrence

    def _run_fast(self, x, initial, weights, mask):
        output, h_n = kernels.gru_sequence(x, initial[0], *weights, mask)
        return output, [h_n]


class Jordan(_RecurrentLayer):
    r"""Jordan network over a sequence (equations in :class:`JordanCell`): each layer feeds back its previous
    output :math:`y_{t-1}` and emits :math:`y_t` (B, O); stacked layers read the outputs of the layer below.

    ``forward(input, hx=None, lengths=None)`` returns ``(output, y_n)`` with output (T, B, D·O) and y_n (L·D, B, O).
    Parameters per layer and direction: ``weight_ih_l{k}`` (H, in), ``weight_hh_l{k}`` (H, O), ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (H), ``weight_hy_l{k}`` (O, H), ``bias_hy_l{k}`` (O). No PyTorch reference exists; the
    tests check it with ``gradcheck``. Only the reference path exists.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        num_layers: int = 1,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        output_activation: Literal["tanh", "sigmoid", "identity"] = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ):
        _check_sizes(output_size=output_size)
        _check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
        _check_choice("output_activation", output_activation, ("tanh", "sigmoid", "identity"))
        self.output_size, self.nonlinearity, self.output_activation = output_size, nonlinearity, output_activation
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
            path="reference",
        )

    def _parameter_shapes(self, layer_input: int):
        hidden, out = self.hidden_size, self.output_size
        return [
            ("weight_ih", (hidden, layer_input)),
            ("weight_hh", (hidden, out)),
            ("bias_ih", (hidden,)),
            ("bias_hh", (hidden,)),
            ("weight_hy", (out, hidden)),
            ("bias_hy", (out,)),
        ]

    def _layer_output_size(self) -> int:
        return self.output_size

    def _state_size(self) -> int:
        return self.output_size

    def _recurrence(self):
        def recurrence(x_proj, y, w_hh, b_hh, w_hy, b_hy):
            return jordan_recurrence(x_proj, y, w_hh, b_hh, w_hy, b_hy, self.nonlinearity, self.output_activation)

        return recurrence


# ----------------------------------------------------------------------------------------------------------------


RECURRENT_LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def recurrent_layer(
    cell: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0, bidirectional: bool = False
) -> _RecurrentLayer:
    """A batch-first ``RNN``, ``LSTM`` or ``GRU`` chosen by name; ``dropout`` applies between layers, so only with
    ``num_layers > 1``."""
    _check_choice("cell", cell, tuple(RECURRENT_LAYERS))
    return RECURRENT_LAYERS[cell](
        input_size,
        hidden_size,
        num_layers,
        batch_first=True,
        dropout=dropout if num_layers > 1 else 0.0,
        bidirectional=bidirectional,
    )


def init_forget_gate_(
    lstm: LSTM | LSTMCell, bias: float = 1.0, *, chrono: int = 0, generator: torch.Generator | None = None
) -> None:
    r"""Re-initialise the gate biases of every layer and direction of ``lstm``, in place, so that the cell starts by
    keeping its memory instead of forgetting half of it each step (at zero bias, :math:`f_t \approx 0.5`).

    * ``bias`` (Gers et al. 2000; Jozefowicz et al. 2015): :math:`b_f = 1`, so :math:`f_t \approx \sigma(1) = 0.73`.
    * ``chrono = T_max`` (Tallec & Ollivier 2018): :math:`b_f = \log u,\ u \sim U(1, T_{max} - 1)` per unit and
      :math:`b_i = -b_f`. A unit with forget gate f keeps its memory for about 1 / (1 - f) steps, so the units'
      memories spread over 1 … T_max steps. ``bias`` is then ignored.

    The whole bias goes into ``bias_ih``; the forget (and, with chrono, input) rows of ``bias_hh`` become 0, so
    that their sum, which is all the cell sees, is the value above. Weights are left as they are."""
    if not lstm.bias:
        raise ValueError("the LSTM has no biases (bias=False) to initialise")
    if chrono and chrono < 3:
        raise ValueError(f"chrono is the longest dependency T_max, at least 3; got {chrono}")
    H = lstm.hidden_size
    forget, input_gate = slice(H, 2 * H), slice(0, H)
    names = [name for name, _ in lstm.named_parameters() if name.startswith("bias_ih")]
    with torch.no_grad():
        for name in names:
            b_ih, b_hh = getattr(lstm, name), getattr(lstm, name.replace("bias_ih", "bias_hh"))
            b_hh[forget] = 0
            if chrono:
                u = torch.rand(H, generator=generator, dtype=b_ih.dtype).to(b_ih.device) * (chrono - 2) + 1
                b_ih[forget] = torch.log(u)
                b_ih[input_gate] = -torch.log(u)
                b_hh[input_gate] = 0
            else:
                b_ih[forget] = bias


def set_recurrent_path(module: nn.Module, path: str) -> nn.Module:
    """Make every recurrent layer inside ``module`` run ``path`` (``"auto"``, ``"fast"``, ``"reference"`` or
    ``"native"``); a layer that has no such path (Jordan has only ``"reference"``) keeps its own. Returns
    ``module``. The paths share the parameters, so this changes speed, not the model."""
    _check_choice("path", path, RNN.paths)
    for layer in module.modules():
        if isinstance(layer, _RecurrentLayer) and path in layer.paths:
            layer.path = path
    return module


def _repack(output: Tensor, lengths: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a (T, B, ·) output in exactly the batch order of the input ``PackedSequence``."""
    order = like.sorted_indices
    if order is None:
        packed = pack_padded_sequence(output, lengths.cpu(), enforce_sorted=True)
    else:
        packed = pack_padded_sequence(output[:, order], lengths[order.cpu()].cpu(), enforce_sorted=True)
    return PackedSequence(packed.data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


@functools.cache  # one per layer shape: building it costs a few hundred microseconds
def _native_template(kind: type[nn.RNNBase], shape: tuple, **options) -> nn.RNNBase:
    input_size, hidden_size, num_layers, bias, dropout, bidirectional = shape
    with warnings.catch_warnings():  # the layer that asked has warned already about dropout with one layer
        warnings.simplefilter("ignore")
        return kind(
            input_size, hidden_size, num_layers, bias=bias, dropout=dropout, bidirectional=bidirectional,
            device="meta", **options,
        )  # fmt: skip


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
