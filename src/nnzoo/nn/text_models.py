r"""Models over token sequences: taggers (a label per token, the notes' aligned many-to-many pattern) and
classifiers (a label per sequence, many-to-one).

Both read token ids (B, T) with their lengths (B,) through an *encoder* that gives every position a vector that
depends on the whole sequence:

* :class:`RecurrentEncoder` — embedding, then our (bidirectional) RNN/LSTM/GRU. The forward direction summarises
  :math:`x_1 \dots x_t`, the backward one :math:`x_t \dots x_T`: :math:`h_t = [\overrightarrow{h}_t;
  \overleftarrow{h}_t]`. Padding is handled by ``lengths`` (each direction starts and ends at the real tokens).
* :class:`TokenTransformerEncoder` — embedding scaled by :math:`\sqrt{d}`, sinusoidal positions, Transformer
  encoder layers (self-attention in both directions, padded positions masked as keys), a final layer norm.
* :class:`ConvolutionalEncoder` — embedding, then a temporal convolutional network (causal dilated convolutions,
  :class:`~nnzoo.nn.tcn.TCN`) read left to right and, bidirectional, a second one read right to left, as the
  bidirectional RNN does: :math:`h_t = [\text{TCN}_\rightarrow(x_{\le t}); \text{TCN}_\leftarrow(x_{\ge t})]`, each
  seeing its receptive field.

A :class:`Tagger` puts a linear layer on every position, :math:`\text{logits}_t = W h_t + b`. A
:class:`SequenceClassifier` pools the positions into one vector — the final states of the two directions (``last``,
the notes' many-to-one), or the mean over the real tokens (``mean``) — and puts a linear layer on it.

The models build these from their config: :class:`RecurrentTagger`, :class:`TransformerTagger` and
:class:`ConvolutionalTagger`,
:class:`RecurrentClassifier` and :class:`TransformerClassifier`. :class:`ContextFreeTagger` is the baseline with no
encoder: a token's label from its embedding alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from nnzoo.errors import require
from nnzoo.nn.attention import padding_mask
from nnzoo.nn.mlp import MLP, MLPConfig
from nnzoo.nn.recurrent import recurrent_layer
from nnzoo.nn.rnn_patterns import final_hidden
from nnzoo.nn.tcn import TCN
from nnzoo.nn.transformer import (
    SinusoidalPositionalEncoding,
    TransformerEncoder,
    TransformerEncoderConfig,
    TransformerEncoderLayer,
)

CELLS = ("rnn", "lstm", "gru")


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


class ConvolutionalEncoder(nn.Module):
    """Embedding → dropout → TCN left to right (and, ``bidirectional``, another TCN over each sequence reversed
    within its length, its outputs reversed back). ``forward(tokens (B, T), lengths (B,))`` returns the outputs
    (B, T, D) and their mean over the real tokens (B, D), with D = ``out_features``. Padding sits after the real
    tokens in both directions, so causal convolutions never read it."""

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 100,
        channels: int = 128,
        levels: int = 3,
        kernel_size: int = 3,
        dropout: float = 0.0,
        bidirectional: bool = True,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.dropout = nn.Dropout(dropout)
        self.forward_tcn = TCN(embedding_dim, channels, levels, kernel_size, dropout)
        self.backward_tcn = TCN(embedding_dim, channels, levels, kernel_size, dropout) if bidirectional else None
        self.out_features = channels * (2 if bidirectional else 1)

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x = self.dropout(self.embedding(tokens))
        outputs = self.forward_tcn(x)
        if self.backward_tcn is not None:
            order = reversed_within(lengths, tokens.shape[0], tokens.shape[1], tokens.device)
            backward = self.backward_tcn(x.gather(1, order.unsqueeze(-1).expand_as(x)))
            backward = backward.gather(1, order.unsqueeze(-1).expand_as(backward))  # the reversal is its own inverse
            outputs = torch.cat([outputs, backward], dim=-1)
        return outputs, mean_over_tokens(outputs, lengths)


def reversed_within(lengths: Tensor | None, batch: int, steps: int, device: torch.device) -> Tensor:
    """Indices (B, T) that reverse each sequence's first ``lengths[b]`` positions and keep its padding in place."""
    positions = torch.arange(steps, device=device).expand(batch, steps)
    if lengths is None:
        return positions.flip(1)
    n = lengths.to(device).unsqueeze(1)
    return torch.where(positions < n, n - 1 - positions, positions)


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


