r"""Models over token sequences: taggers (a label per token, the notes' aligned many-to-many pattern) and
classifiers (a label per sequence, many-to-one).

Both read token ids (B, T) with their lengths (B,) through an *encoder* that gives every position a vector that
depends on the whole sequence:

* :class:`RecurrentEncoder` — embedding, then our (bidirectional) RNN/LSTM/GRU. The forward direction summarises
  :math:`x_1 \dots x_t`, the backward one :math:`x_t \dots x_T`: :math:`h_t = [\overrightarrow{h}_t;
  \overleftarrow{h}_t]`. Padding is handled by ``lengths`` (each direction starts and ends at the real tokens).
* :class:`TokenTransformerEncoder` — embedding scaled by :math:`\sqrt{d}`, sinusoidal positions, Transformer
  encoder layers (self-attention in both directions, padded positions masked as keys), a final layer norm.

A :class:`Tagger` puts a linear layer on every position, :math:`\text{logits}_t = W h_t + b`. A
:class:`SequenceClassifier` pools the positions into one vector — the final states of the two directions (``last``,
the notes' many-to-one), or the mean over the real tokens (``mean``) — and puts a linear layer on it.

:class:`ContextFreeTagger` is the baseline with no encoder: a token's label from its embedding alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn

from nnzoo.nn.attention import padding_mask
from nnzoo.nn.mlp import MLP, MLPConfig
from nnzoo.nn.recurrent import recurrent_layer
from nnzoo.nn.rnn_patterns import final_hidden
from nnzoo.nn.transformer import SinusoidalPositionalEncoding, TransformerEncoder, TransformerEncoderLayer


class RecurrentEncoder(nn.Module):
    """Embedding → dropout → (bidirectional) RNN/LSTM/GRU. ``forward(tokens (B, T), lengths (B,))`` returns the
    outputs (B, T, D) and the final state pooled by :func:`final_hidden` (B, D), with D = ``out_features``."""

    def __init__(
        self,
        vocab_size: int,
        cell: Literal["rnn", "lstm", "gru"] = "lstm",
        embedding_dim: int = 100,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = True,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.dropout = nn.Dropout(dropout)
        self.rnn = recurrent_layer(cell, embedding_dim, hidden_size, num_layers, dropout, bidirectional)
        self.out_features = hidden_size * (2 if bidirectional else 1)

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        outputs, h_n = self.rnn(self.dropout(self.embedding(tokens)), lengths=lengths)
        return outputs, final_hidden(h_n, self.rnn.num_layers, self.rnn.bidirectional)


class TokenTransformerEncoder(nn.Module):
    """Embedding·√d + sinusoidal positions → pre-norm Transformer encoder (padding masked) → layer norm.
    ``forward(tokens (B, T), lengths (B,))`` returns the outputs (B, T, d) and, as its "final state", their mean
    over the real tokens (B, d)."""

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 128,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int = 256,
        dropout: float = 0.1,
        max_len: int = 1024,
    ):
        super().__init__()
        self.scale = math.sqrt(d_model)
        self.embedding = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.embedding.weight, std=d_model**-0.5)
        self.positions = SinusoidalPositionalEncoding(d_model, max_len)
        self.dropout = nn.Dropout(dropout)
        layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True, norm_first=True)
        self.encoder = TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model))
        self.out_features = d_model

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x = self.dropout(self.positions(self.embedding(tokens) * self.scale))
        mask = None if lengths is None else padding_mask(lengths, tokens.shape[1])
        outputs = self.encoder(x, src_key_padding_mask=mask)
        return outputs, mean_over_tokens(outputs, lengths)


def mean_over_tokens(outputs: Tensor, lengths: Tensor | None) -> Tensor:
    """The mean of (B, T, D) over each sequence's real positions: (B, D)."""
    if lengths is None:
        return outputs.mean(1)
    keep = (~padding_mask(lengths, outputs.shape[1])).unsqueeze(-1).to(outputs.dtype)
    return (outputs * keep).sum(1) / lengths.clamp(min=1).unsqueeze(-1).to(outputs.dtype)


class Tagger(nn.Module):
    """An encoder, dropout and a linear layer on every position. Shapes: tokens (B, T), lengths (B,) -> (B, T, C)."""

    def __init__(self, encoder: nn.Module, num_tags: int, dropout: float = 0.0):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(encoder.out_features, num_tags))

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> Tensor:
        outputs, _ = self.encoder(tokens, lengths)
        return self.head(outputs)


class ContextFreeTagger(nn.Module):
    """A token's embedding, then an MLP: its label whatever its neighbours.
    Shapes: tokens (B, T), lengths (ignored) -> (B, T, C)."""

    def __init__(self, vocab_size: int, num_tags: int, embedding_dim: int = 100, hidden: Sequence[int] = (128,)):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.mlp = MLP(embedding_dim, num_tags, MLPConfig(hidden=list(hidden)))

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.mlp(self.embedding(tokens))


class SequenceClassifier(nn.Module):
    """An encoder, pooled to one vector per sequence, dropout and a linear layer.

    ``pooling="last"`` takes the encoder's final state (for the recurrent encoder: the last step of the forward
    direction and the first of the backward one), ``"mean"`` averages the outputs over the real tokens.
    Shapes: tokens (B, T), lengths (B,) -> (B, C).
    """

    def __init__(self, encoder: nn.Module, num_classes: int, pooling: Literal["last", "mean"], dropout: float = 0.0):
        super().__init__()
        if pooling not in ("last", "mean"):
            raise ValueError(f"pooling must be 'last' or 'mean', got {pooling!r}")
        self.encoder, self.pooling = encoder, pooling
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(encoder.out_features, num_classes))

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> Tensor:
        outputs, final = self.encoder(tokens, lengths)
        return self.head(final if self.pooling == "last" else mean_over_tokens(outputs, lengths))
