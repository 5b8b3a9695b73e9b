r"""Attention from the equations: additive (Bahdanau), Luong's dot/general/concat, scaled dot-product, multi-head.

Every attention reads a query :math:`q` against keys :math:`k_j` and values :math:`v_j`. It scores each key,
turns the scores into weights with a softmax over the keys that are allowed, and returns the weighted sum of the
values, the *context*:

.. math::
    e_j = \operatorname{score}(q, k_j), \qquad
    \alpha_j = \frac{\exp e_j}{\sum_{j'} \exp e_{j'}}, \qquad
    c = \sum_j \alpha_j v_j

The attentions differ only in the score. Shapes are batch-first: queries (B, L, ·), keys and values (B, S, ·).

Masks follow ``torch.nn.MultiheadAttention``: a boolean mask marks with True the keys a query may *not* attend
to; a float mask is added to the scores (``-inf`` blocks). A query whose keys are all blocked gets all-zero
weights and a zero context. This is defined behaviour with no NaN; PyTorch returns NaN there.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

# ----------------------------------------------------------------------------------------------------------------
# Masks
# ----------------------------------------------------------------------------------------------------------------


def causal_mask(length: int, device=None, dtype: torch.dtype = torch.float32) -> Tensor:
    """(length, length) additive mask: 0 on and below the diagonal, -inf above (query t sees keys <= t)."""
    return torch.full((length, length), float("-inf"), device=device, dtype=dtype).triu(1)


def padding_mask(lengths: Tensor, max_len: int) -> Tensor:
    """(B, max_len) boolean, True at padded positions (the convention of ``key_padding_mask``)."""
    return torch.arange(max_len, device=lengths.device).unsqueeze(0) >= lengths.unsqueeze(1)


def additive_mask(mask: Tensor | None, dtype: torch.dtype) -> Tensor | None:
    """A boolean mask (True = blocked) as 0/-inf, or a float mask as it is, in ``dtype``."""
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(mask, float("-inf"))
    if not mask.is_floating_point():
        raise ValueError(f"a mask must be boolean (True = blocked) or float (added to the scores), got {mask.dtype}")
    return mask.to(dtype)


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax over the last dimension of ``scores + mask``; rows with every key blocked become all zeros."""
    if mask is None:
        return torch.softmax(scores, dim=-1)
    scores = scores + mask
    blocked = torch.isneginf(scores).all(dim=-1, keepdim=True)
    weights = torch.softmax(scores.masked_fill(blocked, 0.0), dim=-1)
    return weights.masked_fill(blocked, 0.0)


# ----------------------------------------------------------------------------------------------------------------
# Scaled dot-product attention: the explicit path and the fast path
# ----------------------------------------------------------------------------------------------------------------


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    need_weights: bool = False,
) -> tuple[Tensor, Tensor | None]:
    r"""Scaled dot-product attention (Vaswani et al. 2017).

    .. math::
        \operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}} + M\right) V

    Shapes: q (..., L, d_k), k (..., S, d_k), v (..., S, d_v); ``mask`` additive, broadcastable to (..., L, S)
    (see :func:`additive_mask`); ``is_causal`` adds the causal mask without building it. Returns the output
    (..., L, d_v) and, if ``need_weights``, the weights (..., L, S).

    Two paths give the same output:

    * ``need_weights=False`` (fast) calls ``torch.nn.functional.scaled_dot_product_attention``, whose CPU kernel
      works on blocks of keys with an online softmax and never holds the (L, S) weights: memory linear in L (tested
      with no mask, a key-padding mask, or ``is_causal``; ``is_causal`` together with another mask builds an
      (L, S) mask).
    * ``need_weights=True`` (explicit) writes the formula out and returns the weights it had to build.

    Queries whose keys are all blocked get zero weights and a zero output on both paths.
    """
    if q.shape[-2] == 0 or k.shape[-2] == 0:
        raise ValueError(f"attention needs at least one query and one key, got L={q.shape[-2]}, S={k.shape[-2]}")
    if is_causal:
        if mask is None and not need_weights and q.shape[-2] == k.shape[-2]:  # the kernel applies it block by block
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True), None
        causal = causal_mask(q.shape[-2], device=q.device, dtype=q.dtype)[:, : k.shape[-2]]
        mask = causal if mask is None else mask + causal
    if need_weights:
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        weights = masked_softmax(scores, mask)
        if dropout_p > 0:
            weights = F.dropout(weights, dropout_p)
        return weights @ v, weights
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p), None
    blocked = torch.isneginf(mask).all(dim=-1, keepdim=True)  # (..., L, 1) rows with nothing to attend to
    if bool(blocked.any()):
        output = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.masked_fill(blocked, 0.0), dropout_p=dropout_p)
        return output.masked_fill(blocked, 0.0), None
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p), None


