"""Task `translate`: tokenisation that keeps placeholders, deterministic data, scoring, a tiny training run."""

from __future__ import annotations

import pytest
import torch

import nnzoo
from nnzoo.data.gettext_catalogs import PLACEHOLDER, load_pairs
from nnzoo.errors import ConfigError
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


def direction(task: Translate) -> list[str]:
    return [f"data.source={task.cfg.data.source}", f"data.target={task.cfg.data.target}"]


@pytest.fixture(scope="module", params=["en-zh", "en-fr", "zh-en"])
def small(request):
    source, target = request.param.split("-")
    task = make_task(f"data.source={source}", f"data.target={target}", "data.max_pairs=1500", "data.vocab_size=600")
    return task, task.build_data()


def test_data_is_real_and_deterministic(small):
    task, data = small
    assert sum(task.info["pairs"].values()) == 1500  # messages; into English a message may give several pairs
    again = make_task(*direction(task), "data.max_pairs=1500", "data.vocab_size=600")
    again.build_data()
    assert again.info == task.info  # the tokenizer models are trained to the same bytes
    sources = {name: {tuple(s) for s in split.sources} for name, split in data.items()}
    assert not (sources["train"] & sources["test"])  # split by source message


def test_rendering_inverts_tokenisation(small):
    task, data = small
    translations: dict[str, set[str]] = {}  # normalised source -> its normalised translations in the catalogs
    for english, other in load_pairs(task.cfg.data.language):
        source, target = (english, other) if task.cfg.data.source == "en" else (other, english)
        translations.setdefault(normalize(source), set()).add(normalize(target))
    for key, references in zip(data["val"].keys[:20], data["val"].references[:20], strict=True):
        expected = {tuple(task.target_vocab.encode(task.target_symbols(t))) for t in translations[key]}
        assert {tuple(r) for r in references} <= expected  # each reference is a catalog translation of the source
        for target in translations[key]:
            assert task.render(task.target_symbols(target)) == target
            assert "%s" not in target or "%s" in task.target_symbols(target)


def test_into_english_a_message_has_every_english_wording_as_reference():
    task = make_task("data.source=zh", "data.target=en")
    data = task.build_data()
    english = {}  # normalised Chinese -> the normalised English messages it translates
    for source, target in load_pairs("zh"):
        if len(normalize(source)) <= 160 and len(normalize(target)) <= 160:
            english.setdefault(normalize(target), set()).add(normalize(source))
    several = [i for i, refs in enumerate(data["test"].references) if len(refs) > 1]
    assert len(several) > 10  # measured: 29 of 1,439 test messages
    for i in several:
        expected = {tuple(task.target_vocab.encode(task.target_symbols(t))) for t in english[data["test"].keys[i]]}
        assert {tuple(r) for r in data["test"].references[i]} == expected
    # Training sees each reference as its own pair; evaluation one row per message.
    assert len(data["train"]) > task.info["pairs"]["train"] and len(data["test"]) == task.info["pairs"]["test"]


@pytest.mark.parametrize(
    ("source", "target"), [("zh", "zh"), ("en", "en"), ("fr", "zh"), ("zh", "fr")]
)  # fmt: skip
def test_a_direction_without_catalogs_is_refused_in_one_line(source, target):
    with pytest.raises(ConfigError) as error:
        make_task(f"data.source={source}", f"data.target={target}")
    assert str(error.value) == (
        f"cannot translate data.source={source} into data.target={target}; "
        "the catalogs pair English with one other language: en→zh, en→fr, zh→en, fr→en"
    )


def test_perfect_translations_score_100(small):
    task, data = small
    references = [[task.target_vocab.decode(r) for r in refs] for refs in data["val"].references]
    scores = task.score([r[0] for r in references], references)
    assert scores["bleu"] == pytest.approx(100) and scores["chrf"] == pytest.approx(100)


def sacrebleu_scores(target: str, hypotheses: list[str], references: list[list[str]]) -> dict[str, float]:
    """BLEU (sacrebleu's ``zh`` tokenizer for Chinese, ``13a`` otherwise) and chrF of detokenised text, each
    hypothesis against all of its references."""
    import sacrebleu

    tokenize = {"zh": "zh", "fr": "13a", "en": "13a"}[target]
    streams = [[refs[j] if j < len(refs) else None for refs in references] for j in range(max(map(len, references)))]
    return {
        "bleu": sacrebleu.corpus_bleu(hypotheses, streams, tokenize=tokenize).score,
        "chrf": sacrebleu.corpus_chrf(hypotheses, streams).score,
    }


def test_imperfect_translations_score_as_sacrebleu_on_the_rendered_text(small):
    task, data = small
    target = task.cfg.data.target
    references = [[task.target_vocab.decode(r) for r in refs] for refs in data["val"].references]
    texts = [[task.render(r) for r in refs] for refs in references]
    # Each reference's first half: every n-gram right, but short (the brevity penalty), so neither 0 nor 100.
    halves = [refs[0][: max(1, len(refs[0]) // 2)] for refs in references]
    scores = task.score(halves, references)
    assert scores == pytest.approx(sacrebleu_scores(target, [task.render(h) for h in halves], texts), rel=1e-9)
    # measured: BLEU 34 and chrF 46 (into zh), 31 and 51 (fr), 30 and 50 (en)
    assert 20 < scores["bleu"] < 50 and 30 < scores["chrf"] < 65
    # The source messages as their own "translation": placeholders and jargon match, little else does.
    copies = [normalize(key) for key in data["val"].keys]
    copied = [task.target_symbols(c) for c in copies]
    scored = task.score(copied, references)
    assert scored == pytest.approx(sacrebleu_scores(target, [task.render(c) for c in copied], texts), rel=1e-9)
    assert 0 < scored["bleu"] < scores["bleu"]  # measured: 8.5 (zh), 18.5 (fr), 17 (en: placeholders and punctuation)


def test_a_small_transformer_learns_and_translates(small, tmp_path):
    target = small[0].cfg.data.target
    overrides = [
        *direction(small[0]),
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
    expected = sacrebleu_scores(target, rendered, [[task.render(r) for r in refs] for refs in references])
    assert {k: after[k] for k in expected} == pytest.approx(expected, rel=1e-9, abs=1e-9)
    # An unseen character becomes <unk>; the message still translates.
    chinese = task.cfg.data.source == "zh"
    messages = ["无法打开文件", "无法打开 %s 🙂"] if chinese else ["file not found", "cannot open %s 🙂"]
    (first,), (second,) = task.predict(model, messages)
    assert all(isinstance(t.text, str) and t.log_prob <= 0 for t in (first, second))
    torch.manual_seed(0)
