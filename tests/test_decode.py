"""Greedy and beam search on decoders whose probabilities are known, and on the real seq2seq models."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from nnzoo.decode import Hypothesis, beam_search, greedy_search, length_penalty, select
from nnzoo.nn.seq2seq import (
    AttentionSeq2Seq,
    AttentionSeq2SeqConfig,
    ContextSeq2Seq,
    ContextSeq2SeqConfig,
    TransformerSeq2Seq,
    TransformerSeq2SeqConfig,
)

BOS, EOS = 0, 1


class TableDecoder:
    """p(next | prefix) from a table; the state is each row's prefix. ``memory`` picks a table per row."""

    def __init__(self, tables: list[dict[tuple[int, ...], dict[int, float]]], vocab: int):
        self.tables, self.vocab = tables, vocab

    def init_state(self, memory: list[int]):
        return [(row, ()) for row in memory]

    def step(self, tokens, state):
        log_probs = torch.full((len(state), self.vocab), -math.inf, dtype=torch.float64)
        new_state = []
        for i, ((row, prefix), token) in enumerate(zip(state, tokens.tolist())):
            prefix = prefix if token == BOS and not prefix else (*prefix, token)
            for next_token, p in self.tables[row].get(prefix, {EOS: 1.0}).items():
                log_probs[i, next_token] = math.log(p)
            new_state.append((row, prefix))
        return log_probs, new_state

    def reorder_state(self, state, index):
        return [state[i] for i in index.tolist()]


# Greedy takes "a" (0.6), then can only end well with probability 0.6 * 0.4 = 0.24;
# beam keeps "b" (0.4), whose continuation "b <end>" has 0.4 * 0.9 = 0.36.
A, B_ = 2, 3
GARDEN_PATH = {(): {A: 0.6, B_: 0.4}, (A,): {EOS: 0.4, A: 0.3, B_: 0.3}, (B_,): {EOS: 0.9, A: 0.1}}


def test_beam_finds_the_more_probable_sequence_that_greedy_misses():
    decoder = TableDecoder([GARDEN_PATH], vocab=4)
    greedy = greedy_search(decoder, [0], batch_size=1, bos=BOS, eos=EOS, max_len=5)[0]
    assert greedy.tokens == [A] and greedy.log_prob == pytest.approx(math.log(0.6 * 0.4))
    best = beam_search(decoder, [0], batch_size=1, bos=BOS, eos=EOS, beam_size=2, max_len=5)[0][0]
    assert best.tokens == [B_] and best.log_prob == pytest.approx(math.log(0.4 * 0.9)) and best.finished
    one = beam_search(decoder, [0], batch_size=1, bos=BOS, eos=EOS, beam_size=1, max_len=5)[0][0]
    assert (one.tokens, one.log_prob) == (greedy.tokens, pytest.approx(greedy.log_prob))


def random_table(seed: int, vocab: int = 4, depth: int = 4) -> dict:
    """Every prefix up to ``depth`` tokens has a random next-token distribution."""
    g = torch.Generator().manual_seed(seed)
    table = {}
    for length in range(depth + 1):
        for prefix in itertools.product(range(2, vocab), repeat=length):
            p = torch.rand(vocab - 1, generator=g) ** 3  # peaked, so the best path is not the obvious one
            p = p / p.sum()
            table[prefix] = {EOS: float(p[0]), **{t: float(q) for t, q in zip(range(2, vocab), p[1:])}}
    return table


def exhaustive_best(table: dict, max_len: int, alpha: float) -> tuple[list[int], float]:
    best = (None, -math.inf)
    for length in range(max_len):
        for tokens in itertools.product(*(sorted(k for k in table[()] if k != EOS),) * length):
            log_p, prefix = 0.0, ()
            for t in (*tokens, EOS):
                log_p += math.log(table[prefix][t])
                prefix = (*prefix, t)
            score = log_p / length_penalty(length + 1, alpha)
            if score > best[1]:
                best = (list(tokens), score)
    return best


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("seed", range(5))
def test_a_wide_beam_with_early_finish_finds_the_exact_optimum(seed, alpha):
    table = random_table(seed)
    decoder = TableDecoder([table], vocab=4)
    tokens, score = exhaustive_best(table, max_len=4, alpha=alpha)
    best = beam_search(
        decoder, [0], batch_size=1, bos=BOS, eos=EOS, beam_size=16, max_len=4, length_penalty_alpha=alpha
    )
    assert best[0][0].tokens == tokens and best[0][0].score == pytest.approx(score)


def test_batched_search_equals_one_sequence_at_a_time_on_tables():
    tables = [random_table(seed) for seed in range(4)]
    decoder = TableDecoder(tables, vocab=4)
    together = beam_search(decoder, [0, 1, 2, 3], batch_size=4, bos=BOS, eos=EOS, beam_size=3, max_len=4, nbest=3)
    for row in range(4):
        alone = beam_search(decoder, [row], batch_size=1, bos=BOS, eos=EOS, beam_size=3, max_len=4, nbest=3)[0]
        assert [(h.tokens, round(h.score, 9)) for h in alone] == [(h.tokens, round(h.score, 9)) for h in together[row]]