# ----------------------------------------------------------------------------------------------------------------
# Additive and multiplicative scores (Bahdanau 2015, Luong 2015) for RNN encoder-decoders
# ----------------------------------------------------------------------------------------------------------------


class _ScoredAttention(nn.Module):
    """Attention with a learned or fixed score; subclasses define :meth:`prepare_keys` and :meth:`score`.

    The part of a score that depends on the keys alone (e.g. :math:`W_k k_j`) is computed once per source
    sequence by :meth:`prepare_keys`; a decoder that attends at every step passes it back as ``prepared``.
    """

    def prepare_keys(self, keys: Tensor) -> Tensor:
        """The key-only part of the score, (B, S, ·)."""
        return keys

    def score(self, query: Tensor, prepared: Tensor) -> Tensor:
        """Scores (B, L, S) of queries (B, L, Dq) against prepared keys (B, S, ·)."""
        raise NotImplementedError

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        values: Tensor | None = None,
        key_padding_mask: Tensor | None = None,
        prepared: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Context and weights. query (B, Dq) or (B, L, Dq); keys (B, S, Dk); values (B, S, Dv), default the keys;
        key_padding_mask (B, S), True at padding; ``prepared`` = ``prepare_keys(keys)`` if already computed.
        Returns context (B, [L,] Dv) and weights (B, [L,] S)."""
        values = keys if values is None else values
        single = query.dim() == 2
        query = query.unsqueeze(1) if single else query
        if query.dim() != 3 or keys.dim() != 3 or values.dim() != 3:
            raise ValueError(
                f"{type(self).__name__} expects query (B, Dq) or (B, L, Dq), keys (B, S, Dk), values (B, S, Dv); "
                f"got {tuple(query.shape)}, {tuple(keys.shape)}, {tuple(values.shape)}"
            )
        batch, steps = keys.shape[0], keys.shape[1]
        if query.shape[0] != batch or values.shape[:2] != keys.shape[:2]:
            raise ValueError(
                f"query, keys and values must share the batch (and keys/values the length): "
                f"{tuple(query.shape)}, {tuple(keys.shape)}, {tuple(values.shape)}"
            )
        if steps == 0:
            raise ValueError("attention needs at least one key (S = 0)")
        mask = None
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (batch, steps):
                raise ValueError(
                    f"key_padding_mask must have shape ({batch}, {steps}), got {tuple(key_padding_mask.shape)}"
                )
            mask = additive_mask(key_padding_mask, query.dtype).unsqueeze(1)  # (B, 1, S)
        prepared = self.prepare_keys(keys) if prepared is None else prepared
        weights = masked_softmax(self.score(query, prepared), mask)
        context = weights @ values
        return (context.squeeze(1), weights.squeeze(1)) if single else (context, weights)


class AdditiveAttention(_ScoredAttention):
    r"""Additive attention (Bahdanau et al. 2015): :math:`e_j = v^\top \tanh(W_q q + W_k k_j)`.

    Parameters: ``query_proj`` (H, Dq) with no bias, ``key_proj`` (H, Dk) with bias, ``v`` (1, H) with no bias.
    """

    def __init__(self, query_size: int, key_size: int, hidden_size: int):
        super().__init__()
        self.query_proj = nn.Linear(query_size, hidden_size, bias=False)
        self.key_proj = nn.Linear(key_size, hidden_size)
        self.v = nn.Linear(hidden_size, 1, bias=False)

    def prepare_keys(self, keys: Tensor) -> Tensor:
        return self.key_proj(keys)  # W_k k_j + b

    def score(self, query: Tensor, prepared: Tensor) -> Tensor:
        # (B, L, 1, H) + (B, 1, S, H) -> tanh -> v -> (B, L, S)
        hidden = torch.tanh(self.query_proj(query).unsqueeze(2) + prepared.unsqueeze(1))
        return self.v(hidden).squeeze(-1)


class DotAttention(_ScoredAttention):
    r"""Luong's dot score: :math:`e_j = q^\top k_j` (no parameters; query and keys of the same size)."""

    def score(self, query: Tensor, prepared: Tensor) -> Tensor:
        if query.shape[-1] != prepared.shape[-1]:
            raise ValueError(
                f"dot attention needs queries and keys of one size, got {query.shape[-1]}, {prepared.shape[-1]}"
            )
        return query @ prepared.transpose(1, 2)


