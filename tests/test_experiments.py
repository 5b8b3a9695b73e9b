"""``nnzoo experiment``: every experiment at the tiny budget (schema, figures, the robust signs), and the pieces."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest
import torch
from torch.nn import functional as F

from nnzoo.data.memory_tasks import ADDING_CONSTANT_MSE, BLANK, DELIMITER, IGNORE, adding_problem, copy_memory
from nnzoo.experiments import EXPERIMENTS
from nnzoo.experiments.gradients import state_gradient_norms
from nnzoo.experiments.parallel import crossover, models
from nnzoo.nn.tcn import receptive_field

SCHEMA = {
    "experiment",
    "claim",
    "budget",
    "settings",
    "overrides",
    "measurements",
    "answer",
    "figures",
    "seconds",
    "machine",
}


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    from nnzoo.cli import main

    folder = tmp_path_factory.mktemp("experiments")
    assert main(["experiment", "all", "--budget", "tiny", "--run-dir", str(folder), "--quiet"]) == 0
    return folder


@pytest.mark.slow  # the experiments at the tiny budget: about 30 s, shared by these tests
@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_experiment_writes_its_results_and_figures(tiny_results, name):
    results = json.loads((tiny_results / name / "results.json").read_text())
    assert set(results) == SCHEMA and results["experiment"] == name and results["budget"] == "tiny"
    assert results["answer"] and results["claim"]
    assert results["figures"] and all((tiny_results / name / figure).is_file() for figure in results["figures"])


@pytest.mark.slow  # the experiments at the tiny budget: about 30 s, shared by these tests
def test_sigmoid_starves_the_first_layers(tiny_results):
    # Robust at any budget: σ' <= 1/4, so every sigmoid layer shrinks the gradient; ReLU's derivative is 0 or 1.
    depth = json.loads((tiny_results / "gradients" / "results.json").read_text())["measurements"]["through_depth"]
    ratios = {r["activation"]: r["log10_first_over_last_init"] for r in depth.values() if r["init"] == "scaled"}
    assert min(ratios, key=ratios.get) == "sigmoid" and ratios["sigmoid"] < ratios["relu"] - 2


@pytest.mark.slow  # the experiments at the tiny budget: about 30 s, shared by these tests
def test_context_and_skips_compare_the_right_models(tiny_results):
    context = json.loads((tiny_results / "context" / "results.json").read_text())["measurements"]
    assert set(context["apple_accuracy"]) == {"mlp", "lstm", "bilstm", "transformer"}
    # The baseline, counted from the corpus: the share of the test split's apples whose tag is the word's most
    # frequent tag in the training split.
    from nnzoo.data.tagged_sentences import apple_sentences
    from nnzoo.registry import resolve_config
    from nnzoo.tasks.tagging import Tagging

    parts = Tagging(resolve_config(task="tagging", overrides=["data.corpus=apple"])).split(apple_sentences())
    tags = {name: Counter(t for s in parts[name] for w, t in s if w == "apple") for name in ("train", "test")}
    (majority, _), (_, minority) = tags["train"].most_common()
    assert tags["train"][majority] > minority  # no tie: the most frequent tag is one tag
    expected = tags["test"][majority] / tags["test"].total()
    assert context["most_frequent_tag_accuracy"] == pytest.approx(expected, abs=1e-9)
    # Robust at any budget: a model that sees the word alone gives every test apple the same tag, so it scores the
    # share of one of the two senses, at most the larger one.
    larger_share = max(context["most_frequent_tag_accuracy"], 1 - context["most_frequent_tag_accuracy"])
    assert all(accuracy <= larger_share + 1e-9 for accuracy in context["apple_accuracy"]["mlp"])
    skips = json.loads((tiny_results / "skips" / "results.json").read_text())["measurements"]
    for setup in skips.values():
        assert setup["unet"]["parameters"] > setup["autoencoder"]["parameters"]


@pytest.mark.slow  # the experiments at the tiny budget: about 30 s, shared by these tests
def test_parallel_times_every_model_at_every_length(tiny_results):
    results = json.loads((tiny_results / "parallel" / "results.json").read_text())
    lengths = results["settings"]["lengths"]
    ms, measured = results["measurements"]["ms"], results["measurements"]
    assert set(ms) == {"rnn", "lstm", "gru", "transformer", "tcn"}
    assert all(len(times) == len(lengths) and all(0 < t < math.inf for t in times) for times in ms.values())
    sizes = {
        name: sum(p.numel() for p in model.parameters()) for name, model in models(results["settings"]["width"]).items()
    }
    assert measured["parameters"] == sizes and 0.9 < sizes["transformer"] / sizes["lstm"] < 1.1  # matched sizes
    for name in ("rnn", "lstm", "gru"):  # the crossovers and the answer's ratios are those of the recorded times
        assert measured["crossover"][name] == crossover(lengths, ms[name], ms["transformer"])
        ratios = ", ".join(f"L={n}: {r / a:.1f}×" for n, r, a in zip(lengths, ms[name], ms["transformer"]))
        assert f"{name} time / Transformer time: {ratios} (" in results["answer"]
    # The TCN of each length is the shallowest whose last output sees the whole sequence.
    for length, convolution in zip(lengths, measured["tcn"], strict=True):
        assert convolution["receptive_field"] == receptive_field(convolution["levels"], 3) >= length
        assert convolution["levels"] == 1 or receptive_field(convolution["levels"] - 1, 3) < length


def test_step_by_step_gradients_match_the_whole_sequence():
    """Running the layer one step at a time gives the same prediction, and the same ∂L/∂h_T, as one call."""
    from nnzoo.nn.sequence_models import SequenceModel, SequenceModelConfig

    torch.manual_seed(0)
    model = SequenceModel("lstm", 2, 1, "last", SequenceModelConfig(width=8))
    x, y = adding_problem(5, 12, torch.Generator().manual_seed(0))
    output, _ = model.core(x)
    last = output[:, -1].detach().requires_grad_()
    loss = F.mse_loss(model.readout(last).squeeze(-1), y, reduction="sum")
    (expected,) = torch.autograd.grad(loss, last)
    norms = state_gradient_norms(model, x, y)
    assert norms.shape == (12,)
    assert float(norms[-1]) == pytest.approx(float(expected.norm(dim=-1).mean()), rel=1e-5)


def test_adding_problem_marks_one_value_in_each_half():
    x, y = adding_problem(1000, 50, torch.Generator().manual_seed(0))
    markers = x[..., 1]
    assert (markers.sum(1) == 2).all() and (markers[:, :25].sum(1) == 1).all()
    assert torch.allclose(y, (x[..., 0] * markers).sum(1))
    assert float(((y - 1) ** 2).mean()) == pytest.approx(ADDING_CONSTANT_MSE, rel=0.1)


def test_copy_memory_scores_only_the_recall():
    tokens, targets = copy_memory(4, 7, torch.Generator().manual_seed(0))
    assert tokens.shape == targets.shape == (4, 27)
    assert (tokens[:, :10] < 8).all() and (tokens[:, 10:16] == BLANK).all() and (tokens[:, 16] == DELIMITER).all()
    assert (tokens[:, 17:] == BLANK).all()
    assert (targets[:, :17] == IGNORE).all() and torch.equal(targets[:, 17:], tokens[:, :10])
    with pytest.raises(ValueError, match="delay must be >= 1"):
        copy_memory(1, 0)


def test_memory_models_have_matched_sizes():
    from nnzoo.experiments.memory import MODELS, PARAMETERS, PROBLEMS, matched_width, parameter_count

    for task in PROBLEMS.values():
        for kind in MODELS:
            count = parameter_count(task, kind, matched_width(task, kind))
            assert abs(count - PARAMETERS) < 0.1 * PARAMETERS, (task, kind, count)


def test_bottleneck_models_have_matched_sizes():
    from nnzoo import registry
    from nnzoo.experiments.bottleneck import SIZES
    from nnzoo.registry import resolve_config

    info = {"source_symbols": list("abcdefghijklmnopqrstuvwxyz'."), "target_symbols": [f"P{i}" for i in range(39)]}
    info |= {"longest_source": 28, "longest_target": 24}
    counts = {}
    for model, overrides in SIZES.items():
        task = registry.get_task("g2p")(resolve_config(task="g2p", model=model, overrides=overrides), "cpu")
        task.info = info
        counts[model] = sum(p.numel() for p in task.build_model().parameters())
    assert max(counts.values()) < 1.15 * min(counts.values()), counts


def test_bottleneck_scores_each_length_bin_on_its_own_words():
    from nnzoo.experiments.bottleneck import scores_by_length

    references = [[["A"]], [["A", "B", "C", "D", "E", "F"]], [list("ABCDEFGHIJKL")], [list("ABCDEFGHIJKL")]]
    hypotheses = [["A"], ["A", "B", "C", "D", "E", "X"], list("ABCDEFGHIJKL"), list("ABCDEF")]
    scores = scores_by_length(hypotheses, references, [3, 6, 12, 13])
    assert set(scores) == {"1–5", "6–7", "12+"}  # empty bins are left out
    assert scores["1–5"] == {"per": 0.0, "wer": 0.0}
    assert scores["6–7"] == {"per": pytest.approx(1 / 6), "wer": 1.0}
    assert scores["12+"] == {"per": pytest.approx(6 / 24), "wer": 0.5}


def test_bottleneck_averages_every_number_over_the_seeds():
    from nnzoo.experiments.bottleneck import mean_over_seeds

    seeds = [{"1–5": {"per": 0.1, "wer": 0.5}}, {"1–5": {"per": 0.3, "wer": 0.7}}]
    assert mean_over_seeds(seeds) == {"1–5": {"per": pytest.approx(0.2), "wer": pytest.approx(0.6)}}


@pytest.mark.slow  # the experiments at the tiny budget: about 30 s, shared by these tests
def test_bottleneck_scores_every_model_on_every_test_word(tiny_results):
    results = json.loads((tiny_results / "bottleneck" / "results.json").read_text())
    words = results["settings"]["test_words"]
    assert list(words) == results["settings"]["length_bins"] and sum(words.values()) > 100
    for model in ("gru-seq2seq", "lstm-attention", "transformer"):
        scores = results["measurements"]["by_length"][model]
        assert set(scores) == {label for label, count in words.items() if count}
        assert all(s["per"] >= 0 and 0 <= s["wer"] <= 1 for s in scores.values())


def test_crossover_is_where_the_recurrent_layer_stays_faster():
    assert crossover([16, 64, 256], [1.0, 2.0, 8.0], [0.5, 3.0, 20.0]) == 64
    assert crossover([16, 64, 256], [1.0, 4.0, 8.0], [2.0, 3.0, 20.0]) == 256  # a noisy flip does not count
    assert crossover([16, 64], [1.0, 2.0], [0.5, 1.0]) is None


def test_unknown_experiment_and_budget_are_clear_errors(cli, tmp_path):
    code, _, err = cli("experiment", "memroy", "--run-dir", tmp_path)
    assert (
        code == 2
        and "unknown experiment 'memroy'; choose one of basics, bottleneck, context, degradation, feedback, gradients, "
        "memory, parallel, skips or all"
        in err
    )
    code, _, err = cli("experiment", "parallel", "--budget", "huge", "--out-dir", tmp_path)  # the old name works
    assert code == 2 and "unknown budget 'huge'; choose one of tiny, small, full" in err


def test_the_help_names_every_experiment(cli, capsys):
    """The command line lists the experiments without importing them (so that --help answers at once): by hand."""
    from nnzoo.experiments import EXPERIMENTS

    with pytest.raises(SystemExit) as exit_info:
        cli("experiment", "--help")
    listed = " ".join(capsys.readouterr().out.split())  # argparse wraps the help text
    assert exit_info.value.code == 0 and f"{', '.join(sorted(EXPERIMENTS))}, or all" in listed


@pytest.mark.slow  # the experiments at the tiny budget: about 30 s, shared by these tests
def test_a_folder_from_other_settings_is_not_reused(tiny_results):
    from nnzoo.errors import UserError
    from nnzoo.experiments.base import train_and_evaluate

    with pytest.raises(UserError, match="holds a run with other settings"):
        train_and_evaluate(
            tiny_results / "context" / "mlp-seed0", "tagging", "mlp", ["train.epochs=7"], torch.device("cpu")
        )


@pytest.mark.slow  # the experiments at the tiny budget: about 30 s, shared by these tests
def test_running_an_experiment_again_reuses_its_finished_runs(tiny_results, cli):
    folder = tiny_results / "degradation" / "plain-8"
    before = (folder / "metrics.jsonl").read_text()
    code, _, err = cli("experiment", "degradation", "--budget", "tiny", "--run-dir", tiny_results, "--quiet")
    assert code == 0, err
    assert (folder / "metrics.jsonl").read_text() == before  # nothing trained again


def test_set_changes_one_experiments_settings_and_is_recorded(cli, tmp_path):
    code, out, _ = cli(
        "experiment", "memory", "--budget", "tiny", "--run-dir", tmp_path, "--quiet",
        "--set", "lengths=[6]", "--set", "models=[lstm, gru]", "--set", "problems=[adding]", "--set", "steps=3",
    )  # fmt: skip
    assert code == 0, out
    results = json.loads((tmp_path / "memory" / "results.json").read_text())
    assert results["settings"]["lengths"] == [6] and results["settings"]["steps"] == 3
    assert results["overrides"] == ["lengths=[6]", "models=[lstm, gru]", "problems=[adding]", "steps=3"]
    assert set(results["measurements"]["scores"]) == {"adding"}
    assert set(results["measurements"]["scores"]["adding"]) == {"lstm", "gru"}
    assert all(set(scores) == {"6"} for scores in results["measurements"]["scores"]["adding"].values())
    assert (tmp_path / "memory" / "memory.png").is_file() and "copy" not in results["answer"].lower()


@pytest.mark.parametrize(
    ("names", "setting", "message"),
    [
        (["memory"], "lenghts=[6]", "experiment 'memory': unknown key 'lenghts'; valid keys: lengths, steps, seeds"),
        (["memory"], "steps=many", "experiment 'memory': steps must be an integer; got 'many'"),
        (["memory"], "lengths=6", "experiment 'memory': lengths must be a list of integers; got 6"),
        (["memory"], "lengths=[]", "experiment 'memory': lengths needs at least one item"),
        (["memory"], "models=[lstm, elman]", "models[1] must be one of 'rnn', 'lstm', 'gru', 'transformer'"),
        (["all"], "steps=3", "--set changes the settings of one experiment; name only that one"),
    ],
)
def test_bad_settings_are_clear_errors(cli, tmp_path, names, setting, message):
    code, _, err = cli("experiment", *names, "--budget", "tiny", "--run-dir", tmp_path, "--set", setting)
    assert code == 2 and message in err and err.count("\n") == 1, err


@pytest.mark.slow  # the experiments at the tiny budget: about 30 s, shared by these tests
def test_basics_shows_depth_without_activation_is_one_linear_map(tiny_results):
    m = json.loads((tiny_results / "basics" / "results.json").read_text())["measurements"]
    assert all(v["gap_to_one_linear_map"] < 1e-5 for v in m["no_activation"].values())  # the product of the weights
    sizes = m["size_sweep_rmse"]
    smallest, biggest = min(sizes, key=int), max(sizes, key=int)
    assert sizes[biggest]["train"] < sizes[smallest]["train"]  # a bigger net fits its training points closer
    assert m["softmax_max_difference"] < 1e-12 and m["cross_entropy_difference"] < 1e-12
    assert set(m["cures_test_rmse"]) == {"none", "dropout 0.2", "weight decay 0.01"}


@pytest.mark.slow  # the experiments at the tiny budget: about 30 s, shared by these tests
def test_degradation_compares_plain_and_residual_nets_of_equal_depth_and_steps(tiny_results):
    results = json.loads((tiny_results / "degradation" / "results.json").read_text())
    measured, depths = results["measurements"], [str(6 * n + 2) for n in results["settings"]["blocks_per_stage"]]
    assert list(measured["plain"]) == list(measured["residual"]) == depths
    steps = {r["steps"] for kind in measured.values() for r in kind.values()}
    assert len(steps) == 1  # the same number of steps for every network
    for depth in depths:  # the residual net is the plain one plus the shortcuts' projections
        assert measured["residual"][depth]["parameters"] > measured["plain"][depth]["parameters"]
    deep = depths[-1]  # at the same depth the shortcut trains better, by a wide margin even at the tiny budget
    assert measured["residual"][deep]["train_loss"] < 0.7 * measured["plain"][deep]["train_loss"]


@pytest.mark.slow  # the experiments at the tiny budget: about 30 s, shared by these tests
def test_feedback_compares_elman_and_jordan_at_equal_width_and_equal_parameters(tiny_results):
    results = json.loads((tiny_results / "feedback" / "results.json").read_text())
    sizes, scores = results["measurements"]["models"], results["measurements"]["scores"]
    for task, lengths in (("latch", "latch_lengths"), ("echo", "echo_delays")):
        elman, jordan, matched = (sizes[task][label] for label in ("elman", "jordan", "jordan, same parameters"))
        assert elman["width"] == jordan["width"] == results["settings"]["width"]
        assert jordan["parameters"] < elman["parameters"]  # its recurrent matrix is H x 1, not H x H
        assert abs(matched["parameters"] - elman["parameters"]) <= 0.1 * elman["parameters"]
        expected = {str(t) for t in results["settings"][lengths]}
        assert all(set(by_length) == expected for by_length in scores[task].values())