@dataclass
class ContextFreeTaggerConfig:
    """Hyper-parameters of :class:`ContextFreeTagger`."""

    embedding_dim: int = 100
    hidden: list[int] = field(default_factory=lambda: [128])  # the MLP's hidden layers (ReLU, no dropout)

    def __post_init__(self) -> None:
        require(self.embedding_dim >= 1, f"embedding_dim must be >= 1, got {self.embedding_dim}")
        require(all(h >= 1 for h in self.hidden), f"hidden sizes must be >= 1, got {list(self.hidden)}")


class ContextFreeTagger(nn.Module):
    """A token's embedding, then an MLP: its label whatever its neighbours.
    Shapes: tokens (B, T), lengths (ignored) -> (B, T, C).

    Example::

        >>> import torch
        >>> tagger = ContextFreeTagger(20, 3, ContextFreeTaggerConfig(embedding_dim=6, hidden=[8]))
        >>> tagger(torch.randint(4, 20, (2, 7))).shape
        torch.Size([2, 7, 3])
    """

    def __init__(self, vocab_size: int, num_tags: int, config: ContextFreeTaggerConfig | None = None):
        super().__init__()
        config = config or ContextFreeTaggerConfig()
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim)
        self.mlp = MLP(config.embedding_dim, num_tags, MLPConfig(hidden=list(config.hidden)))

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.mlp(self.embedding(tokens))