class GeneralAttention(_ScoredAttention):
    r"""Luong's general score: :math:`e_j = q^\top W k_j`. Parameter ``weight`` (Dq, Dk)."""

    def __init__(self, query_size: int, key_size: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(query_size, key_size))
        nn.init.xavier_uniform_(self.weight)

    def prepare_keys(self, keys: Tensor) -> Tensor:
        return keys @ self.weight.T  # W k_j

    def score(self, query: Tensor, prepared: Tensor) -> Tensor:
        return query @ prepared.transpose(1, 2)


class ConcatAttention(_ScoredAttention):
    r"""Luong's concat score: :math:`e_j = v^\top \tanh(W [q; k_j])`. Parameters ``proj`` (H, Dq + Dk), ``v``."""

    def __init__(self, query_size: int, key_size: int, hidden_size: int):
        super().__init__()
        self.query_size = query_size
        self.proj = nn.Linear(query_size + key_size, hidden_size, bias=False)
        self.v = nn.Linear(hidden_size, 1, bias=False)

    # W [q; k] = W_q q + W_k k: the concatenation is computed as the two halves of W, without building the
    # (B, L, S, Dq + Dk) concatenated tensor.
    def prepare_keys(self, keys: Tensor) -> Tensor:
        return keys @ self.proj.weight[:, self.query_size :].T

    def score(self, query: Tensor, prepared: Tensor) -> Tensor:
        hidden = torch.tanh((query @ self.proj.weight[:, : self.query_size].T).unsqueeze(2) + prepared.unsqueeze(1))
        return self.v(hidden).squeeze(-1)


# ----------------------------------------------------------------------------------------------------------------
# Multi-head attention
# ----------------------------------------------------------------------------------------------------------------


