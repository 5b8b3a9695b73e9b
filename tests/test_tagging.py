"""Tasks ``tagging`` and ``classify-text``: the corpora, the models' padding and context, the metrics, metric-gated
runs (context beats the context-free baseline on ambiguous words) and clear errors."""

from __future__ import annotations

import pytest
import torch

import nnzoo
from nnzoo import metrics
from nnzoo.data.reviews import sentiment_reviews
from nnzoo.data.tagged_sentences import NOTES_APPLE_SENTENCES, apple_sentences, english_words, peoples_daily
from nnzoo.errors import ConfigError, UserError
from nnzoo.nn.text_models import (
    ContextFreeTagger,
    ContextFreeTaggerConfig,
    ConvolutionalEncoder,
    ConvolutionalTagger,
    ConvolutionalTaggerConfig,
    RecurrentEncoder,
    RecurrentTagger,
    RecurrentTaggerConfig,
    SequenceClassifier,
    Tagger,
    TokenTransformerEncoder,
    reversed_within,
)
from nnzoo.registry import resolve_config
from nnzoo.tasks.classify_text import ClassifyText
from nnzoo.tasks.tagging import AMBIGUOUS, UNKNOWN, Tagging, accuracies


def make(task_class, name, model, overrides=()):
    return task_class(resolve_config(task=name, model=model, overrides=list(overrides)))


def fit(task: str, model: str, overrides: list[str], tmp_path) -> nnzoo.Run:
    run_dir = tmp_path / model
    return nnzoo.train(task, model=model, overrides=overrides, run_dir=run_dir, progress=False, figures=False)


# --- corpora -----------------------------------------------------------------------------------------------------
def test_corpora_are_real_and_complete():
    daily = peoples_daily()
    assert 18_000 < len(daily) < 20_000 and 1_000_000 < sum(map(len, daily)) < 1_200_000
    assert daily[1][0] == ("中共中央", "nt")
    assert len({t for s in daily for _, t in s}) >= 40
    apple = apple_sentences()
    assert len(apple) >= 200
    senses = [next(t for w, t in s if w == "apple") for s in apple]
    assert senses.count("FRUIT") == senses.count("COMPANY")
    assert all(sum(w == "apple" for w, _ in s) == 1 for s in apple)
    assert all(w == w.lower() and (t == "O") == (w != "apple") for s in apple for w, t in s)
    assert english_words("Apple's new iPhone, apples!") == ["apple", "'", "s", "new", "iphone", ",", "apples", "!"]
    reviews = sentiment_reviews()
    assert 15_000 < len(reviews) < 20_000 and len({t for t, _ in reviews}) == len(reviews)
    assert 0.4 < sum(label for _, label in reviews) / len(reviews) < 0.6


def test_splits_are_disjoint_and_words_get_their_kind():
    task = make(Tagging, "tagging", "mlp", ["data.corpus=apple"])
    data = task.build_data()
    texts = {name: {" ".join(w for w, _ in s) for s in data[name].sentences} for name in data}
    assert not texts["train"] & texts["val"] and not texts["train"] & texts["test"]
    assert task.info["ambiguous"] == ["apple"]  # every other word of the apple corpus is always O
    kinds = dict(zip((w for s in data["test"].sentences for w, _ in s), (k for s in data["test"].kinds for k in s)))
    assert kinds["apple"] == AMBIGUOUS
    assert all(k == UNKNOWN for w, k in kinds.items() if w not in task.word_vocab)


# --- models --------------------------------------------------------------------------------------------------------
def encoders():
    torch.manual_seed(0)
    return {
        "bilstm": RecurrentEncoder(20, "lstm", 6, 5),
        "bigru": RecurrentEncoder(20, "gru", 6, 5, num_layers=2),
        "transformer": TokenTransformerEncoder(20, 8, 2, 1, 16, dropout=0.0, max_len=32),
        "tcn": ConvolutionalEncoder(20, 6, 5, levels=2, kernel_size=2),  # sees 7 words each way
    }


@pytest.mark.parametrize("name", ["bilstm", "bigru", "transformer", "tcn"])
def test_padding_changes_nothing_and_context_reaches_every_position(name):
    encoder = encoders()[name].eval()
    tagger, classifier = Tagger(encoder, 3), SequenceClassifier(encoder, 2, "mean")
    tokens = torch.randint(4, 20, (1, 6))
    padded = torch.cat([tokens, torch.zeros(1, 4, dtype=torch.long)], dim=1)
    alone, lengths = tagger(tokens, torch.tensor([6])), torch.tensor([6])
    torch.testing.assert_close(tagger(padded, lengths)[:, :6], alone)
    torch.testing.assert_close(classifier(padded, lengths), classifier(tokens, lengths))
    changed = tokens.clone()
    changed[0, -1] = 4 if changed[0, -1] != 4 else 5  # the last word changes: the first word's tag may too
    assert not torch.allclose(tagger(changed, lengths)[0, 0], alone[0, 0])
    context_free = ContextFreeTagger(20, 3, ContextFreeTaggerConfig(embedding_dim=6, hidden=[8]))
    torch.testing.assert_close(context_free(changed)[0, 0], context_free(tokens)[0, 0])


