r"""The Transformer (Vaswani et al. 2017) from its equations, with PyTorch's parameter names.

Reading order: positional encodings, the encoder layer, the decoder layer (with its one-position ``step`` for
incremental decoding), the stacks, the full encoder–decoder :class:`Transformer`.

An encoder layer is self-attention and a position-wise feed-forward network, each wrapped in a residual
connection and layer normalisation. *Post-norm* (the paper) normalises after the residual sum, *pre-norm*
(``norm_first=True``) before the sub-layer, which trains more stably in deep stacks:

.. math::
    \text{post-norm:}\quad x \leftarrow \operatorname{LN}(x + \operatorname{SA}(x)), \quad
                          x \leftarrow \operatorname{LN}(x + \operatorname{FF}(x)) \\
    \text{pre-norm:}\quad  x \leftarrow x + \operatorname{SA}(\operatorname{LN}(x)), \quad
                          x \leftarrow x + \operatorname{FF}(\operatorname{LN}(x)) \\
    \operatorname{FF}(x) = W_2\, \phi(W_1 x + b_1) + b_2

A decoder layer adds, between the two, cross-attention from the decoder's positions (queries) to the encoder's
output, the *memory* (keys and values). Its self-attention is causal: position t sees positions ≤ t only.

Shapes follow ``torch.nn``: (L, N, E) or, with ``batch_first=True``, (N, L, E).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nnzoo.errors import require
from nnzoo.nn.attention import MultiheadAttention, causal_mask

# ----------------------------------------------------------------------------------------------------------------
# Positional encodings
# ----------------------------------------------------------------------------------------------------------------


class SinusoidalPositionalEncoding(nn.Module):
    r"""Fixed positional encoding of "Attention Is All You Need", added to the input:

    .. math::
        PE_{(p, 2i)} = \sin\!\left(p / 10000^{2i/d}\right), \qquad PE_{(p, 2i+1)} = \cos\!\left(p / 10000^{2i/d}\right)

    Every dimension is a sinusoid of another wavelength (2π to 10000·2π), so a fixed offset is a linear map of
    the encoding. Shapes: x (B, L, d) -> (B, L, d), positions ``offset … offset + L - 1``.
    """

    def __init__(self, d_model: int, max_len: int = 4096):
        super().__init__()
        if d_model < 2 or d_model % 2:
            raise ValueError(f"d_model must be even and >= 2 for sinusoidal encodings, got {d_model}")
        position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
        frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model, dtype=torch.float64)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency)
        self.register_buffer("table", table.float(), persistent=False)  # not a parameter: recomputed, not saved

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        _check_positions(x, offset, self.table.shape[0])
        return x + self.table[offset : offset + x.shape[1]].to(x.dtype)


class LearnedPositionalEncoding(nn.Module):
    """A learned vector per position (as in BERT and GPT), added to the input. Shapes as the sinusoidal one."""

    def __init__(self, d_model: int, max_len: int = 512):
        super().__init__()
        self.embedding = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        _check_positions(x, offset, self.embedding.num_embeddings)
        positions = torch.arange(offset, offset + x.shape[1], device=x.device)
        return x + self.embedding(positions)


def _check_positions(x: Tensor, offset: int, max_len: int) -> None:
    if x.dim() != 3:
        raise ValueError(f"positional encodings expect (B, L, d), got {tuple(x.shape)}")
    if offset + x.shape[1] > max_len:
        raise ValueError(f"positions up to {offset + x.shape[1] - 1} exceed max_len={max_len}; build it longer")


# ----------------------------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------------------------


def _activation(activation: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    if callable(activation):
        return activation
    if activation not in ("relu", "gelu"):
        raise ValueError(f"activation must be 'relu', 'gelu' or a callable, got {activation!r}")
    return F.relu if activation == "relu" else F.gelu


class TransformerEncoderLayer(nn.Module):
    """Self-attention and feed-forward, each with residual and layer norm (post- or pre-norm).

    Arguments, parameter names (``self_attn.in_proj_weight``, ``linear1``, ``norm1`` …) and ``forward(src,
    src_mask=None, src_key_padding_mask=None, is_causal=False)`` are those of ``torch.nn.TransformerEncoderLayer``.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first=batch_first, **factory)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.activation = _activation(activation)
        self.norm_first, self.batch_first = norm_first, batch_first

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._feed_forward(self.norm2(x))
        x = self.norm1(x + self._self_attention(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._feed_forward(x))

    def _self_attention(self, x, mask, padding, is_causal) -> Tensor:
        out, _ = self.self_attn(x, x, x, padding, need_weights=False, attn_mask=mask, is_causal=is_causal)
        return self.dropout1(out)

    def _feed_forward(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(nn.Module):
    """Causal self-attention, cross-attention to the memory, feed-forward; residual and layer norm around each.

    Arguments, parameter names (``self_attn``, ``multihead_attn``, ``linear1``, ``norm1``–``norm3`` …) and
    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)`` are those of
    ``torch.nn.TransformerDecoderLayer``. :meth:`step` computes one new position from a key/value cache.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first=batch_first, **factory)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first=batch_first, **factory)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1, self.dropout2, self.dropout3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)
        self.activation = _activation(activation)
        self.norm_first, self.batch_first = norm_first, batch_first

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        def self_attention(x):
            out, _ = self.self_attn(
                x, x, x, tgt_key_padding_mask, need_weights=False, attn_mask=tgt_mask, is_causal=tgt_is_causal
            )
            return self.dropout1(out)

        def cross_attention(x):
            out, _ = self.multihead_attn(
                x,
                memory,
                memory,
                memory_key_padding_mask,
                need_weights=False,
                attn_mask=memory_mask,
                is_causal=memory_is_causal,
            )
            return self.dropout2(out)

        x = tgt
        if self.norm_first:
            x = x + self_attention(self.norm1(x))
            x = x + cross_attention(self.norm2(x))
            return x + self._feed_forward(self.norm3(x))
        x = self.norm1(x + self_attention(x))
        x = self.norm2(x + cross_attention(x))
        return self.norm3(x + self._feed_forward(x))

    def _feed_forward(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    # --- incremental decoding -----------------------------------------------------------------------------------
    def memory_key_value(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        """Cross-attention keys and values of the memory (B, S, E), once per sequence: (B, h, S, E/h) each."""
        return self.multihead_attn.project_key_value(memory, memory)

    def step(
        self,
        x: Tensor,
        memory_kv: tuple[Tensor, Tensor],
        cache: tuple[Tensor, Tensor] | None = None,
        memory_mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, tuple[Tensor, Tensor], Tensor | None]:
        """The layer at one new position, batch-first: x (B, 1, E) -> (B, 1, E).

        ``cache`` holds the self-attention keys and values of the earlier positions, (B, h, t, E/h) each; the new
        position attends to them and to itself, so no causal mask is needed and the cost is O(t), not O(t²).
        ``memory_mask`` is additive, broadcastable to (B, h, 1, S). Returns the output, the cache grown by one
        position, and the cross-attention weights (B, h, 1, S) if ``need_weights``.
        """

        def self_attention(y):
            q, k, v = self.self_attn.project(y, y, y)
            keys = k if cache is None else torch.cat([cache[0], k], dim=2)
            values = v if cache is None else torch.cat([cache[1], v], dim=2)
            out, _ = self.self_attn.attend(q, keys, values)
            return self.dropout1(out), (keys, values)

        def cross_attention(y):
            q = self.multihead_attn.project_query(y)
            out, weights = self.multihead_attn.attend(q, *memory_kv, memory_mask, need_weights=need_weights)
            return self.dropout2(out), weights

        if self.norm_first:
            attended, new_cache = self_attention(self.norm1(x))
            x = x + attended
            attended, weights = cross_attention(self.norm2(x))
            x = x + attended
            return x + self._feed_forward(self.norm3(x)), new_cache, weights
        attended, new_cache = self_attention(x)
        x = self.norm1(x + attended)
        attended, weights = cross_attention(x)
        x = self.norm2(x + attended)
        return self.norm3(x + self._feed_forward(x)), new_cache, weights


# ----------------------------------------------------------------------------------------------------------------
# Stacks and the full model
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class TransformerSizes:
    """Width, heads, feed-forward size and dropout of a Transformer: the hyper-parameters every model built from
    these layers shares. ``d_model`` must split evenly over the heads."""

    d_model: int = 128
    nhead: int = 4
    dim_feedforward: int = 256
    dropout: float = 0.1

    def __post_init__(self) -> None:
        require(self.d_model % self.nhead == 0, f"d_model ({self.d_model}) must be a multiple of nhead ({self.nhead})")
        require(min(self.d_model, self.nhead, self.dim_feedforward) >= 1, "d_model, nhead, dim_feedforward >= 1")
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")


@dataclass
class TransformerEncoderConfig(TransformerSizes):
    """A Transformer encoder stack of ``num_layers`` layers (the models that read a sequence with one)."""

    num_layers: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.num_layers >= 1, f"num_layers must be >= 1, got {self.num_layers}")


class TransformerEncoder(nn.Module):
    """``num_layers`` copies of an encoder layer and an optional final norm (as ``torch.nn.TransformerEncoder``)."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: nn.Module | None = None):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.layers = nn.ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers, self.norm = num_layers, norm

    def forward(
        self,
        src: Tensor,
        mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, mask, src_key_padding_mask, is_causal)
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(nn.Module):
    """``num_layers`` copies of a decoder layer and an optional final norm (as ``torch.nn.TransformerDecoder``)."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: nn.Module | None = None):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.layers = nn.ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers, self.norm = num_layers, norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = tgt
        for layer in self.layers:
            x = layer(
                x,
                memory,
                tgt_mask,
                memory_mask,
                tgt_key_padding_mask,
                memory_key_padding_mask,
                tgt_is_causal,
                memory_is_causal,
            )
        return x if self.norm is None else self.norm(x)

    def step(
        self,
        x: Tensor,
        memory_kv: list[tuple[Tensor, Tensor]],
        caches: list[tuple[Tensor, Tensor] | None],
        memory_mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, list[tuple[Tensor, Tensor]], Tensor | None]:
        """All layers at one new position (see :meth:`TransformerDecoderLayer.step`); weights of the last layer."""
        new_caches, weights = [], None
        for layer, kv, cache in zip(self.layers, memory_kv, caches):
            x, cache, weights = layer.step(x, kv, cache, memory_mask, need_weights)
            new_caches.append(cache)
        return (x if self.norm is None else self.norm(x)), new_caches, weights


class Transformer(nn.Module):
    """The encoder–decoder Transformer, with the arguments and parameter names of ``torch.nn.Transformer``.

    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
    memory_is_causal=False)``: (S, N, E) and (T, N, E), or batch-first, -> (T, N, E).
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        custom_encoder: nn.Module | None = None,
        custom_decoder: nn.Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        layer_args = (
            d_model,
            nhead,
            dim_feedforward,
            dropout,
            activation,
            layer_norm_eps,
            batch_first,
            norm_first,
            bias,
        )
        self.encoder = custom_encoder or TransformerEncoder(
            TransformerEncoderLayer(*layer_args, **factory),
            num_encoder_layers,
            nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory),
        )
        self.decoder = custom_decoder or TransformerDecoder(
            TransformerDecoderLayer(*layer_args, **factory),
            num_decoder_layers,
            nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory),
        )
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for parameter in self.parameters():  # as PyTorch: Xavier-uniform for every matrix
            if parameter.dim() > 1:
                nn.init.xavier_uniform_(parameter)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Tensor | None = None,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        batch = 0 if self.batch_first else 1
        if src.dim() == 3 and src.shape[batch] != tgt.shape[batch]:
            raise ValueError(
                f"src and tgt must have the same batch size, got {src.shape[batch]} and {tgt.shape[batch]}"
            )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"src and tgt must have {self.d_model} features, got {src.shape[-1]} and {tgt.shape[-1]}")
        memory = self.encoder(src, src_mask, src_key_padding_mask, bool(src_is_causal))
        return self.decoder(
            tgt,
            memory,
            tgt_mask,
            memory_mask,
            tgt_key_padding_mask,
            memory_key_padding_mask,
            bool(tgt_is_causal),
            memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(size: int, device=None, dtype: torch.dtype = torch.float32) -> Tensor:
        """The causal mask: 0 on and below the diagonal, -inf above."""
        return causal_mask(size, device=device, dtype=dtype)


def init_gpt2_(stack: nn.Module, std: float, residual_branches: int) -> None:
    r"""GPT-2's initialisation (Radford et al. 2019) of a stack of layers, in place: every matrix from
    :math:`\mathcal{N}(0, \sigma^2)`, biases 0, layer norms untouched; the projections that end a residual branch
    (attention's ``out_proj``, the feed-forward's ``linear2``) from :math:`\mathcal{N}(0, \sigma^2 / N)` with
    ``residual_branches`` :math:`N` the number of branches the stack adds to its residual stream (2 per encoder
    layer, 3 per decoder layer), so that their sum starts with the variance of one branch."""
    for name, p in stack.named_parameters():
        if p.dim() >= 2:
            residual = name.endswith(("out_proj.weight", "linear2.weight"))
            nn.init.normal_(p, std=std / math.sqrt(residual_branches) if residual else std)
        elif "norm" not in name:
            nn.init.zeros_(p)


__all__ = [
    "LearnedPositionalEncoding",
    "SinusoidalPositionalEncoding",
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "init_gpt2_",
]