@dataclass
class RecurrentTaggerConfig:
    """Hyper-parameters of :class:`RecurrentTagger`."""

    cell: Literal["rnn", "lstm", "gru"] = "lstm"
    embedding_dim: int = 100
    hidden_size: int = 128  # per direction
    num_layers: int = 1
    dropout: float = 0.3  # on the embeddings, between the recurrent layers and before the head
    # false: left to right only, so a word's tag sees the words before it and not those after (the notes' reason
    # for reading both ways)
    bidirectional: bool = True
    ADDED: ClassVar[dict[str, Any]] = {"bidirectional": True}  # keys added since, at the value of earlier runs

    def __post_init__(self) -> None:
        require(self.cell in CELLS, f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        _check_recurrent_sizes(self.embedding_dim, self.hidden_size, self.num_layers, self.dropout)


class RecurrentTagger(Tagger):
    """A :class:`Tagger` on a :class:`RecurrentEncoder`, bidirectional unless the config says otherwise: every
    word's tag from the whole sentence (or, one way, from the words up to it).
    Shapes: tokens (B, T), lengths (B,) -> (B, T, num_tags).

    Example::

        >>> import torch
        >>> tagger = RecurrentTagger(20, 3, RecurrentTaggerConfig(cell="gru", embedding_dim=6, hidden_size=5))
        >>> tagger(torch.randint(4, 20, (2, 7)), torch.tensor([7, 4])).shape
        torch.Size([2, 7, 3])
    """

    def __init__(self, vocab_size: int, num_tags: int, config: RecurrentTaggerConfig | None = None):
        config = config or RecurrentTaggerConfig()
        encoder = RecurrentEncoder(
            vocab_size,
            config.cell,
            config.embedding_dim,
            config.hidden_size,
            config.num_layers,
            config.dropout,
            bidirectional=config.bidirectional,
        )
        super().__init__(encoder, num_tags, config.dropout)


class TransformerTagger(Tagger):
    """A :class:`Tagger` on a :class:`TokenTransformerEncoder` (self-attention in both directions) of sentences of
    at most ``max_len`` tokens; no dropout before the head. Shapes: tokens (B, T), lengths (B,) -> (B, T, num_tags).

    Example::

        >>> import torch
        >>> config = TransformerEncoderConfig(d_model=8, nhead=2, dim_feedforward=16, num_layers=1)
        >>> tagger = TransformerTagger(20, 3, 32, config)
        >>> tagger(torch.randint(4, 20, (2, 7)), torch.tensor([7, 4])).shape
        torch.Size([2, 7, 3])
    """

    def __init__(self, vocab_size: int, num_tags: int, max_len: int, config: TransformerEncoderConfig | None = None):
        config = config or TransformerEncoderConfig()
        encoder = _token_transformer(vocab_size, max_len, config)
        super().__init__(encoder, num_tags)


@dataclass
class ConvolutionalTaggerConfig:
    """Hyper-parameters of :class:`ConvolutionalTagger`."""

    embedding_dim: int = 100
    channels: int = 128  # per direction
    levels: int = 3  # receptive field 1 + 2 (kernel_size - 1)(2^levels - 1): 29 words each way by default
    kernel_size: int = 3
    dropout: float = 0.3  # on the embeddings, inside the blocks and before the head
    bidirectional: bool = True  # false: left to right only

    def __post_init__(self) -> None:
        require(min(self.embedding_dim, self.channels, self.levels) >= 1 and self.kernel_size >= 2,
                "embedding_dim, channels and levels must be >= 1 and kernel_size >= 2")  # fmt: skip
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")


class ConvolutionalTagger(Tagger):
    """A :class:`Tagger` on a :class:`ConvolutionalEncoder`: every word's tag from the words within the receptive
    field on each side. Shapes: tokens (B, T), lengths (B,) -> (B, T, num_tags).

    Example::

        >>> import torch
        >>> tagger = ConvolutionalTagger(20, 3, ConvolutionalTaggerConfig(embedding_dim=6, channels=5, levels=2))
        >>> tagger(torch.randint(4, 20, (2, 7)), torch.tensor([7, 4])).shape
        torch.Size([2, 7, 3])
    """

    def __init__(self, vocab_size: int, num_tags: int, config: ConvolutionalTaggerConfig | None = None):
        config = config or ConvolutionalTaggerConfig()
        encoder = ConvolutionalEncoder(
            vocab_size,
            config.embedding_dim,
            config.channels,
            config.levels,
            config.kernel_size,
            config.dropout,
            config.bidirectional,
        )
        super().__init__(encoder, num_tags, config.dropout)


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


@dataclass
class RecurrentClassifierConfig:
    """Hyper-parameters of :class:`RecurrentClassifier`."""

    embedding_dim: int = 128
    hidden_size: int = 128  # per direction
    num_layers: int = 1
    bidirectional: bool = True
    pooling: Literal["last", "mean"] = "last"  # the final states of both directions, or the mean of the outputs
    dropout: float = 0.3  # on the embeddings, between the recurrent layers and before the head

    def __post_init__(self) -> None:
        require(self.pooling in ("last", "mean"), f"pooling must be 'last' or 'mean', got {self.pooling!r}")
        _check_recurrent_sizes(self.embedding_dim, self.hidden_size, self.num_layers, self.dropout)


class RecurrentClassifier(SequenceClassifier):
    """A :class:`SequenceClassifier` on a :class:`RecurrentEncoder` with the RNN/LSTM/GRU ``cell``.
    Shapes: tokens (B, T), lengths (B,) -> (B, num_classes).

    Example::

        >>> import torch
        >>> config = RecurrentClassifierConfig(embedding_dim=6, hidden_size=5)
        >>> classifier = RecurrentClassifier(20, 2, "lstm", config)
        >>> classifier(torch.randint(4, 20, (3, 7)), torch.tensor([7, 4, 1])).shape
        torch.Size([3, 2])
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        cell: Literal["rnn", "lstm", "gru"],
        config: RecurrentClassifierConfig | None = None,
    ):
        config = config or RecurrentClassifierConfig()
        encoder = RecurrentEncoder(
            vocab_size,
            cell,
            config.embedding_dim,
            config.hidden_size,
            config.num_layers,
            config.dropout,
            config.bidirectional,
        )
        super().__init__(encoder, num_classes, config.pooling, config.dropout)


class TransformerClassifier(SequenceClassifier):
    """A :class:`SequenceClassifier` on a :class:`TokenTransformerEncoder` of sequences of at most ``max_len``
    tokens, the mean of its outputs to the head. Shapes: tokens (B, T), lengths (B,) -> (B, num_classes).

    Example::

        >>> import torch
        >>> config = TransformerEncoderConfig(d_model=8, nhead=2, dim_feedforward=16, num_layers=1)
        >>> classifier = TransformerClassifier(20, 2, 32, config)
        >>> classifier(torch.randint(4, 20, (3, 7)), torch.tensor([7, 4, 1])).shape
        torch.Size([3, 2])
    """

    def __init__(self, vocab_size: int, num_classes: int, max_len: int, config: TransformerEncoderConfig | None = None):
        config = config or TransformerEncoderConfig()
        encoder = _token_transformer(vocab_size, max_len, config)
        super().__init__(encoder, num_classes, "mean", config.dropout)


def _token_transformer(vocab_size: int, max_len: int, config: TransformerEncoderConfig) -> TokenTransformerEncoder:
    return TokenTransformerEncoder(
        vocab_size, config.d_model, config.nhead, config.num_layers, config.dim_feedforward, config.dropout, max_len
    )


def _check_recurrent_sizes(embedding_dim: int, hidden_size: int, num_layers: int, dropout: float) -> None:
    require(
        min(embedding_dim, hidden_size, num_layers) >= 1,
        f"embedding_dim, hidden_size and num_layers must be >= 1, got {embedding_dim}, {hidden_size}, {num_layers}",
    )
    require(0 <= dropout < 1, f"dropout must be in [0, 1), got {dropout}")