class MultiheadAttention(nn.Module):
    r"""Multi-head attention (Vaswani et al. 2017), with the layout of ``torch.nn.MultiheadAttention``.

    .. math::
        \operatorname{MultiHead}(Q, K, V) = [\text{head}_1; \dots; \text{head}_h] W^O, \qquad
        \text{head}_i = \operatorname{Attention}(Q W_i^Q, K W_i^K, V W_i^V)

    Parameters: ``in_proj_weight`` (3E, E) stacks :math:`W^Q, W^K, W^V` (each split into h heads of E/h rows),
    ``in_proj_bias`` (3E); or ``q_proj_weight``, ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim) when
    key/value sizes differ; ``out_proj`` (E, E) is :math:`W^O`. State dicts load from and into PyTorch's.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` takes and returns what PyTorch's does: query (L, N, E) or
    (N, L, E) with ``batch_first``, or (L, E) unbatched; returns the output and the weights (N, L, S) averaged
    over heads, or (N, h, L, S) per head, or None when ``need_weights=False`` — the fast path through
    ``scaled_dot_product_attention``. ``is_causal=True`` without ``attn_mask`` applies the causal mask.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if embed_dim < 1 or num_heads < 1 or embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be a positive multiple of num_heads ({num_heads})")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        factory = {"device": device, "dtype": dtype}
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.kdim, self.vdim = kdim or embed_dim, vdim or embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        self.packed = self.kdim == embed_dim and self.vdim == embed_dim
        if self.packed:
            self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim, **factory))
        else:
            self.q_proj_weight = nn.Parameter(torch.empty(embed_dim, embed_dim, **factory))
            self.k_proj_weight = nn.Parameter(torch.empty(embed_dim, self.kdim, **factory))
            self.v_proj_weight = nn.Parameter(torch.empty(embed_dim, self.vdim, **factory))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim, **factory)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """As PyTorch: Xavier-uniform projections, zero biases."""
        for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            if hasattr(self, name):
                nn.init.xavier_uniform_(getattr(self, name))
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
            nn.init.zeros_(self.out_proj.bias)

    # --- projections into heads -------------------------------------------------------------------------------------
    def _weights(self, index: int) -> tuple[Tensor, Tensor | None]:
        """W and b of the query (0), key (1) or value (2) projection."""
        E = self.embed_dim
        bias = None if self.in_proj_bias is None else self.in_proj_bias[index * E : (index + 1) * E]
        if self.packed:
            return self.in_proj_weight[index * E : (index + 1) * E], bias
        return (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[index], bias

    def _heads(self, x: Tensor) -> Tensor:
        """(B, L, E) -> (B, h, L, E/h)."""
        B, L, _ = x.shape
        return x.view(B, L, self.num_heads, self.head_dim).transpose(1, 2)

    def project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Q W^Q, K W^K, V W^V split into heads: (B, h, L, E/h), (B, h, S, E/h), (B, h, S, E/h).

        Self-attention (one tensor for all three) is one matrix product with the stacked weights."""
        if self.packed and query is key and key is value:
            q, k, v = F.linear(query, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
            return self._heads(q), self._heads(k), self._heads(v)
        return self.project_query(query), *self.project_key_value(key, value)

    def project_query(self, query: Tensor) -> Tensor:
        return self._heads(F.linear(query, *self._weights(0)))

    def project_key_value(self, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        if self.packed and key is value:
            w, b = (
                self.in_proj_weight[self.embed_dim :],
                None if self.in_proj_bias is None else self.in_proj_bias[self.embed_dim :],
            )
            k, v = F.linear(key, w, b).chunk(2, dim=-1)
            return self._heads(k), self._heads(v)
        return self._heads(F.linear(key, *self._weights(1))), self._heads(F.linear(value, *self._weights(2)))

    def attend(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        mask: Tensor | None = None,
        *,
        is_causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Heads in, output projection out: (B, h, L, E/h) ... -> (B, L, E) and per-head weights (B, h, L, S)."""
        dropout = self.dropout if self.training else 0.0
        out, weights = scaled_dot_product_attention(
            q, k, v, mask, is_causal=is_causal, dropout_p=dropout, need_weights=need_weights
        )
        B, _, L, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(B, L, self.embed_dim)), weights

    # --- forward --------------------------------------------------------------------------------------------------
    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        unbatched = query.dim() == 2
        q_in, k_in, v_in = (
            self._batch_first(t, name, unbatched) for t, name in ((query, "query"), (key, "key"), (value, "value"))
        )
        # Keep "query is key is value" (self-attention) true after the layout change.
        if key is query:
            k_in = q_in
        if value is key:
            v_in = k_in
        B, L, S = q_in.shape[0], q_in.shape[1], k_in.shape[1]
        if k_in.shape[:2] != v_in.shape[:2] or k_in.shape[0] != B:
            raise ValueError(
                f"query, key and value must share the batch size, key and value the length: "
                f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
            )
        mask = self._merge_masks(attn_mask, key_padding_mask, B, L, S, unbatched, q_in.dtype)
        causal = is_causal and attn_mask is None
        q, k, v = self.project(q_in, k_in, v_in)
        out, weights = self.attend(q, k, v, mask, is_causal=causal, need_weights=need_weights)
        if weights is not None and average_attn_weights:
            weights = weights.mean(dim=1)
        if unbatched:
            return out.squeeze(0), None if weights is None else weights.squeeze(0)
        return (out if self.batch_first else out.transpose(0, 1)), weights

    def _batch_first(self, x: Tensor, name: str, unbatched: bool) -> Tensor:
        size = {"query": self.embed_dim, "key": self.kdim, "value": self.vdim}[name]
        expected_dim = 2 if unbatched else 3
        if x.dim() != expected_dim or x.shape[-1] != size:
            layout = "(L, E)" if unbatched else ("(N, L, E)" if self.batch_first else "(L, N, E)")
            raise ValueError(f"{name} must have shape {layout.replace('E', str(size))}, got {tuple(x.shape)}")
        if unbatched:
            x = x.unsqueeze(0)
        elif not self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[1] == 0:
            raise ValueError(f"{name} is an empty sequence")
        return x

    def _merge_masks(self, attn_mask, key_padding_mask, B, L, S, unbatched, dtype) -> Tensor | None:
        """attn_mask (L, S) or (B·h, L, S) and key_padding_mask (B, S) as one additive mask for (B, h, L, S)."""
        mask = None
        if attn_mask is not None:
            if tuple(attn_mask.shape) == (L, S):
                mask = additive_mask(attn_mask, dtype)
            elif tuple(attn_mask.shape) == (B * self.num_heads, L, S):
                mask = additive_mask(attn_mask, dtype).view(B, self.num_heads, L, S)
            else:
                raise ValueError(
                    f"attn_mask must have shape ({L}, {S}) or ({B * self.num_heads}, {L}, {S}), "
                    f"got {tuple(attn_mask.shape)}"
                )
        if key_padding_mask is not None:
            expected = (S,) if unbatched else (B, S)
            if tuple(key_padding_mask.shape) != expected:
                raise ValueError(f"key_padding_mask must have shape {expected}, got {tuple(key_padding_mask.shape)}")
            padding = additive_mask(key_padding_mask.reshape(B, 1, 1, S), dtype)
            mask = padding if mask is None else mask + padding
        return mask