def test_last_pooling_reads_the_final_state_of_each_direction():
    encoder = encoders()["bilstm"].eval()
    tokens, lengths = torch.randint(4, 20, (2, 7)), torch.tensor([7, 4])
    outputs, final = encoder(tokens, lengths)
    hidden = 5
    torch.testing.assert_close(final[1, :hidden], outputs[1, 3, :hidden])  # forward: its own last real step
    torch.testing.assert_close(final[1, hidden:], outputs[1, 0, hidden:])  # backward: the first step


@pytest.mark.parametrize("name", ["bilstm", "transformer", "tcn"])
def test_text_models_pass_gradcheck(name):
    encoder = encoders()[name].double().eval()
    model = SequenceClassifier(encoder, 2, "last" if name == "bilstm" else "mean").double()
    tokens, lengths = torch.randint(4, 20, (2, 5)), torch.tensor([5, 3])
    weight = encoder.embedding.weight.detach().clone().requires_grad_(True)

    def logits(w):
        return torch.func.functional_call(model, {"encoder.embedding.weight": w}, (tokens, lengths))

    assert torch.autograd.gradcheck(logits, (weight,))


def test_a_left_to_right_tagger_tags_each_word_from_the_words_up_to_it():
    """model.bidirectional=false: changing the last words changes no earlier tag; reading both ways, it does."""
    torch.manual_seed(0)
    sizes = {"embedding_dim": 6, "hidden_size": 5, "dropout": 0.0}
    one_way = RecurrentTagger(20, 3, RecurrentTaggerConfig(bidirectional=False, **sizes)).eval()
    both_ways = RecurrentTagger(20, 3, RecurrentTaggerConfig(**sizes)).eval()
    first = torch.randint(4, 20, (1, 7))
    second = first.clone()
    second[0, 5:] = (first[0, 5:] - 3) % 16 + 4  # other words at positions 5 and 6
    lengths = torch.tensor([7])
    assert one_way.encoder.out_features == 5 and both_ways.encoder.out_features == 10
    torch.testing.assert_close(one_way(first, lengths)[0, :5], one_way(second, lengths)[0, :5])
    assert not torch.allclose(both_ways(first, lengths)[0, :5], both_ways(second, lengths)[0, :5])
    # The same for the convolutional tagger, whose two directions are two TCNs.
    sizes = {"embedding_dim": 6, "channels": 5, "levels": 2, "dropout": 0.0}
    one_way = ConvolutionalTagger(20, 3, ConvolutionalTaggerConfig(bidirectional=False, **sizes)).eval()
    both_ways = ConvolutionalTagger(20, 3, ConvolutionalTaggerConfig(**sizes)).eval()
    torch.testing.assert_close(one_way(first, lengths)[0, :5], one_way(second, lengths)[0, :5])
    assert not torch.allclose(both_ways(first, lengths)[0, :5], both_ways(second, lengths)[0, :5])


def test_the_backward_tcn_reads_each_sentence_reversed_within_its_length():
    assert reversed_within(torch.tensor([3, 5]), 2, 5, torch.device("cpu")).tolist() == [
        [2, 1, 0, 3, 4],
        [4, 3, 2, 1, 0],
    ]
    torch.manual_seed(0)
    encoder = ConvolutionalEncoder(20, 6, 5, levels=2, kernel_size=2).eval()
    tokens, lengths = torch.randint(4, 20, (2, 7)), torch.tensor([7, 4])
    outputs, _ = encoder(tokens, lengths)
    # the second sentence alone, reversed by hand, through the backward TCN
    alone = encoder.backward_tcn(encoder.embedding(tokens[1:, :4].flip(1))).flip(1)
    torch.testing.assert_close(outputs[1:, :4, 5:], alone)


def test_metrics_by_hand():
    predicted, truth = torch.tensor([0, 1, 1, 2, 0]), torch.tensor([0, 1, 0, 2, 1])
    kinds = torch.tensor([0, 1, 1, 2, 1])
    result = accuracies(predicted, truth, kinds)
    assert result == pytest.approx({"accuracy": 0.6, "ambiguous_accuracy": 1 / 3, "unknown_accuracy": 1.0})
    assert accuracies(predicted, truth, torch.zeros(5, dtype=torch.long))["unknown_accuracy"] != 0  # NaN: none
    # class 0: tp 1, fp 1, fn 1 -> F1 1/2; class 1: tp 1, fp 1, fn 1 -> 1/2; class 2: 1
    scores = metrics.classification_scores(predicted, truth, 3)
    assert scores == pytest.approx({"accuracy": 0.6, "f1": (0.5 + 0.5 + 1) / 3})


def test_the_notes_two_apple_sentences_are_test_sentences_never_training_ones():
    task = make(Tagging, "tagging", "mlp", ["data.corpus=apple"])
    parts = {name: [[w for w, _ in s] for s in part] for name, part in task.split(task.sentences()).items()}
    for text in NOTES_APPLE_SENTENCES:
        words = english_words(text)
        assert words in parts["test"] and words not in parts["train"] and words not in parts["val"], text