def test_nbest_is_sorted_and_max_len_cuts_unfinished():
    decoder = TableDecoder([{(): {A: 1.0}, (A,): {A: 1.0}, (A, A): {A: 1.0}}], vocab=4)  # never ends
    hypotheses = beam_search(decoder, [0], batch_size=1, bos=BOS, eos=EOS, beam_size=2, max_len=3, nbest=1)[0]
    assert hypotheses[0].tokens == [A, A, A] and not hypotheses[0].finished
    greedy = greedy_search(decoder, [0], batch_size=1, bos=BOS, eos=EOS, max_len=3)[0]
    assert greedy == Hypothesis([A, A, A], 0.0, 0.0, False)
    table = random_table(7)
    many = beam_search(TableDecoder([table], 4), [0], batch_size=1, bos=BOS, eos=EOS, beam_size=5, max_len=4, nbest=5)
    scores = [h.score for h in many[0]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 5


def test_length_penalty_prefers_longer_hypotheses():
    # "<end>" has p = 0.4; "a a <end>" 0.6 * 0.7 * 0.9 = 0.378: slightly less probable, but longer.
    table = {(): {EOS: 0.4, A: 0.6}, (A,): {A: 0.7, EOS: 0.3}, (A, A): {EOS: 0.9, A: 0.1}}
    decoder = TableDecoder([table], vocab=4)
    plain = beam_search(decoder, [0], batch_size=1, bos=BOS, eos=EOS, beam_size=3, max_len=4)[0][0]
    penalised = beam_search(
        decoder, [0], batch_size=1, bos=BOS, eos=EOS, beam_size=3, max_len=4, length_penalty_alpha=2.0
    )
    assert plain.tokens == [] and penalised[0][0].tokens == [A, A]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"beam_size": 0}, "beam_size >= 1"),
        ({"beam_size": 2, "nbest": 3}, "nbest <= beam_size"),
        ({"max_len": 0}, "max_len must be >= 1"),
        ({"length_penalty_alpha": -1.0}, "length_penalty_alpha must be >= 0"),
    ],
)
def test_bad_search_arguments(kwargs, message):
    decoder = TableDecoder([GARDEN_PATH], vocab=4)
    with pytest.raises(ValueError, match=message):
        beam_search(decoder, [0], batch_size=1, bos=BOS, eos=EOS, **kwargs)


def test_select_reorders_nested_state():
    state = {"h": torch.arange(6).view(3, 2), "pair": (torch.arange(3), [torch.arange(3) * 2]), "step": 4}
    picked = select(state, torch.tensor([2, 0]))
    assert picked["h"].tolist() == [[4, 5], [0, 1]] and picked["pair"][1][0].tolist() == [4, 0] and picked["step"] == 4


# ----------------------------------------------------------------------------------------------------------------
# The real models
# ----------------------------------------------------------------------------------------------------------------

MODELS = {
    "context-gru": lambda: ContextSeq2Seq(
        20, 15, ContextSeq2SeqConfig(embed_dim=16, hidden_size=32, num_layers=2, dropout=0.0, bidirectional=True)
    ),
    "context-lstm": lambda: ContextSeq2Seq(
        20, 15, ContextSeq2SeqConfig(embed_dim=16, hidden_size=32, num_layers=1, dropout=0.0, cell="lstm")
    ),
    "attention": lambda: AttentionSeq2Seq(
        20, 15, AttentionSeq2SeqConfig(embed_dim=16, hidden_size=32, num_layers=2, dropout=0.0)
    ),
    "transformer": lambda: TransformerSeq2Seq(
        20,
        15,
        256,
        TransformerSeq2SeqConfig(
            d_model=32, nhead=4, encoder_layers=2, decoder_layers=2, dim_feedforward=64, dropout=0.0
        ),
    ),
}


def batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([7, 5, 3, 6])
    src = torch.randint(3, 20, (4, 7), generator=g)
    for row, length in enumerate(lengths):
        src[row, length:] = 0
    return src, lengths


@pytest.mark.parametrize("name", list(MODELS))
def test_beam_size_one_equals_greedy_and_batched_equals_alone(name):
    torch.manual_seed(0)
    model = MODELS[name]().eval()
    src, lengths = batch()
    memory = model.encode(src, lengths)
    greedy = greedy_search(model, memory, batch_size=4, bos=1, eos=2, max_len=8)
    beam_one = beam_search(model, memory, batch_size=4, bos=1, eos=2, beam_size=1, max_len=8)
    for g, b in zip(greedy, beam_one):
        assert g.tokens == b[0].tokens and g.log_prob == pytest.approx(b[0].log_prob, abs=1e-5)
    together = beam_search(model, memory, batch_size=4, bos=1, eos=2, beam_size=4, max_len=8, nbest=2)
    for row in range(4):
        n = int(lengths[row])
        alone_memory = model.encode(src[row : row + 1, :n], lengths[row : row + 1])
        alone = beam_search(model, alone_memory, batch_size=1, bos=1, eos=2, beam_size=4, max_len=8, nbest=2)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in together[row]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in together[row]], abs=1e-4)


def test_scores_are_float64_except_on_mps_which_has_none():
    from nnzoo.decode import _score_dtype

    assert _score_dtype(torch.device("cpu")) == torch.float64
    assert _score_dtype(torch.device("mps")) == torch.float32
