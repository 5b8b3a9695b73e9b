r"""Token-to-token encoder–decoders: one context vector, RNN with attention, and the Transformer.

All three read a padded source (B, S) of token ids with its lengths (B,) and implement the same interface, so
training, evaluation and :mod:`nnzoo.decode` treat them alike:

* ``forward(src, src_lengths, tgt_in) -> logits`` (B, T, V): teacher forcing, ``tgt_in`` being the target shifted
  right (start token first);
* ``encode(src, src_lengths) -> memory``, ``init_state(memory)``, ``step(tokens, state) -> (log_probs, state)``
  and ``reorder_state(state, index)`` for greedy and beam search;
* ``attention_weights(src, src_lengths, tgt_in)`` -> (B, T, S) for attention maps (not for the context-vector
  model, which has no attention: that is its point).

==========================  ==================================================================================
:class:`ContextSeq2Seq`     the notes' encoder–decoder: the encoder's final state c starts the decoder
                            (Sutskever et al. 2014, Cho et al. 2014). Everything passes through c.
:class:`AttentionSeq2Seq`   bidirectional LSTM encoder; the decoder attends to every encoder state at every
                            step (Bahdanau et al. 2015), its own context :math:`c_t` per output.
:class:`TransformerSeq2Seq` the Transformer with token embeddings, positional encodings and a key/value cache.
:class:`Seq2SeqEnsemble`    several trained models of the same vocabularies decoding as one: the mean of their
                            next-symbol probabilities.
==========================  ==================================================================================

Each takes its vocabulary sizes (and the Transformer its longest sequence) from the data, and its
hyper-parameters from the config dataclass beside it: :class:`ContextSeq2SeqConfig`,
:class:`AttentionSeq2SeqConfig`, :class:`TransformerSeq2SeqConfig`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo.decode import select
from nnzoo.errors import require
from nnzoo.nn.attention import AdditiveAttention, ConcatAttention, GeneralAttention, additive_mask, padding_mask
from nnzoo.nn.recurrent import LSTM, RECURRENT_LAYERS, LSTMCell
from nnzoo.nn.rnn_patterns import EncoderDecoder, final_hidden
from nnzoo.nn.transformer import (
    LearnedPositionalEncoding,
    SinusoidalPositionalEncoding,
    Transformer,
    TransformerSizes,
    init_gpt2_,
)


def _check_source(src: Tensor, lengths: Tensor) -> None:
    if src.dim() != 2 or src.dtype != torch.long:
        raise ValueError(f"src must be a (B, S) tensor of token ids, got {tuple(src.shape)} {src.dtype}")
    if tuple(lengths.shape) != (src.shape[0],) or bool((lengths < 1).any()) or bool((lengths > src.shape[1]).any()):
        raise ValueError(
            f"src_lengths must be ({src.shape[0]},) with values in [1, {src.shape[1]}], got {lengths.tolist()}"
        )


def _check_recurrent_sizes(embed_dim: int, hidden_size: int, num_layers: int, dropout: float) -> None:
    require(
        min(embed_dim, hidden_size, num_layers) >= 1,
        f"embed_dim, hidden_size and num_layers must be >= 1, got {embed_dim}, {hidden_size}, {num_layers}",
    )
    require(0 <= dropout < 1, f"dropout must be in [0, 1), got {dropout}")


@dataclass
class ContextSeq2SeqConfig:
    """Hyper-parameters of :class:`ContextSeq2Seq`."""

    embed_dim: int = 128  # source and target embeddings
    hidden_size: int = 256  # the recurrent layers' state, and so the context vector
    num_layers: int = 2  # in the encoder and in the decoder
    dropout: float = 0.2  # on the embeddings, between recurrent layers and before the head
    cell: Literal["gru", "lstm", "rnn"] = "gru"
    bidirectional: bool = False  # a bidirectional encoder (bridged to the decoder's size)

    def __post_init__(self) -> None:
        _check_recurrent_sizes(self.embed_dim, self.hidden_size, self.num_layers, self.dropout)
        require(self.cell in RECURRENT_LAYERS, f"cell must be one of {', '.join(RECURRENT_LAYERS)}, got {self.cell!r}")


class ContextSeq2Seq(nn.Module):
    r"""Encoder–decoder through one context vector:

    .. math::
        c = h^{enc}_{|x|}, \quad s_0 = c, \quad s_t = \operatorname{RNN}(E y_{t-1}, s_{t-1}), \quad
        p(y_t \mid y_{<t}, x) = \operatorname{softmax}(W s_t + b)

    Built on :class:`nnzoo.nn.EncoderDecoder` (which bridges a bidirectional encoder to the decoder's size).

    Args:
        source_vocab_size: number of token ids of the source side.
        target_vocab_size: number of token ids of the target side.
        config: sizes, cell and dropout (:class:`ContextSeq2SeqConfig`; its defaults when omitted).
        pad_id: the padding id of both vocabularies (its embeddings stay zero).

    Example::

        >>> import torch
        >>> model = ContextSeq2Seq(20, 15, ContextSeq2SeqConfig(embed_dim=8, hidden_size=16))
        >>> src, lengths, tgt_in = torch.randint(3, 20, (2, 7)), torch.tensor([7, 4]), torch.randint(3, 15, (2, 5))
        >>> model(src, lengths, tgt_in).shape
        torch.Size([2, 5, 15])
    """

    def __init__(
        self,
        source_vocab_size: int,
        target_vocab_size: int,
        config: ContextSeq2SeqConfig | None = None,
        *,
        pad_id: int = 0,
    ):
        super().__init__()
        config = config or ContextSeq2SeqConfig()
        layer = RECURRENT_LAYERS[config.cell]
        between = config.dropout if config.num_layers > 1 else 0.0
        self.src_embed = nn.Embedding(source_vocab_size, config.embed_dim, padding_idx=pad_id)
        self.tgt_embed = nn.Embedding(target_vocab_size, config.embed_dim, padding_idx=pad_id)
        self.core = EncoderDecoder(
            layer(
                config.embed_dim,
                config.hidden_size,
                config.num_layers,
                batch_first=True,
                dropout=between,
                bidirectional=config.bidirectional,
            ),
            layer(config.embed_dim, config.hidden_size, config.num_layers, batch_first=True, dropout=between),
            nn.Linear(config.hidden_size, target_vocab_size),
        )
        self.dropout = nn.Dropout(config.dropout)
        self.has_cell_state = config.cell == "lstm"

    def encode(self, src: Tensor, src_lengths: Tensor) -> Any:
        _check_source(src, src_lengths)
        return self.core.context(self.dropout(self.src_embed(src)), src_lengths)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        output, _ = self.core.decoder(self.dropout(self.tgt_embed(tgt_in)), self.encode(src, src_lengths))
        return self.core.head(self.dropout(output))

    def init_state(self, memory: Any) -> Any:
        return memory

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        output, state = self.core.decoder(self.tgt_embed(tokens).unsqueeze(1), state)
        return F.log_softmax(self.core.head(output[:, 0]), dim=-1), state

    def reorder_state(self, state: Any, index: Tensor) -> Any:
        return select(state, index, dim=1)  # (L, B, H)

    def attention_weights(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> None:
        return None


ATTENTION_SCORES = ("additive", "general", "concat")


@dataclass
class AttentionSeq2SeqConfig:
    """Hyper-parameters of :class:`AttentionSeq2Seq`."""

    embed_dim: int = 128  # source and target embeddings
    hidden_size: int = 256  # per direction in the encoder; the decoder's state
    num_layers: int = 1  # encoder layers; the decoder is one attentive LSTM cell
    dropout: float = 0.2  # on the embeddings, between encoder layers and before the head
    attention: Literal["additive", "general", "concat"] = "additive"  # the score (Bahdanau, or Luong's two)

    def __post_init__(self) -> None:
        _check_recurrent_sizes(self.embed_dim, self.hidden_size, self.num_layers, self.dropout)
        require(
            self.attention in ATTENTION_SCORES,
            f"attention must be one of {', '.join(ATTENTION_SCORES)}, got {self.attention!r}",
        )


class AttentionSeq2Seq(nn.Module):
    r"""Bidirectional LSTM encoder and an attentive LSTM decoder (Bahdanau et al. 2015; output layer of Luong 2015):

    .. math::
        h_j = [\overrightarrow{h}_j; \overleftarrow{h}_j], \qquad
        c_t = \sum_j \alpha_{tj} h_j, \quad
        \alpha_{t\cdot} = \operatorname{softmax}_j \operatorname{score}(s_{t-1}, h_j) \\
        s_t = \operatorname{LSTM}([E y_{t-1}; c_t], s_{t-1}), \qquad
        p(y_t \mid y_{<t}, x) = \operatorname{softmax}(W_o \tanh(W_c [s_t; c_t]))

    The decoder starts from :math:`s_0 = \tanh(W_b [\overrightarrow{h}_{|x|}; \overleftarrow{h}_1])`. The score is
    additive (Bahdanau), ``general`` or ``concat`` (Luong); see :mod:`nnzoo.nn.attention`.

    Args:
        source_vocab_size: number of token ids of the source side.
        target_vocab_size: number of token ids of the target side.
        config: sizes, score and dropout (:class:`AttentionSeq2SeqConfig`; its defaults when omitted).
        pad_id: the padding id of both vocabularies (its embeddings stay zero).

    Example::

        >>> import torch
        >>> model = AttentionSeq2Seq(20, 15, AttentionSeq2SeqConfig(embed_dim=8, hidden_size=16))
        >>> src, lengths, tgt_in = torch.randint(3, 20, (2, 7)), torch.tensor([7, 4]), torch.randint(3, 15, (2, 5))
        >>> model(src, lengths, tgt_in).shape, model.attention_weights(src, lengths, tgt_in).shape
        (torch.Size([2, 5, 15]), torch.Size([2, 5, 7]))
    """

    def __init__(
        self,
        source_vocab_size: int,
        target_vocab_size: int,
        config: AttentionSeq2SeqConfig | None = None,
        *,
        pad_id: int = 0,
    ):
        super().__init__()
        config = config or AttentionSeq2SeqConfig()
        memory = 2 * config.hidden_size
        self.src_embed = nn.Embedding(source_vocab_size, config.embed_dim, padding_idx=pad_id)
        self.tgt_embed = nn.Embedding(target_vocab_size, config.embed_dim, padding_idx=pad_id)
        self.encoder = LSTM(
            config.embed_dim,
            config.hidden_size,
            config.num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        scores = {
            "additive": lambda: AdditiveAttention(config.hidden_size, memory, config.hidden_size),
            "general": lambda: GeneralAttention(config.hidden_size, memory),
            "concat": lambda: ConcatAttention(config.hidden_size, memory, config.hidden_size),
        }
        if config.attention not in scores:
            raise ValueError(f"config.attention must be one of {', '.join(scores)}, got {config.attention!r}")
        self.attention = scores[config.attention]()
        self.bridge_h, self.bridge_c = nn.Linear(memory, config.hidden_size), nn.Linear(memory, config.hidden_size)
        self.decoder = LSTMCell(config.embed_dim + memory, config.hidden_size)
        self.combine = nn.Linear(config.hidden_size + memory, config.hidden_size)
        self.head = nn.Linear(config.hidden_size, target_vocab_size)
        self.dropout = nn.Dropout(config.dropout)
        self.num_layers = config.num_layers

    def encode(self, src: Tensor, src_lengths: Tensor) -> dict[str, Tensor]:
        _check_source(src, src_lengths)
        states, (h_n, c_n) = self.encoder(self.dropout(self.src_embed(src)), lengths=src_lengths)
        return {
            "keys": states,  # (B, S, 2H)
            "prepared": self.attention.prepare_keys(states),
            "padding": padding_mask(src_lengths, src.shape[1]),
            "h": torch.tanh(self.bridge_h(final_hidden(h_n, self.num_layers, True))),
            "c": torch.tanh(self.bridge_c(final_hidden(c_n, self.num_layers, True))),
        }

    def _step(self, embedded: Tensor, h: Tensor, c: Tensor, memory: dict) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One output position: logits (B, V), the new state, and the attention weights (B, S)."""
        context, weights = self.attention(h, memory["keys"], None, memory["padding"], prepared=memory["prepared"])
        h, c = self.decoder(torch.cat([embedded, context], dim=-1), (h, c))
        combined = torch.tanh(self.combine(torch.cat([h, context], dim=-1)))
        return self.head(self.dropout(combined)), h, c, weights

    def _teacher_forced(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor]:
        memory = self.encode(src, src_lengths)
        h, c = memory["h"], memory["c"]
        logits, weights = [], []
        for embedded in self.dropout(self.tgt_embed(tgt_in)).unbind(1):
            step_logits, h, c, step_weights = self._step(embedded, h, c, memory)
            logits.append(step_logits)
            weights.append(step_weights)
        return torch.stack(logits, dim=1), torch.stack(weights, dim=1)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        return self._teacher_forced(src, src_lengths, tgt_in)[0]

    def attention_weights(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        return self._teacher_forced(src, src_lengths, tgt_in)[1]

    def init_state(self, memory: dict[str, Tensor]) -> dict[str, Tensor]:
        return {**memory}

    def step(self, tokens: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        logits, h, c, _ = self._step(self.tgt_embed(tokens), state["h"], state["c"], state)
        return F.log_softmax(logits, dim=-1), {**state, "h": h, "c": c}

    def reorder_state(self, state: dict[str, Tensor], index: Tensor) -> dict[str, Tensor]:
        return select(state, index, dim=0)


@dataclass
class TransformerSeq2SeqConfig(TransformerSizes):
    """Hyper-parameters of :class:`TransformerSeq2Seq`: wider than the encoders' defaults, pre-norm."""

    d_model: int = 256
    dim_feedforward: int = 1024
    encoder_layers: int = 3
    decoder_layers: int = 3
    norm_first: bool = True  # pre-norm layers; false: the paper's post-norm
    positional: Literal["sinusoidal", "learned"] = "sinusoidal"  # fixed sinusoids or a learned vector per position
    # 0: PyTorch's initialisation of the layers; > 0: GPT-2's (nnzoo.nn.transformer.init_gpt2_) for the layers and
    # the output layer, N(0, init_std²); the embeddings keep theirs
    init_std: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.init_std >= 0, f"init_std must be >= 0 (0: PyTorch's initialisation), got {self.init_std}")
        require(
            self.encoder_layers >= 1 and self.decoder_layers >= 1,
            f"encoder_layers and decoder_layers must be >= 1, got {self.encoder_layers} and {self.decoder_layers}",
        )
        require(
            self.positional in ("sinusoidal", "learned"),
            f"positional must be 'sinusoidal' or 'learned', got {self.positional!r}",
        )


class TransformerSeq2Seq(nn.Module):
    r"""The Transformer over tokens: scaled embeddings plus positional encodings, :class:`nnzoo.nn.Transformer`,
    and a linear output layer.

    .. math::
        x_i = \sqrt{d}\, E\, w_i + PE_i, \qquad p(y_t \mid y_{<t}, x) = \operatorname{softmax}(W\, \text{dec}_t + b)

    Teacher forcing runs the decoder on all positions at once with a causal mask (``is_causal``, so no (T, T)
    mask is built); :meth:`step` runs one position against the key/value cache of the earlier ones.

    Args:
        source_vocab_size: number of token ids of the source side.
        target_vocab_size: number of token ids of the target side.
        max_len: the longest source or target it reads (its positions).
        config: sizes, norm placement and positions (:class:`TransformerSeq2SeqConfig`; its defaults when omitted).
        pad_id: the padding id of both vocabularies (its embeddings stay zero).

    Example::

        >>> import torch
        >>> config = TransformerSeq2SeqConfig(d_model=16, nhead=2, dim_feedforward=32, encoder_layers=1)
        >>> model = TransformerSeq2Seq(20, 15, 32, config)
        >>> src, lengths, tgt_in = torch.randint(3, 20, (2, 7)), torch.tensor([7, 4]), torch.randint(3, 15, (2, 5))
        >>> model(src, lengths, tgt_in).shape
        torch.Size([2, 5, 15])
    """

    def __init__(
        self,
        source_vocab_size: int,
        target_vocab_size: int,
        max_len: int,
        config: TransformerSeq2SeqConfig | None = None,
        *,
        pad_id: int = 0,
    ):
        super().__init__()
        config = config or TransformerSeq2SeqConfig()
        d_model = config.d_model
        self.src_embed = nn.Embedding(source_vocab_size, d_model, padding_idx=pad_id)
        self.tgt_embed = nn.Embedding(target_vocab_size, d_model, padding_idx=pad_id)
        for embedding in (self.src_embed, self.tgt_embed):
            nn.init.normal_(embedding.weight, std=d_model**-0.5)  # with the √d scale below, unit variance
        encoding = SinusoidalPositionalEncoding if config.positional == "sinusoidal" else LearnedPositionalEncoding
        self.src_position, self.tgt_position = encoding(d_model, max_len), encoding(d_model, max_len)
        self.transformer = Transformer(
            d_model,
            config.nhead,
            config.encoder_layers,
            config.decoder_layers,
            config.dim_feedforward,
            config.dropout,
            batch_first=True,
            norm_first=config.norm_first,
        )
        self.head = nn.Linear(d_model, target_vocab_size)
        if config.init_std > 0:
            init_gpt2_(self.transformer.encoder, config.init_std, residual_branches=2 * config.encoder_layers)
            init_gpt2_(self.transformer.decoder, config.init_std, residual_branches=3 * config.decoder_layers)
            init_gpt2_(self.head, config.init_std, residual_branches=1)
        self.dropout = nn.Dropout(config.dropout)
        self.scale = math.sqrt(d_model)

    def _embed(self, tokens: Tensor, embedding: nn.Embedding, position: nn.Module, offset: int = 0) -> Tensor:
        return self.dropout(position(embedding(tokens) * self.scale, offset))

    def encode(self, src: Tensor, src_lengths: Tensor) -> dict[str, Tensor]:
        _check_source(src, src_lengths)
        padding = padding_mask(src_lengths, src.shape[1])
        memory = self.transformer.encoder(self._embed(src, self.src_embed, self.src_position), None, padding)
        return {"memory": memory, "padding": padding}

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        encoded = self.encode(src, src_lengths)
        # Targets are right-padded, so the causal mask already keeps real positions from seeing padding.
        output = self.transformer.decoder(
            self._embed(tgt_in, self.tgt_embed, self.tgt_position),
            encoded["memory"],
            memory_key_padding_mask=encoded["padding"],
            tgt_is_causal=True,
        )
        return self.head(output)

    def init_state(self, memory: dict[str, Tensor]) -> dict[str, Any]:
        decoder = self.transformer.decoder
        batch, length = memory["padding"].shape
        mask = additive_mask(memory["padding"], memory["memory"].dtype).view(batch, 1, 1, length)
        return {
            "memory_kv": [layer.memory_key_value(memory["memory"]) for layer in decoder.layers],
            "mask": mask,
            "caches": [None] * len(decoder.layers),
            "position": 0,
        }

    def step(self, tokens: Tensor, state: dict[str, Any], need_weights: bool = False):
        x = self._embed(tokens.unsqueeze(1), self.tgt_embed, self.tgt_position, offset=state["position"])
        output, caches, weights = self.transformer.decoder.step(
            x, state["memory_kv"], state["caches"], state["mask"], need_weights
        )
        new_state = {**state, "caches": caches, "position": state["position"] + 1}
        log_probs = F.log_softmax(self.head(output[:, 0]), dim=-1)
        return (log_probs, new_state, weights) if need_weights else (log_probs, new_state)

    def reorder_state(self, state: dict[str, Any], index: Tensor) -> dict[str, Any]:
        return {**select({k: v for k, v in state.items() if k != "position"}, index), "position": state["position"]}

    def attention_weights(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        """Cross-attention of the last decoder layer, averaged over heads: (B, T, S)."""
        state = self.init_state(self.encode(src, src_lengths))
        weights = []
        for tokens in tgt_in.unbind(1):
            _, state, step_weights = self.step(tokens, state, need_weights=True)
            weights.append(step_weights.mean(dim=1)[:, 0])  # (B, h, 1, S) -> (B, S)
        return torch.stack(weights, dim=1)


class Seq2SeqEnsemble(nn.Module):
    r"""Several encoder–decoders over the same vocabularies, decoding as one model whose next-symbol distribution is
    the mean of theirs:

    .. math::
        p(y_t \mid y_{<t}, x) = \frac{1}{M} \sum_{m=1}^{M} p_m(y_t \mid y_{<t}, x),
        \qquad \log p = \operatorname{logsumexp}_m (\log p_m) - \log M

    Each member keeps its own encoder output and decoder state; greedy and beam search see one model. ``forward``
    returns :math:`\log p` (B, T, V), which is its own log-softmax, so the cross-entropy of the ensemble is
    computed as for any member."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        require(len(members) >= 1, "an ensemble needs at least one model")
        self.members = nn.ModuleList(members)

    def _mean(self, log_probs: list[Tensor]) -> Tensor:
        return torch.logsumexp(torch.stack(log_probs), dim=0) - math.log(len(log_probs))

    def encode(self, src: Tensor, src_lengths: Tensor) -> list[Any]:
        return [member.encode(src, src_lengths) for member in self.members]

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        return self._mean([F.log_softmax(m(src, src_lengths, tgt_in), dim=-1) for m in self.members])

    def init_state(self, memory: list[Any]) -> list[Any]:
        return [member.init_state(part) for member, part in zip(self.members, memory, strict=True)]

    def step(self, tokens: Tensor, state: list[Any]) -> tuple[Tensor, list[Any]]:
        stepped = [member.step(tokens, part) for member, part in zip(self.members, state, strict=True)]
        return self._mean([log_probs for log_probs, _ in stepped]), [part for _, part in stepped]

    def reorder_state(self, state: list[Any], index: Tensor) -> list[Any]:
        return [member.reorder_state(part, index) for member, part in zip(self.members, state, strict=True)]

    def attention_weights(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> None:
        return None  # members attend differently; draw each member's own map
