"""Task `translate`: tokenisation that keeps placeholders, deterministic data, scoring, a tiny training run."""

from __future__ import annotations

import pytest
import torch

import nnzoo
from nnzoo.data.gettext_catalogs import PLACEHOLDER, load_pairs
from nnzoo.registry import resolve_config
from nnzoo.tasks.translate import Translate, characters, normalize
from nnzoo.training.trainer import evaluate


@pytest.mark.parametrize(
    ("text", "placeholders"),
    [
        ("cannot open %s: %d errors", ["%s", "%d"]),
        ("%1$s of %2$lu bytes (100%%)", ["%1$s", "%2$lu", "%%"]),
        ("field %-20s | %.3f | %*d", ["%-20s", "%.3f", "%*d"]),
        ("hello {0}, {name} and {}", ["{0}", "{name}", "{}"]),
    ],
)
def test_placeholders_are_found_whole(text, placeholders):
    assert PLACEHOLDER.findall(text) == placeholders


def test_chinese_characters_keep_placeholders_and_spaces():
    assert characters("无法打开 %s：%d") == ["无", "法", "打", "开", "▁", "%s", "：", "%d"]


def make_task(*overrides: str, model: str = "transformer") -> Translate:
    return Translate(resolve_config(task="translate", model=model, overrides=overrides))


@pytest.fixture(scope="module", params=["zh", "fr"])
def small(request):
    task = make_task(f"data.target={request.param}", "data.max_pairs=1500", "data.vocab_size=600")
    return task, task.build_data()


def test_data_is_real_and_deterministic(small):
    task, data = small
    assert sum(len(split) for split in data.values()) == 1500
    again = make_task(f"data.target={task.cfg.data.target}", "data.max_pairs=1500", "data.vocab_size=600")
    again.build_data()
    assert again.info == task.info  # the tokenizer models are trained to the same bytes
    sources = {name: {tuple(s) for s in split.sources} for name, split in data.items()}
    assert not (sources["train"] & sources["test"])  # split by English message


def test_rendering_inverts_tokenisation(small):
    task, data = small
    pairs = {normalize(s): normalize(t) for s, t in load_pairs(task.cfg.data.target)}
    for key in data["val"].keys[:20]:
        target = pairs[key]
        assert task.render(task.target_symbols(target)) == target
        assert "%s" not in target or "%s" in task.target_symbols(target)


def test_perfect_translations_score_100(small):
    task, data = small
    references = [[task.target_vocab.decode(r) for r in refs] for refs in data["val"].references]
    scores = task.score([r[0] for r in references], references)
    assert scores["bleu"] == pytest.approx(100) and scores["chrf"] == pytest.approx(100)


def sacrebleu_scores(target: str, hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """BLEU (sacrebleu's ``zh`` tokenizer for Chinese, ``13a`` otherwise) and chrF of detokenised text."""
    import sacrebleu

    tokenize = {"zh": "zh", "fr": "13a"}[target]
    return {
        "bleu": sacrebleu.corpus_bleu(hypotheses, [references], tokenize=tokenize).score,
        "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score,
    }


def test_imperfect_translations_score_as_sacrebleu_on_the_rendered_text(small):
    task, data = small
    target = task.cfg.data.target
    references = [[task.target_vocab.decode(r) for r in refs] for refs in data["val"].references]
    texts = [task.render(refs[0]) for refs in references]
    # Each reference's first half: every n-gram right, but short (the brevity penalty), so neither 0 nor 100.
    halves = [refs[0][: max(1, len(refs[0]) // 2)] for refs in references]
    scores = task.score(halves, references)
    assert scores == pytest.approx(sacrebleu_scores(target, [task.render(h) for h in halves], texts), rel=1e-9)
    assert 20 < scores["bleu"] < 50 and 30 < scores["chrf"] < 65  # measured: 34 and 46 (zh), 31 and 51 (fr)
    # The English messages as their own "translation": placeholders and jargon match, little else does.
    copies = [normalize(key) for key in data["val"].keys]
    scored = task.score([task.target_symbols(c) for c in copies], references)
    assert scored == pytest.approx(sacrebleu_scores(target, copies, texts), rel=1e-9)
    assert 0 < scored["bleu"] < scores["bleu"]  # measured: 8.5 (zh), 18.5 (fr)


def test_a_small_transformer_learns_and_translates(small, tmp_path):
    target = small[0].cfg.data.target
    overrides = [
        f"data.target={target}",
        "data.max_pairs=1500",
        "data.vocab_size=600",
        "model.d_model=64",
        "model.dim_feedforward=128",
        "model.encoder_layers=1",
        "model.decoder_layers=1",
        "train.max_steps=60",
        "train.eval_every=60",
        "train.warmup_steps=10",
        "eval.beam_size=2",
    ]
    start = nnzoo.build("translate", overrides=overrides)  # the weights nnzoo.train starts from
    before = evaluate(start.task, start.model, start.data["val"])["loss"]
    run = nnzoo.train(
        "translate", overrides=overrides, run_dir=tmp_path / target, progress=False, figures=False
    )  # fmt: skip
    assert run.state["best_step"] == run.state["step"]  # one evaluation, at the end: the best is the last
    task, model = run.task, run.model
    after = run.evaluate("val")
    assert after["loss"] < before - 0.5  # measured: 6.5 -> 5.6 (fr), more for zh
    # The reported scores are sacrebleu's on the beam's (eval.beam_size=2) decoded, rendered translations, not on
    # anything else (measured: 0; after 60 steps the beam ends every translation at once, an empty string).
    hypotheses, references = task.transcripts(model, run.data["val"], beam_size=2)
    rendered = [task.render(h) for h in hypotheses]
    expected = sacrebleu_scores(target, rendered, [task.render(r[0]) for r in references])
    assert {k: after[k] for k in expected} == pytest.approx(expected, rel=1e-9, abs=1e-9)
    # An unseen character becomes <unk>; the message still translates.
    (first,), (second,) = task.predict(model, ["file not found", "cannot open %s 🙂"])
    assert all(isinstance(t.text, str) and t.log_prob <= 0 for t in (first, second))
    torch.manual_seed(0)
