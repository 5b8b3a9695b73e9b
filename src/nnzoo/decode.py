r"""Greedy and beam search, written once for every sequence decoder; sampling from a language model.

A decoder takes part by providing three methods (:class:`IncrementalDecoder`):

* ``init_state(memory)``: the decoding state of a batch, from what its encoder produced;
* ``step(tokens, state) -> (log_probs, state)``: the last tokens (B,) in, :math:`\log p(y_t \mid y_{<t}, x)` over
  the vocabulary (B, V) out;
* ``reorder_state(state, index)``: the state of batch entries ``index`` (B',), to duplicate and pick beams.

The RNN encoder–decoders and the Transformer of :mod:`nnzoo.nn.seq2seq` and the image captioners of
:mod:`nnzoo.nn.captioning` implement them; the Transformer's state holds a key/value cache, so one step costs O(t)
instead of recomputing all t positions. :func:`search` picks greedy or beam search for a task.

Beam search keeps the ``beam_size`` most probable prefixes of each sequence. It scores a finished hypothesis by
its log-probability divided by the length penalty of Wu et al. (2016):

.. math::
    \operatorname{score}(y) = \frac{\log P(y \mid x)}{\operatorname{lp}(|y|)}, \qquad
    \operatorname{lp}(n) = \left(\frac{5 + n}{6}\right)^{\alpha}

with :math:`\alpha = 0` meaning no penalty. A sequence stops early once it holds ``beam_size`` finished
hypotheses that no unfinished one can still beat: log-probabilities only fall as tokens are added, so an
unfinished prefix's best possible score is its score now divided by the largest penalty it could reach. The
stop is exact, not a heuristic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor


class IncrementalDecoder(Protocol):
    def init_state(self, memory: Any) -> Any: ...

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]: ...

    def reorder_state(self, state: Any, index: Tensor) -> Any: ...


@dataclass
class Hypothesis:
    tokens: list[int]  # without the start token and the end token
    score: float  # log_prob / length penalty
    log_prob: float  # log P(tokens, then the end token if finished)
    finished: bool  # ended with the end token (else cut at max_len)


def length_penalty(length: int, alpha: float) -> float:
    """:math:`((5 + n) / 6)^\\alpha` (Wu et al. 2016); 1 when ``alpha`` is 0."""
    return ((5 + length) / 6) ** alpha


def select(state: Any, index: Tensor, dim: int = 0) -> Any:
    """``index_select`` along ``dim`` on every tensor in a nested tuple/list/dict; other values unchanged.

    Decoders use it to write ``reorder_state``."""
    if isinstance(state, Tensor):
        return state.index_select(dim, index.to(state.device))
    if isinstance(state, dict):
        return {key: select(value, index, dim) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(select(value, index, dim) for value in state)
    return state


def _check(batch_size: int, max_len: int) -> None:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")


def _device(decoder: Any) -> torch.device:
    try:
        return next(decoder.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _score_dtype(device: torch.device) -> torch.dtype:
    """Sums of log-probabilities in float64, so that long hypotheses rank without rounding ties; Apple's MPS has
    no float64, and float32 is what it can do."""
    return torch.float32 if device.type == "mps" else torch.float64


@torch.no_grad()
def greedy_search(
    decoder: IncrementalDecoder, memory: Any, *, batch_size: int, bos: int, eos: int, max_len: int
) -> list[Hypothesis]:
    """The most probable next token at every step, until the end token or ``max_len`` tokens."""
    _check(batch_size, max_len)
    device = _device(decoder)
    state = decoder.init_state(memory)
    last = torch.full((batch_size,), bos, dtype=torch.long, device=device)
    log_prob = torch.zeros(batch_size, dtype=_score_dtype(device), device=device)
    ended = torch.zeros(batch_size, dtype=torch.bool, device=device)
    steps = []
    for _ in range(max_len):
        log_probs, state = decoder.step(last, state)
        token = log_probs.argmax(dim=-1)
        gained = log_probs.gather(1, token.unsqueeze(1)).squeeze(1).to(log_prob.dtype)
        log_prob += torch.where(ended, torch.zeros_like(gained), gained)
        steps.append(torch.where(ended, torch.full_like(token, eos), token))
        ended |= token == eos
        if bool(ended.all()):
            break
        last = token
    generated = torch.stack(steps, dim=1).tolist()
    hypotheses = []
    for row, total, done in zip(generated, log_prob.tolist(), ended.tolist()):
        tokens = row[: row.index(eos)] if done else row
        hypotheses.append(Hypothesis(tokens, total, total, done))
    return hypotheses


def search(
    decoder: IncrementalDecoder,
    memory: Any,
    *,
    batch_size: int,
    bos: int,
    eos: int,
    beam_size: int,
    max_len: int,
    length_penalty_alpha: float = 0.0,
    nbest: int = 1,
) -> list[list[Hypothesis]]:
    """The ``nbest`` best hypotheses of each sequence: greedy search when one is asked of a beam of 1, else beam
    search. What every task that decodes calls."""
    if beam_size == 1 and nbest == 1:
        found = greedy_search(decoder, memory, batch_size=batch_size, bos=bos, eos=eos, max_len=max_len)
        return [[hypothesis] for hypothesis in found]
    return beam_search(
        decoder,
        memory,
        batch_size=batch_size,
        bos=bos,
        eos=eos,
        beam_size=beam_size,
        max_len=max_len,
        length_penalty_alpha=length_penalty_alpha,
        nbest=nbest,
    )


@torch.no_grad()
def beam_search(
    decoder: IncrementalDecoder,
    memory: Any,
    *,
    batch_size: int,
    bos: int,
    eos: int,
    beam_size: int = 5,
    max_len: int = 100,
    length_penalty_alpha: float = 0.0,
    nbest: int = 1,
) -> list[list[Hypothesis]]:
    """The ``nbest`` best hypotheses of each sequence from a beam of ``beam_size`` (batched): finished ones best
    first, then, if fewer than ``nbest`` finished within ``max_len`` tokens, the best prefixes cut there."""
    _check(batch_size, max_len)
    if beam_size < 1 or not 1 <= nbest <= beam_size:
        raise ValueError(f"need beam_size >= 1 and 1 <= nbest <= beam_size, got {beam_size}, {nbest}")
    if length_penalty_alpha < 0:
        raise ValueError(f"length_penalty_alpha must be >= 0, got {length_penalty_alpha}")
    B, K, alpha = batch_size, beam_size, length_penalty_alpha
    device = _device(decoder)
    state = decoder.reorder_state(decoder.init_state(memory), torch.arange(B, device=device).repeat_interleave(K))
    scores = torch.full((B, K), -math.inf, dtype=_score_dtype(device), device=device)
    scores[:, 0] = 0.0  # one live prefix per sequence at the start: the K copies would otherwise be duplicates
    prefixes = torch.empty((B * K, 0), dtype=torch.long, device=device)
    last = torch.full((B * K,), bos, dtype=torch.long, device=device)
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    done = [False] * B
    rows = torch.arange(B, device=device).unsqueeze(1)
    for length in range(1, max_len + 1):
        log_probs, state = decoder.step(last, state)
        vocab = log_probs.shape[-1]
        candidates = (scores.view(-1, 1) + log_probs.to(scores.dtype)).view(B, K * vocab)
        top_scores, top_index = candidates.topk(min(2 * K, K * vocab), dim=1)
        origin, token = top_index // vocab, top_index % vocab

        # Candidates that end, among the K best, become finished hypotheses.
        ends = token == eos
        for b, j in ends[:, :K].nonzero().tolist():
            raw = float(top_scores[b, j])
            if not done[b] and raw > -math.inf:
                prefix = prefixes[b * K + origin[b, j]].tolist()
                finished[b].append(Hypothesis(prefix, raw / length_penalty(length, alpha), raw, True))

        # The K best candidates that do not end stay in the beam.
        scores, rank = top_scores.masked_fill(ends, -math.inf).topk(K, dim=1)
        flat = (rows * K + origin.gather(1, rank)).view(-1)
        last = token.gather(1, rank).view(-1)
        prefixes = torch.cat([prefixes[flat], last.unsqueeze(1)], dim=1)
        state = decoder.reorder_state(state, flat)

        # Exact early finish: K finished hypotheses that no live prefix can overtake.
        best_possible = scores.max(dim=1).values / length_penalty(max_len, alpha)
        for b in range(B):
            if done[b]:
                continue
            kept = sorted((h.score for h in finished[b]), reverse=True)
            if math.isinf(float(best_possible[b])) or (len(kept) >= K and float(best_possible[b]) <= kept[K - 1]):
                done[b] = True
                scores[b] = -math.inf
        if all(done):
            break

    # Prefixes still live at max_len are cut there. Their scores lack the end token's cost, so they only fill the
    # n-best list of a sequence with too few finished hypotheses, after those.
    results = []
    for b in range(B):
        best = sorted(finished[b], key=lambda h: h.score, reverse=True)[:nbest]
        if len(best) < nbest and not done[b]:
            cut = []
            for k in range(K):
                raw = float(scores[b, k])
                if raw > -math.inf:
                    prefix = prefixes[b * K + k].tolist()
                    cut.append(Hypothesis(prefix, raw / length_penalty(max_len, alpha), raw, False))
            best += sorted(cut, key=lambda h: h.score, reverse=True)[: nbest - len(best)]
        results.append(best)
    return results


# ----------------------------------------------------------------------------------------------------------------
# Sampling from a language model
# ----------------------------------------------------------------------------------------------------------------


class LanguageModel(Protocol):
    """``model(tokens (B, T), state) -> (logits (B, T, V), state)``, as in :mod:`nnzoo.nn.language_models`."""

    def __call__(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]: ...


Constraint = Callable[[list[int]], Tensor]  # tokens generated so far -> boolean mask (V,) of allowed next tokens


@torch.no_grad()
def sample(
    model: LanguageModel,
    prompt: list[int],
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    generator: torch.Generator | None = None,
    allowed: Constraint | None = None,
    chunk: int = 256,
) -> list[int]:
    r"""``length`` tokens that continue ``prompt``, one at a time from the model's distribution.

    .. math::
        p_i \propto \exp(z_i / \tau) \text{ over the } k \text{ largest logits } z_i \text{ (all if } k = 0)

    ``temperature`` τ < 1 sharpens the distribution, τ > 1 flattens it, τ = 0 takes the most probable token
    (greedy). ``allowed(generated)`` may forbid tokens at each step (a poem's form, no special symbols); the
    prompt is read ``chunk`` tokens at a time. Draws come from ``generator`` (on the CPU), so a seed fixes them.
    """
    if not prompt:
        raise ValueError("sampling needs a prompt of at least one token")
    if length < 0 or temperature < 0 or top_k < 0:
        raise ValueError(f"need length, temperature and top_k >= 0, got {length}, {temperature}, {top_k}")
    device = _device(model)
    tokens = torch.tensor([prompt], dtype=torch.long, device=device)
    state, logits = None, None
    for start in range(0, tokens.shape[1], chunk):
        logits, state = model(tokens[:, start : start + chunk], state)
    generated: list[int] = []
    for _ in range(length):
        scores = logits[0, -1].float().cpu()
        if allowed is not None:
            mask = allowed(generated)
            if not bool(mask.any()):
                raise ValueError(f"the constraint allows no token after {len(generated)} generated tokens")
            scores = scores.masked_fill(~mask, -math.inf)
        token = _draw(scores, temperature, top_k, generator)
        generated.append(token)
        logits, state = model(torch.tensor([[token]], dtype=torch.long, device=device), state)
    return generated


def _draw(scores: Tensor, temperature: float, top_k: int, generator: torch.Generator | None) -> int:
    if temperature == 0:
        return int(scores.argmax())
    if top_k and top_k < scores.numel():
        threshold = scores.topk(top_k).values[-1]
        scores = scores.masked_fill(scores < threshold, -math.inf)
    probabilities = torch.softmax(scores / temperature, dim=-1)
    return int(torch.multinomial(probabilities, 1, generator=generator))
