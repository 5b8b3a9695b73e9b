r"""Language models: the probability of the next token given the ones before it.

.. math::
    p(x_1 \dots x_T) = \prod_t p(x_{t+1} \mid x_{\le t}), \qquad
    p(x_{t+1} \mid x_{\le t}) = \operatorname{softmax}(W h_t + b)

Both models read token ids (B, T) and a *state* — what they remember of the text before — and return the logits
(B, T, V) of the next token at every position together with the new state:

* :class:`RecurrentLanguageModel` — an embedding, our RNN/LSTM/GRU (the notes' many-to-many pattern) and a linear
  head. Its state is the recurrent state (h, or (h, c) for the LSTM); carrying it from one chunk of text to the next
  is truncated back-propagation through time.
* :class:`TransformerLanguageModel` — a decoder-only ("GPT") Transformer: token and position embeddings, encoder
  layers with a causal mask (position t attends to positions ≤ t), a final layer norm and a linear head. It
  remembers by attention alone, so its state is the last ``context - 1`` tokens themselves.
* :class:`ConvolutionalLanguageModel` — an embedding, a temporal convolutional network (causal, dilated 1-D
  convolutions, :class:`~nnzoo.nn.tcn.TCN`) and a linear head. It sees its receptive field R and nothing before,
  so its state is the last R - 1 tokens.

The shared interface lets one sampling routine (:func:`nnzoo.decode.sample`) and one evaluation loop serve all three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from nnzoo.errors import require
from nnzoo.nn.recurrent import recurrent_layer
from nnzoo.nn.tcn import TCN
from nnzoo.nn.transformer import (
    LearnedPositionalEncoding,
    TransformerEncoder,
    TransformerEncoderConfig,
    TransformerEncoderLayer,
    init_gpt2_,
)


def _check_tokens(tokens: Tensor) -> None:
    if tokens.dim() != 2 or tokens.dtype != torch.long:
        raise ValueError(f"a language model reads token ids of shape (B, T) and dtype long, got {tuple(tokens.shape)}")


@dataclass
class RecurrentLMConfig:
    """Hyper-parameters of :class:`RecurrentLanguageModel`."""

    embedding_dim: int = 64
    hidden_size: int = 512  # per layer
    num_layers: int = 2
    dropout: float = 0.1  # between the recurrent layers and before the head

    def __post_init__(self) -> None:
        require(
            min(self.embedding_dim, self.hidden_size, self.num_layers) >= 1,
            f"embedding_dim, hidden_size and num_layers must be >= 1, got {self.embedding_dim}, "
            f"{self.hidden_size}, {self.num_layers}",
        )
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")


class RecurrentLanguageModel(nn.Module):
    r"""Embedding → stacked RNN/LSTM/GRU → dropout → linear head over the vocabulary.

    .. math::
        e_t = E[x_t], \qquad h_t = \text{RNN}(e_t, h_{t-1}), \qquad \text{logits}_t = W\, \text{dropout}(h_t) + b

    Shapes: tokens (B, T), state as the recurrent layer's or None -> logits (B, T, V), state.

    Args:
        vocab_size: number of token ids V.
        cell: the recurrent layer, ``"rnn"``, ``"lstm"`` or ``"gru"``.
        config: sizes and dropout (:class:`RecurrentLMConfig`; its defaults when omitted).

    Example::

        >>> import torch
        >>> model = RecurrentLanguageModel(50, "gru", RecurrentLMConfig(embedding_dim=8, hidden_size=16))
        >>> logits, state = model(torch.zeros(3, 10, dtype=torch.long))
        >>> logits.shape, state.shape
        (torch.Size([3, 10, 50]), torch.Size([2, 3, 16]))
    """

    carries_state = True  # train with truncated BPTT: the state flows (detached) from one chunk to the next

    def __init__(self, vocab_size: int, cell: Literal["rnn", "lstm", "gru"], config: RecurrentLMConfig | None = None):
        super().__init__()
        config = config or RecurrentLMConfig()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim)
        self.rnn = recurrent_layer(cell, config.embedding_dim, config.hidden_size, config.num_layers, config.dropout)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, vocab_size)

    def forward(self, tokens: Tensor, state=None) -> tuple[Tensor, object]:
        _check_tokens(tokens)
        output, state = self.rnn(self.embedding(tokens), state)
        return self.head(self.dropout(output)), state

    @staticmethod
    def detach_state(state):
        """The state without its history, so that back-propagation stops at the chunk boundary."""
        if state is None:
            return None
        return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


@dataclass
class TransformerLMConfig(TransformerEncoderConfig):
    """Hyper-parameters of :class:`TransformerLanguageModel`: a wider, deeper stack than the encoders'."""

    d_model: int = 256
    dim_feedforward: int = 1024
    num_layers: int = 4
    activation: Literal["gelu", "relu"] = "gelu"  # of the feed-forward layers
    tie_embeddings: bool = False  # the output layer's weights are the embedding's (W = E): fewer parameters
    # 0: PyTorch's initialisation of every layer; > 0: GPT-2's, every matrix from N(0, init_std²), the residual
    # branches' output projections scaled by 1/sqrt(2 num_layers), biases 0
    init_std: float = 0.02
    # Keys added since, with the value of the runs saved before them.
    ADDED: ClassVar[dict[str, Any]] = {"activation": "gelu", "tie_embeddings": False, "init_std": 0.0}

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.init_std >= 0, f"init_std must be >= 0 (0: PyTorch's initialisation), got {self.init_std}")