# --- metric-gated runs ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_context_beats_the_context_free_models_on_apple(tmp_path):
    common = ["data.corpus=apple", "train.epochs=20", "train.monitor=ambiguous_accuracy"]
    results = {}
    for model in ("mlp", "bilstm", "tcn"):
        run = fit("tagging", model, common, tmp_path)
        results[model] = run.evaluate("test")
    baseline = run.baselines("test")["most frequent tag of the word"]
    assert 0.3 < baseline["ambiguous_accuracy"] < 0.7 and 0.3 < results["mlp"]["ambiguous_accuracy"] < 0.7
    assert results["bilstm"]["ambiguous_accuracy"] >= 0.75, results
    assert results["bilstm"]["ambiguous_accuracy"] > results["mlp"]["ambiguous_accuracy"] + 0.2
    assert results["tcn"]["ambiguous_accuracy"] > results["mlp"]["ambiguous_accuracy"] + 0.2  # two-way convolutions


@pytest.mark.slow
def test_a_bilstm_beats_the_most_frequent_tag_on_ambiguous_peoples_daily_words(tmp_path):
    run = fit("tagging", "bilstm", ["data.max_sentences=3000", "train.epochs=4", "model.hidden_size=64"], tmp_path)
    result, baseline = run.evaluate("test"), run.baselines("test")["most frequent tag of the word"]
    assert result["ambiguous_accuracy"] > baseline["ambiguous_accuracy"] + 0.02, (result, baseline)
    assert result["accuracy"] > 0.8


def test_a_short_classifier_run_learns_the_sentiment(tmp_path):
    run = fit("classify-text", "gru", ["data.max_reviews=3000", "train.epochs=4", "train.lr=5e-3"], tmp_path)
    result, baselines = run.evaluate("test"), run.baselines("test")
    assert result["accuracy"] > 0.7 and result["f1"] > 0.7, result
    assert baselines["majority class (negative)"]["accuracy"] < 0.6


# --- command line and errors ---------------------------------------------------------------------------------------
def test_cli_tags_and_classifies(tmp_path, cli):
    run = tmp_path / "apple"
    assert cli("train", "--recipe", "tagging/apple", "--run-dir", run, "--quiet")[0] == 0
    sentences = ["I like eating apple", "Apple is a great company", "apple xyzzy"]
    code, out, err = cli("predict", run, *sentences)
    lines = out.strip().splitlines()
    assert code == 0, err
    # The notes' sentences are held out of training. The company is told from its context with seeds 0, 1 and 2;
    # "I like eating apple" only with seed 2 ("like" is a company cue in the corpus: docs/text.md).
    assert lines[1] == "apple/COMPANY is/O a/O great/O company/O", out
    assert lines[0] in ("i/O like/O eating/O apple/FRUIT", "i/O like/O eating/O apple/COMPANY"), out
    # One word/TAG per word, TAG one of the task's, "?" after a word unseen in training; the same as the API's.
    opened = nnzoo.open(run)
    tags = opened.task.info["tags"]
    assert sorted(tags) == ["COMPANY", "FRUIT", "O"]
    predicted = opened.predict(sentences)
    assert [w.known for w in predicted[2]] == [True, False]  # "xyzzy" is not in the corpus
    expected = [" ".join(f"{w.word}/{w.tag}" + ("" if w.known else "?") for w in words) for words in predicted]
    assert lines == expected, (out, expected)
    assert [len(line.split()) for line in lines] == [4, 5, 2] and lines[2].endswith("?")
    assert all(token.split("/")[1].rstrip("?") in tags for line in lines for token in line.split())
    assert (run / "figures" / "context_val.txt").is_file()
    code, out, _ = cli("eval", run, "--split", "test", "--quiet")
    assert code == 0 and "most frequent tag of the word" in out
    code, _, err = cli("predict", run, "  ")
    assert code == 2 and "nothing to tag" in err
    reviews = tmp_path / "reviews"
    args = ["--set=data.max_reviews=600", "--set=train.epochs=1", "--set=model.hidden_size=16"]
    assert cli("train", "classify-text", "--run-dir", reviews, "--quiet", *args)[0] == 0
    code, out, _ = cli("predict", reviews, "质量很好", "太差了")
    assert code == 0 and len(out.strip().splitlines()) == 2
    assert all(line.split()[0] in ("positive", "negative") for line in out.strip().splitlines())


def test_clear_errors():
    with pytest.raises(
        ConfigError, match=r"^data\.val_fraction and data\.test_fraction must be in \(0, 1\) with a sum below 1$"
    ):
        make(Tagging, "tagging", "bilstm", ["data.val_fraction=0"])
    with pytest.raises(
        ConfigError, match=r"^need data\.max_chars >= 1, data\.min_count >= 1 and data\.max_reviews >= 0$"
    ):
        make(ClassifyText, "classify-text", "gru", ["data.max_chars=0"])
    task = make(ClassifyText, "classify-text", "gru", ["data.max_reviews=300"])
    task.build_data()
    with pytest.raises(UserError, match="nothing to classify"):
        task.predict(task.build_model(), ["   "])
