r"""The four input/output patterns of recurrent networks, as in the notes.

============================  ==================================================  ===============================
pattern                       what it maps                                        example
============================  ==================================================  ===============================
:class:`OneToOne`             one input -> one output (one step, no recurrence)   classify a fixed-size vector
:class:`OneToMany`            one input -> a sequence, own outputs fed back       a poem from its first character
:class:`ManyToOne`            a sequence -> one output (state at the last step)   sentiment of a sentence
:class:`ManyToMany`           a sequence -> an output per step (aligned)          tag each word of a sentence
:class:`EncoderDecoder`       a sequence -> another sequence (unaligned)          translation, spelling -> sounds
============================  ==================================================  ===============================

Each wraps a recurrent layer or cell from :mod:`nnzoo.nn.recurrent` and a ``head`` (usually ``nn.Linear``) that
maps hidden states to outputs. Tensors are batch-first: sequences (B, T, ·).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from nnzoo.nn.recurrent import LSTM, LSTMCell, _RecurrentLayer


def final_hidden(h_n: Tensor | tuple[Tensor, Tensor], num_layers: int, bidirectional: bool) -> Tensor:
    """The last layer's final hidden state, directions side by side: h_n (L·D, B, H) -> (B, D·H).

    With variable lengths this is each sequence's state at its own last step (forward direction) and at its first
    step (reverse direction, which reads it last) — the summary a many-to-one model needs. For an LSTM pass
    ``(h_n, c_n)``; the hidden state h is used.
    """
    h = h_n[0] if isinstance(h_n, tuple) else h_n
    directions = 2 if bidirectional else 1
    if h.dim() != 3 or h.shape[0] != num_layers * directions:
        raise ValueError(f"h_n must have shape ({num_layers * directions}, B, H), got {tuple(h.shape)}")
    last = h[-directions:]  # (D, B, H)
    return last.transpose(0, 1).reshape(h.shape[1], -1)


class OneToOne(nn.Module):
    r"""One input, one output: a single step of a cell from a zero state, then the head.

    :math:`y = \text{head}(\phi(W_{ih} x + b_{ih} + b_{hh}))` — with nothing to remember, a recurrent cell is an
    ordinary fully connected layer. Shapes: x (B, I) -> (B, O).
    """

    def __init__(self, cell: nn.Module, head: nn.Module):
        super().__init__()
        self.cell, self.head = cell, head

    def forward(self, x: Tensor) -> Tensor:
        state = self.cell(x)
        return self.head(state[0] if isinstance(state, tuple) else state)


class ManyToOne(nn.Module):
    """A sequence in, one output: the head reads the final hidden state (:func:`final_hidden`).

    Shapes: x (B, T, I), lengths (B,) or None -> (B, O). The layer must be ``batch_first``.
    """

    def __init__(self, layer: _RecurrentLayer, head: nn.Module):
        super().__init__()
        _require_batch_first(layer)
        self.layer, self.head = layer, head

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        _, h_n = self.layer(x, lengths=lengths)
        return self.head(final_hidden(h_n, self.layer.num_layers, self.layer.bidirectional))


class ManyToMany(nn.Module):
    """A sequence in, an output per step (aligned, e.g. tagging): the head reads every step's output.

    Shapes: x (B, T, I), lengths (B,) or None -> (B, T, O). Outputs at padded steps are ``head`` of a zero vector;
    mask them in the loss.
    """

    def __init__(self, layer: _RecurrentLayer, head: nn.Module):
        super().__init__()
        _require_batch_first(layer)
        self.layer, self.head = layer, head

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        output, _ = self.layer(x, lengths=lengths)
        return self.head(output)


class OneToMany(nn.Module):
    r"""One input, then the model's own outputs fed back as the next inputs.

    .. math::
        h_1 = \text{cell}(x, 0), \quad y_t = \text{head}(h_t), \quad h_{t+1} = \text{cell}(\text{feedback}(y_t), h_t)

    ``feedback`` maps an output to the next input (default: the output itself, which needs O = I; for tokens,
    e.g. an embedding of the arg-max). Training feeds back the *targets* instead (teacher forcing).

    Args:
        cell: an ``RNNCell``, ``GRUCell`` or ``LSTMCell``.
        head: hidden (B, H) -> output (B, O).
        feedback: output (B, O) -> next input (B, I).
    """

    def __init__(self, cell: nn.Module, head: nn.Module, feedback: Callable[[Tensor], Tensor] | None = None):
        super().__init__()
        self.cell, self.head = cell, head
        self.feedback = feedback if feedback is not None else nn.Identity()

    def _hidden(self, state):
        return state[0] if isinstance(self.cell, LSTMCell) else state

    def forward(self, x: Tensor, targets: Tensor) -> Tensor:
        """Teacher forcing: outputs (B, T, O) for targets (B, T, O); step t+1 reads feedback(targets[:, t])."""
        state = self.cell(x)
        outputs = [self.head(self._hidden(state))]
        for target in targets[:, :-1].unbind(1):
            state = self.cell(self.feedback(target), state)
            outputs.append(self.head(self._hidden(state)))
        return torch.stack(outputs, dim=1)

    @torch.no_grad()
    def generate(
        self, x: Tensor, max_steps: int, stop: Callable[[Tensor], Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        """Free running: outputs (B, T, O) with T <= max_steps, and lengths (B,).

        ``stop(y_t) -> (B,) bool`` marks a sequence as finished at step t (an end token); it then keeps its length,
        and generation ends when every sequence has finished.
        """
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        state = self.cell(x)
        y = self.head(self._hidden(state))
        outputs = [y]
        lengths = torch.full((x.shape[0],), max_steps, dtype=torch.long, device=x.device)
        finished = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        for t in range(1, max_steps + 1):
            if stop is not None:
                now = stop(y) & ~finished
                lengths[now] = t
                finished |= now
                if bool(finished.all()):
                    break
            if t == max_steps:
                break
            state = self.cell(self.feedback(y), state)
            y = self.head(self._hidden(state))
            outputs.append(y)
        return torch.stack(outputs, dim=1), lengths


class EncoderDecoder(nn.Module):
    r"""A sequence in, another sequence out, of a different length: the notes' encoder–decoder.

    The encoder reads the source; its final state, the *context vector* :math:`c`, is the decoder's initial state;
    the decoder then reads the (shifted) target and the head predicts each next output:

    .. math::
        c = h^{enc}_{T_x}, \qquad h^{dec}_0 = \text{bridge}(c), \qquad
        h^{dec}_t = \text{dec}(y_{t-1}, h^{dec}_{t-1}), \qquad \hat y_t = \text{head}(h^{dec}_t)

    The whole source must pass through :math:`c` — the bottleneck that attention removes. When the encoder is
    bidirectional, the bridge is a linear map of each layer's two directions to the decoder's size (tanh).

    Shapes: source (B, S, I), source lengths (B,) or None, decoder inputs (B, T, J) -> outputs (B, T, O).
    Both layers are ``batch_first``, of the same kind (both LSTM or neither) and have the same number of layers.
    """

    def __init__(self, encoder: _RecurrentLayer, decoder: _RecurrentLayer, head: nn.Module):
        super().__init__()
        _require_batch_first(encoder)
        _require_batch_first(decoder)
        if decoder.bidirectional:
            raise ValueError("the decoder generates left to right; it cannot be bidirectional")
        if encoder.num_layers != decoder.num_layers or isinstance(encoder, LSTM) != isinstance(decoder, LSTM):
            raise ValueError("encoder and decoder must have the same number of layers and both be LSTMs or neither")
        self.encoder, self.decoder, self.head = encoder, decoder, head
        width = encoder.hidden_size * encoder.num_directions
        self.bridge = (
            None
            if width == decoder.hidden_size and not encoder.bidirectional
            else nn.Linear(width, decoder.hidden_size)
        )

    def context(self, source: Tensor, lengths: Tensor | None = None):
        """The decoder's initial state (L, B, H_dec), or (h, c) for LSTMs, from the encoder's final state."""
        _, state = self.encoder(source, lengths=lengths)
        states = state if isinstance(state, tuple) else (state,)
        bridged = tuple(self._bridge(s) for s in states)
        return bridged if isinstance(state, tuple) else bridged[0]

    def _bridge(self, state: Tensor) -> Tensor:
        if self.bridge is None:
            return state
        L, D, B = self.encoder.num_layers, self.encoder.num_directions, state.shape[1]
        joined = state.view(L, D, B, -1).permute(0, 2, 1, 3).reshape(L, B, -1)  # (L, B, D·H)
        return torch.tanh(self.bridge(joined))

    def forward(self, source: Tensor, decoder_inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        output, _ = self.decoder(decoder_inputs, self.context(source, lengths))
        return self.head(output)


def _require_batch_first(layer: nn.Module) -> None:
    if not getattr(layer, "batch_first", False):
        raise ValueError(f"{type(layer).__name__} must be built with batch_first=True for the pattern classes")