class TransformerLanguageModel(nn.Module):
    r"""Decoder-only Transformer: causal self-attention over at most ``context`` tokens.

    .. math::
        x_i = E[t_i] + P_i, \qquad H = \text{Encoder}_{\text{causal}}(x_1 \dots x_n), \qquad
        \text{logits}_i = W \operatorname{LN}(H_i) + b

    Pre-norm layers (``norm_first``), learned positions; with ``tie_embeddings`` the output weights are the
    embedding (W = E, Press & Wolf 2017), one matrix that both reads and writes a token. The state is the previous
    tokens (B, ≤ context - 1): a call attends over ``state ++ tokens`` (cut to the last ``context``) and returns
    logits for ``tokens`` only.
    Shapes: tokens (B, T) with T <= context, state (B, S) or None -> logits (B, T, V), state (B, ≤ context - 1).

    Args:
        vocab_size: number of token ids V.
        context: the most tokens it attends over (its learned positions).
        config: sizes and dropout (:class:`TransformerLMConfig`; its defaults when omitted).

    Example::

        >>> import torch
        >>> config = TransformerLMConfig(d_model=16, nhead=2, dim_feedforward=32, num_layers=1)
        >>> model = TransformerLanguageModel(50, 8, config).eval()
        >>> logits, state = model(torch.zeros(3, 5, dtype=torch.long))
        >>> logits.shape, state.shape
        (torch.Size([3, 5, 50]), torch.Size([3, 5]))
    """

    carries_state = False  # trained on windows of `context` tokens; the state is used when generating and scoring

    def __init__(self, vocab_size: int, context: int, config: TransformerLMConfig | None = None):
        super().__init__()
        config = config or TransformerLMConfig()
        self.vocab_size, self.context = vocab_size, context
        self.embedding = nn.Embedding(vocab_size, config.d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)
        self.positions = LearnedPositionalEncoding(config.d_model, context)
        self.dropout = nn.Dropout(config.dropout)
        layer = TransformerEncoderLayer(
            config.d_model,
            config.nhead,
            config.dim_feedforward,
            config.dropout,
            activation=config.activation,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = TransformerEncoder(layer, config.num_layers)
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, vocab_size)
        if config.init_std > 0:
            for part in (self.encoder, self.head):
                init_gpt2_(part, config.init_std, residual_branches=2 * config.num_layers)
        if config.tie_embeddings:
            self.head.weight = self.embedding.weight

    def forward(self, tokens: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        _check_tokens(tokens)
        if tokens.shape[1] > self.context:
            raise ValueError(f"{tokens.shape[1]} tokens at once exceed the context of {self.context}")
        seen = tokens if state is None else torch.cat([state, tokens], dim=1)[:, -self.context :]
        n = seen.shape[1]
        x = self.dropout(self.positions(self.embedding(seen)))
        h = self.encoder(x, is_causal=True)
        logits = self.head(self.norm(h[:, n - tokens.shape[1] :]))
        return logits, seen[:, -(self.context - 1) :] if self.context > 1 else seen[:, :0]

    @staticmethod
    def detach_state(state):
        return state


@dataclass
class ConvolutionalLMConfig:
    """Hyper-parameters of :class:`ConvolutionalLanguageModel`."""

    embedding_dim: int = 64
    channels: int = 256  # of every temporal block
    levels: int = 5  # blocks; level l dilates by 2^l
    kernel_size: int = 3  # the receptive field is 1 + 2 (kernel_size - 1)(2^levels - 1): 125 characters by default
    dropout: float = 0.1  # inside the blocks and before the head

    def __post_init__(self) -> None:
        require(
            min(self.embedding_dim, self.channels, self.levels) >= 1 and self.kernel_size >= 2,
            "embedding_dim, channels and levels must be >= 1 and kernel_size >= 2",
        )
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")


class ConvolutionalLanguageModel(nn.Module):
    r"""Embedding → temporal convolutional network (causal, dilated) → dropout → linear head.

    .. math::
        e_t = E[x_t], \qquad h_t = \text{TCN}(e_{t-R+1} \dots e_t), \qquad \text{logits}_t = W\, \text{dropout}(h_t) + b

    Every position is computed at once, as in the Transformer; what it sees is bounded by the receptive field R
    (:attr:`context`). The state is the last R - 1 tokens (B, ≤ R - 1): a call reads ``state ++ tokens`` and returns
    logits for ``tokens`` only. Shapes: tokens (B, T), state (B, S) or None -> logits (B, T, V), state.

    Example::

        >>> import torch
        >>> config = ConvolutionalLMConfig(embedding_dim=8, channels=16, levels=3, kernel_size=2)
        >>> model = ConvolutionalLanguageModel(50, config).eval()
        >>> logits, state = model(torch.zeros(3, 10, dtype=torch.long))
        >>> model.context, logits.shape, state.shape
        (15, torch.Size([3, 10, 50]), torch.Size([3, 10]))
    """

    carries_state = False  # trained on windows of text; the state is used when generating and scoring

    def __init__(self, vocab_size: int, config: ConvolutionalLMConfig | None = None):
        super().__init__()
        config = config or ConvolutionalLMConfig()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim)
        self.tcn = TCN(config.embedding_dim, config.channels, config.levels, config.kernel_size, config.dropout)
        self.context = self.tcn.receptive_field
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.channels, vocab_size)

    def forward(self, tokens: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        _check_tokens(tokens)
        seen = tokens if state is None else torch.cat([state, tokens], dim=1)
        h = self.tcn(self.embedding(seen))[:, seen.shape[1] - tokens.shape[1] :]
        return self.head(self.dropout(h)), seen[:, -(self.context - 1) :]

    @staticmethod
    def detach_state(state):
        return state
