"""Attention and the Transformer: equal to torch.nn (outputs and every gradient), scores by gradcheck, bad input."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch.nn import functional as F

from devices import seeded
from nnzoo.nn.attention import (
    AdditiveAttention,
    ConcatAttention,
    DotAttention,
    GeneralAttention,
    MultiheadAttention,
    scaled_dot_product_attention,
)
from nnzoo.nn.transformer import (
    LearnedPositionalEncoding,
    SinusoidalPositionalEncoding,
    Transformer,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
)

E, HEADS, L, S, N = 8, 2, 5, 7, 3
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}
# torch.nn's own warnings, raised by the reference modules we compare with:
pytestmark = [
    pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask and attn_mask"),
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
]


def outputs_and_gradients(run, inputs, parameters):
    for tensor in (*inputs, *parameters):
        tensor.grad = None
    out = run()
    output, weights = out if isinstance(out, tuple) else (out, None)
    loss = (output * torch.linspace(-1, 1, output.numel(), dtype=output.dtype).view_as(output)).sum()
    if weights is not None:
        loss = loss + (weights * weights).sum()
    loss.backward()
    values = [output] + ([weights] if weights is not None else [])
    values += [t.grad for t in inputs] + [p.grad for p in parameters]
    return [v.detach().clone() for v in values]


def assert_same(expected, got, dtype):
    assert len(expected) == len(got)
    for i, (want, have) in enumerate(zip(expected, got)):
        assert have.shape == want.shape, i
        assert (have - want).abs().max() <= TOLERANCE[dtype], (i, float((have - want).abs().max()))


def make_mask(kind: str, length: int, keys: int, dtype):
    if kind == "bool":
        mask = torch.rand(length, keys, generator=seeded(1)) > 0.6
        mask[:, 0] = False  # every query keeps a key (torch gives NaN otherwise)
        return mask
    if kind == "float":
        return torch.randn(length, keys, dtype=dtype, generator=seeded(2))
    if kind == "per-head":
        return torch.randn(N * HEADS, length, keys, dtype=dtype, generator=seeded(3))
    return None


@pytest.mark.parametrize("mask_kind", [None, "bool", "float", "per-head"])
@pytest.mark.parametrize("padding", [False, True])
@pytest.mark.parametrize(
    ("batch_first", "self_attention", "need_weights", "average"),
    list(itertools.product([False, True], [True, False], [True, False], [True, False])),
)
def test_multihead_attention_equals_torch(batch_first, self_attention, need_weights, average, padding, mask_kind):
    check_mha(batch_first, self_attention, need_weights, average, padding, mask_kind, torch.float64)


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_equals_torch_in_float32(need_weights):
    check_mha(True, False, need_weights, True, True, "bool", torch.float32)


def check_mha(batch_first, self_attention, need_weights, average, padding, mask_kind, dtype):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, HEADS, batch_first=batch_first).to(dtype)
    ours = MultiheadAttention(E, HEADS, batch_first=batch_first).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    keys = L if self_attention else S
    query = torch.randn((N, L, E) if batch_first else (L, N, E), dtype=dtype, requires_grad=True)
    memory = (
        query
        if self_attention
        else torch.randn((N, S, E) if batch_first else (S, N, E), dtype=dtype, requires_grad=True)
    )
    key_padding = None
    if padding:
        key_padding = torch.zeros(N, keys, dtype=torch.bool)
        key_padding[0, -2:] = True
    mask = make_mask(mask_kind, L, keys, dtype)
    inputs = [query] if self_attention else [query, memory]
    kwargs = {
        "key_padding_mask": key_padding,
        "need_weights": need_weights,
        "attn_mask": mask,
        "average_attn_weights": average,
    }
    expected = outputs_and_gradients(lambda: theirs(query, memory, memory, **kwargs), inputs, list(theirs.parameters()))
    got = outputs_and_gradients(lambda: ours(query, memory, memory, **kwargs), inputs, list(ours.parameters()))
    assert_same(expected, got, dtype)


def test_multihead_attention_with_other_key_and_value_sizes_and_unbatched():
    torch.manual_seed(1)
    theirs = torch.nn.MultiheadAttention(E, HEADS, kdim=5, vdim=3, bias=False).double()
    ours = MultiheadAttention(E, HEADS, kdim=5, vdim=3, bias=False).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    q, k, v = torch.randn(L, N, E).double(), torch.randn(S, N, 5).double(), torch.randn(S, N, 3).double()
    for a, b in zip(theirs(q, k, v), ours(q, k, v)):
        assert torch.allclose(a, b, atol=1e-12)
    q1, k1, v1 = q[:, 0], k[:, 0], v[:, 0]  # unbatched
    for a, b in zip(theirs(q1, k1, v1), ours(q1, k1, v1)):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-12)


@pytest.mark.parametrize("mask_kind", [None, "bool", "float", "causal"])
def test_fast_and_explicit_paths_give_equal_outputs(mask_kind):
    torch.manual_seed(2)
    q, k, v = torch.randn(2, 3, L, 4).double(), torch.randn(2, 3, L, 4).double(), torch.randn(2, 3, L, 6).double()
    mask = None if mask_kind in (None, "causal") else make_mask(mask_kind, L, L, torch.float64)
    if mask is not None and mask.dtype == torch.bool:
        mask = torch.zeros(L, L, dtype=torch.float64).masked_fill(mask, -math.inf)
    causal = mask_kind == "causal"
    fast, none = scaled_dot_product_attention(q, k, v, mask, is_causal=causal)
    explicit, weights = scaled_dot_product_attention(q, k, v, mask, is_causal=causal, need_weights=True)
    assert none is None and weights.shape == (2, 3, L, L)
    assert torch.allclose(fast, explicit, atol=1e-12)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, L, dtype=torch.float64))
    if causal:
        assert torch.all(weights.triu(1) == 0)


def test_is_causal_equals_the_explicit_causal_mask():
    torch.manual_seed(3)
    mha = MultiheadAttention(E, HEADS, batch_first=True).double()
    x = torch.randn(N, L, E).double()
    mask = Transformer.generate_square_subsequent_mask(L, dtype=torch.float64)
    causal, _ = mha(x, x, x, need_weights=False, is_causal=True)
    explicit, _ = mha(x, x, x, need_weights=False, attn_mask=mask)
    assert torch.allclose(causal, explicit, atol=1e-12)


@pytest.mark.parametrize("need_weights", [True, False])
def test_a_query_with_every_key_blocked_gets_zeros_not_nan(need_weights):
    torch.manual_seed(4)
    ours = MultiheadAttention(E, HEADS, batch_first=True).double()
    theirs = torch.nn.MultiheadAttention(E, HEADS, batch_first=True).double()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(N, L, E).double()
    padding = torch.zeros(N, L, dtype=torch.bool)
    padding[1] = True  # the second sequence has no key at all
    out, weights = ours(x, x, x, key_padding_mask=padding, need_weights=need_weights)
    assert torch.isfinite(out).all()
    assert torch.allclose(out[1], ours.out_proj.bias.expand(L, E))  # zero context, then the output projection
    expected, _ = theirs(x, x, x, key_padding_mask=padding, need_weights=need_weights)
    assert torch.allclose(out[[0, 2]], expected[[0, 2]], atol=1e-12)  # the other sequences are unaffected
    if need_weights:
        assert torch.all(weights[1] == 0) and torch.allclose(weights[0].sum(-1), torch.ones(L, dtype=torch.float64))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: MultiheadAttention(10, 3), r"embed_dim \(10\) must be a positive multiple of num_heads \(3\)"),
        (lambda: TransformerEncoderLayer(10, 4), r"embed_dim \(10\) must be a positive multiple of num_heads \(4\)"),
        (
            lambda: MultiheadAttention(E, HEADS)(
                torch.randn(L, N, E),
                torch.randn(S, N, E),
                torch.randn(S, N, E),
                attn_mask=torch.zeros(L, L, dtype=torch.bool),
            ),
            r"attn_mask must have shape \(5, 7\) or \(6, 5, 7\), got \(5, 5\)",
        ),
        (
            lambda: MultiheadAttention(E, HEADS)(
                torch.randn(L, N, E),
                torch.randn(S, N, E),
                torch.randn(S, N, E),
                key_padding_mask=torch.zeros(N, L, dtype=torch.bool),
            ),
            r"key_padding_mask must have shape \(3, 7\), got \(3, 5\)",
        ),
        (
            lambda: MultiheadAttention(E, HEADS)(torch.randn(0, N, E), torch.randn(S, N, E), torch.randn(S, N, E)),
            "query is an empty sequence",
        ),
        (
            lambda: MultiheadAttention(E, HEADS)(torch.randn(L, N, E + 1), torch.randn(S, N, E), torch.randn(S, N, E)),
            r"query must have shape \(L, N, 8\), got \(5, 3, 9\)",
        ),
        (
            lambda: MultiheadAttention(E, HEADS)(torch.randn(L, N, E), torch.randn(S, N, E), torch.randn(S + 1, N, E)),
            "key and value the length",
        ),
        (lambda: AdditiveAttention(4, 4, 4)(torch.randn(2, 4), torch.randn(2, 0, 4)), r"at least one key \(S = 0\)"),
        (lambda: DotAttention()(torch.randn(2, 4), torch.randn(2, 3, 5)), "queries and keys of one size"),
        (
            lambda: AdditiveAttention(4, 4, 4)(torch.randn(2, 4), torch.randn(2, 3, 4), None, torch.zeros(2, 4) > 0),
            r"key_padding_mask must have shape \(2, 3\)",
        ),
        (
            lambda: scaled_dot_product_attention(torch.randn(1, 0, 4), torch.randn(1, 3, 4), torch.randn(1, 3, 4)),
            "at least one query and one key",
        ),
        (
            lambda: MultiheadAttention(E, HEADS)(
                torch.randn(L, N, E),
                torch.randn(S, N, E),
                torch.randn(S, N, E),
                attn_mask=torch.zeros(L, S, dtype=torch.long),
            ),
            "a mask must be boolean",
        ),
    ],
)
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ----------------------------------------------------------------------------------------------------------------
# Additive and Luong scores
# ----------------------------------------------------------------------------------------------------------------

SCORES = {
    "additive": lambda: AdditiveAttention(4, 5, 6),
    "dot": lambda: DotAttention(),
    "general": lambda: GeneralAttention(4, 5),
    "concat": lambda: ConcatAttention(4, 5, 6),
}


@pytest.mark.parametrize("name", list(SCORES))
def test_scored_attention_passes_gradcheck(name):
    torch.manual_seed(5)
    attention = SCORES[name]().double()
    key_size = 4 if name == "dot" else 5
    query = torch.randn(2, 3, 4, dtype=torch.double, requires_grad=True)
    keys = torch.randn(2, 6, key_size, dtype=torch.double, requires_grad=True)
    values = torch.randn(2, 6, 3, dtype=torch.double, requires_grad=True)
    padding = torch.zeros(2, 6, dtype=torch.bool)
    padding[1, 4:] = True
    params = list(attention.parameters())
    names = [n for n, _ in attention.named_parameters()]

    def run(q, k, v, *p):
        return torch.func.functional_call(attention, dict(zip(names, p)), (q, k, v, padding))

    assert torch.autograd.gradcheck(run, (query, keys, values, *params))
    _, weights = attention(query, keys, values, padding)
    assert torch.all(weights[1, :, 4:] == 0) and torch.allclose(weights.sum(-1), torch.ones(2, 3, dtype=torch.double))


def test_scores_are_their_equations():
    torch.manual_seed(6)
    q, k = torch.randn(2, 4), torch.randn(2, 3, 5)
    additive = AdditiveAttention(4, 5, 6)
    expected = additive.v(torch.tanh(additive.query_proj(q).unsqueeze(1) + additive.key_proj(k))).squeeze(-1)
    assert torch.allclose(additive.score(q.unsqueeze(1), additive.prepare_keys(k)).squeeze(1), expected, atol=1e-6)
    general = GeneralAttention(4, 5)
    expected = torch.einsum("bd,de,bse->bs", q, general.weight, k)
    assert torch.allclose(general.score(q.unsqueeze(1), general.prepare_keys(k)).squeeze(1), expected, atol=1e-6)
    concat = ConcatAttention(4, 5, 6)
    joined = torch.cat([q.unsqueeze(1).expand(2, 3, 4), k], dim=-1)
    expected = concat.v(torch.tanh(concat.proj(joined))).squeeze(-1)
    assert torch.allclose(concat.score(q.unsqueeze(1), concat.prepare_keys(k)).squeeze(1), expected, atol=1e-6)
    context, weights = DotAttention()(k[:, :, :4].sum(1), k[:, :, :4])
    assert torch.allclose(context, (F.softmax(weights.log(), -1).unsqueeze(-1) * k[:, :, :4]).sum(1), atol=1e-6)


# ----------------------------------------------------------------------------------------------------------------
# Transformer layers
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    ("norm_first", "batch_first", "activation"), list(itertools.product([False, True], [False, True], ["relu", "gelu"]))
)
def test_encoder_layer_equals_torch(norm_first, batch_first, activation, dtype):
    torch.manual_seed(7)
    options = {"dropout": 0.0, "batch_first": batch_first, "norm_first": norm_first, "activation": activation}
    theirs = torch.nn.TransformerEncoderLayer(E, HEADS, 16, **options).to(dtype)
    ours = TransformerEncoderLayer(E, HEADS, 16, **options).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn((N, L, E) if batch_first else (L, N, E), dtype=dtype, requires_grad=True)
    padding = torch.zeros(N, L, dtype=torch.bool)
    padding[1, -2:] = True
    mask = make_mask("float", L, L, dtype)
    for kwargs in ({"src_key_padding_mask": padding}, {"src_mask": mask}):
        expected = outputs_and_gradients(lambda: theirs(x, **kwargs), [x], list(theirs.parameters()))  # noqa: B023
        got = outputs_and_gradients(lambda: ours(x, **kwargs), [x], list(ours.parameters()))  # noqa: B023
        assert_same(expected, got, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    ("norm_first", "batch_first", "activation"), list(itertools.product([False, True], [False, True], ["relu", "gelu"]))
)
def test_decoder_layer_equals_torch(norm_first, batch_first, activation, dtype):
    torch.manual_seed(8)
    options = {"dropout": 0.0, "batch_first": batch_first, "norm_first": norm_first, "activation": activation}
    theirs = torch.nn.TransformerDecoderLayer(E, HEADS, 16, **options).to(dtype)
    ours = TransformerDecoderLayer(E, HEADS, 16, **options).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn((N, L, E) if batch_first else (L, N, E), dtype=dtype, requires_grad=True)
    memory = torch.randn((N, S, E) if batch_first else (S, N, E), dtype=dtype, requires_grad=True)
    causal = Transformer.generate_square_subsequent_mask(L, dtype=dtype)
    memory_padding = torch.zeros(N, S, dtype=torch.bool)
    memory_padding[2, -3:] = True
    target_padding = torch.zeros(N, L, dtype=torch.bool)
    target_padding[0, -1:] = True
    kwargs = {
        "tgt_mask": causal,
        "tgt_is_causal": True,
        "memory_key_padding_mask": memory_padding,
        "tgt_key_padding_mask": target_padding,
    }
    expected = outputs_and_gradients(lambda: theirs(x, memory, **kwargs), [x, memory], list(theirs.parameters()))
    got = outputs_and_gradients(lambda: ours(x, memory, **kwargs), [x, memory], list(ours.parameters()))
    assert_same(expected, got, dtype)


@pytest.mark.parametrize("norm_first", [False, True])
def test_full_transformer_equals_torch_and_state_dicts_load_both_ways(norm_first):
    torch.manual_seed(9)
    options = {"dropout": 0.0, "batch_first": True, "norm_first": norm_first}
    theirs = torch.nn.Transformer(E, HEADS, 2, 2, 16, **options).double()
    ours = Transformer(E, HEADS, 2, 2, 16, **options).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    src = torch.randn(N, S, E, dtype=torch.double, requires_grad=True)
    tgt = torch.randn(N, L, E, dtype=torch.double, requires_grad=True)
    causal = Transformer.generate_square_subsequent_mask(L, dtype=torch.float64)
    padding = torch.zeros(N, S, dtype=torch.bool)
    padding[0, -2:] = True
    kwargs = {"tgt_mask": causal, "src_key_padding_mask": padding, "memory_key_padding_mask": padding}
    expected = outputs_and_gradients(lambda: theirs(src, tgt, **kwargs), [src, tgt], list(theirs.parameters()))
    got = outputs_and_gradients(lambda: ours(src, tgt, **kwargs), [src, tgt], list(ours.parameters()))
    assert_same(expected, got, torch.float64)


def test_decoder_step_with_cache_equals_full_recomputation():
    torch.manual_seed(10)
    model = Transformer(E, HEADS, 1, 3, 16, dropout=0.0, batch_first=True, norm_first=True).eval()
    src, tgt = torch.randn(N, S, E), torch.randn(N, L, E)
    padding = torch.zeros(N, S, dtype=torch.bool)
    padding[1, -3:] = True
    memory = model.encoder(src, src_key_padding_mask=padding)
    full = model.decoder(tgt, memory, memory_key_padding_mask=padding, tgt_is_causal=True)
    memory_kv = [layer.memory_key_value(memory) for layer in model.decoder.layers]
    mask = torch.zeros(N, 1, 1, S).masked_fill(padding.view(N, 1, 1, S), -math.inf)
    caches = [None] * 3
    for t in range(L):
        out, caches, _ = model.decoder.step(tgt[:, t : t + 1], memory_kv, caches, mask)
        assert (out[:, 0] - full[:, t]).abs().max() <= 1e-5, t
    assert caches[0][0].shape == (N, HEADS, L, E // HEADS)


# ----------------------------------------------------------------------------------------------------------------
# Positional encodings
# ----------------------------------------------------------------------------------------------------------------


def test_sinusoidal_encoding_is_the_formula():
    d = 6
    encoding = SinusoidalPositionalEncoding(d, max_len=50)
    x = torch.zeros(1, 20, d)
    table = encoding(x)[0]
    for position, i in [(0, 0), (3, 1), (17, 2)]:
        angle = position / 10000 ** (2 * i / d)
        assert table[position, 2 * i] == pytest.approx(math.sin(angle), abs=1e-6)
        assert table[position, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-6)
    assert torch.allclose(encoding(x[:, :5], offset=10), table[10:15].unsqueeze(0))
    assert "table" not in encoding.state_dict()  # recomputed, not saved
    with pytest.raises(ValueError, match="exceed max_len=50"):
        encoding(torch.zeros(1, 10, d), offset=45)
    with pytest.raises(ValueError, match="must be even"):
        SinusoidalPositionalEncoding(5)


def test_learned_encoding_adds_one_vector_per_position():
    encoding = LearnedPositionalEncoding(4, max_len=8)
    x = torch.zeros(2, 3, 4)
    assert torch.allclose(encoding(x, offset=2)[1], encoding.embedding.weight[2:5])
    with pytest.raises(ValueError, match="exceed max_len=8"):
        encoding(torch.zeros(1, 9, 4))


@pytest.mark.parametrize("masking", ["none", "key-padding", "causal"])
def test_the_fast_path_never_allocates_an_l_by_l_tensor(masking):
    """The largest single allocation of a fast-path forward + backward stays far below one (L, L) matrix."""
    from torch.profiler import ProfilerActivity, profile

    length = 2048
    q, k, v = (torch.randn(1, 2, length, 32, requires_grad=True) for _ in range(3))
    mask = None
    if masking == "key-padding":
        mask = torch.zeros(1, 1, 1, length).masked_fill(torch.arange(length) >= length - 100, -math.inf)

    def largest_allocation(need_weights: bool) -> int:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            out, _ = scaled_dot_product_attention(
                q, k, v, mask, is_causal=masking == "causal", need_weights=need_weights
            )
            out.sum().backward()
        return max(event.cpu_memory_usage for event in prof.events())

    one_matrix = length * length * 4
    assert largest_allocation(need_weights=False) < one_matrix / 4
    assert largest_allocation(need_weights=True) >= 2 * one_matrix  # the explicit path holds both heads' weights
