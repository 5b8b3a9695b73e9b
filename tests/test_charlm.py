"""Task ``charlm``: the corpora, the stream layout of truncated BPTT, state carrying, sampling, the poem forms,
metric-gated runs and clear errors."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch.func import functional_call
from torch.nn import functional as F

import nnzoo
from nnzoo.data.text_corpora import chinese_fortunes, chinese_poems, shakespeare_works, strip_gutenberg
from nnzoo.decode import sample
from nnzoo.errors import ConfigError, UserError
from nnzoo.nn.language_models import (
    ConvolutionalLanguageModel,
    ConvolutionalLMConfig,
    RecurrentLanguageModel,
    RecurrentLMConfig,
    TransformerLanguageModel,
    TransformerLMConfig,
)
from nnzoo.registry import resolve_config
from nnzoo.tasks.charlm import CharLM, PoemForm, chunked_streams, random_windows, stream_nll
from nnzoo.training import seed_everything


def make_task(model="lstm", overrides=()):
    return CharLM(resolve_config(task="charlm", model=model, overrides=list(overrides)))


def tiny_models(vocab_size=12):
    torch.manual_seed(0)
    return [
        RecurrentLanguageModel(
            vocab_size, "lstm", RecurrentLMConfig(embedding_dim=5, hidden_size=7, num_layers=2, dropout=0.0)
        ),
        RecurrentLanguageModel(
            vocab_size, "gru", RecurrentLMConfig(embedding_dim=5, hidden_size=7, num_layers=1, dropout=0.0)
        ),
        TransformerLanguageModel(
            vocab_size, 16, TransformerLMConfig(d_model=8, nhead=2, num_layers=2, dim_feedforward=16, dropout=0.1)
        ),
        ConvolutionalLanguageModel(  # receptive field 1 + 2·1·(2³ - 1) = 15
            vocab_size, ConvolutionalLMConfig(embedding_dim=5, channels=8, levels=3, kernel_size=2, dropout=0.1)
        ),
    ]


# --- corpora -----------------------------------------------------------------------------------------------------
def test_corpora_are_real_and_complete():
    works = shakespeare_works()
    assert len(works) == 42 and "hamlet" in works and "sonnets" in works
    assert 4_900_000 < sum(map(len, works.values())) < 5_200_000
    assert "To be, or not to be" in works["hamlet"]
    assert all("\r" not in text and "\n\n\n" not in text for text in works.values())
    tang, song = chinese_poems("tang300"), chinese_poems("song100")
    assert len(tang) == 313 and len(song) == 95
    quiet_night = next(p for p in tang if p.title == "夜思")
    assert quiet_night.author == "李白" and quiet_night.lines[0].startswith("床前明月光")
    assert not any("\x1b" in p.text or "作者" in p.text for p in tang + song)
    assert all(p.author and "（" not in p.author for p in song)
    assert len(chinese_fortunes()) > 5000


def test_gutenberg_header_and_footer_are_stripped():
    text = (
        "Title\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\nbody\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\nl"
    )
    assert strip_gutenberg(text).strip() == "body"
    assert strip_gutenberg("no markers") == "no markers"


def test_splits_do_not_overlap():
    task = make_task(overrides=["data.max_chars=0"])
    texts = task.split_texts()
    total = sum(map(len, texts.values()))
    assert texts["val"][:2000] not in texts["train"] and texts["test"][:2000] not in texts["train"]
    assert 0.04 < len(texts["val"]) / total < 0.06 and 0.04 < len(texts["test"]) / total < 0.06
    poems = make_task(overrides=["data.corpus=poems"]).split_texts()
    train_poems = set(poems["train"].split("\n\n"))
    assert not train_poems & set(poems["val"].split("\n\n")) - {""}
    assert poems["train"].count("\n\n") > 300


# --- the stream layout and state carrying ------------------------------------------------------------------------
def test_chunked_streams_continue_each_stream_from_batch_to_batch():
    ids = torch.arange(1000)
    data = chunked_streams(ids, streams=4, length=10)
    inputs, targets, chunk = data.tensors
    assert torch.equal(targets, inputs + 1)  # the next character
    per_stream = 999 // 4
    for c in range(1, len(inputs) // 4):
        batch, previous = inputs[c * 4 : c * 4 + 4], inputs[(c - 1) * 4 : c * 4]
        assert torch.equal(batch[:, 0], previous[:, -1] + 1)  # chunk c starts where chunk c - 1 ended
        assert torch.equal(batch[:, 0] - batch[0, 0], torch.arange(4) * per_stream)  # stream s starts at s * n
        assert bool((chunk[c * 4 : c * 4 + 4] == c).all())


def test_random_windows_are_pieces_of_the_text_at_offsets_fixed_by_the_seed():
    ids = torch.arange(1000)
    data = random_windows(ids, 10, torch.Generator().manual_seed(0))
    inputs, targets, chunk = data.tensors
    assert inputs.shape == (99, 10) and torch.equal(targets, inputs + 1) and bool((chunk == -1).all())
    assert torch.equal(inputs, inputs[:, :1] + torch.arange(10))  # consecutive characters
    assert int(targets.max()) <= 999 and int(inputs.min()) >= 0
    assert len(set(inputs[:, 0].tolist())) > 90 and set((inputs[:, 0] % 10).tolist()) == set(range(10))  # any offset
    assert torch.equal(inputs, random_windows(ids, 10, torch.Generator().manual_seed(0)).tensors[0])
    assert not torch.equal(inputs, random_windows(ids, 10, torch.Generator().manual_seed(1)).tensors[0])


def test_the_transformer_samples_windows_from_its_seed_and_the_recurrent_models_chunks():
    overrides = ["data.max_chars=20000", "train.batch_size=4", "data.chunk_length=8"]
    for model, sampling in (("lstm", "auto"), ("transformer", "chunks"), ("tcn", "chunks")):
        assert bool(
            (make_task(model, [*overrides, f"data.sampling={sampling}"]).build_data()["train"].tensors[2] >= 0).all()
        )
    windows = [make_task("transformer", [*overrides, f"seed={s}"]) for s in (0, 0, 1)]  # auto: windows
    first, again, other = (task.build_data()["train"].tensors for task in windows)
    assert bool((first[2] == -1).all()) and len(first[0]) == 19_999 // 8
    assert torch.equal(first[0], again[0]) and not torch.equal(first[0], other[0])
    assert bool((make_task("lstm", [*overrides, "data.sampling=windows"]).build_data()["train"].tensors[2] == -1).all())
    assert bool((make_task("tcn", overrides).build_data()["train"].tensors[2] == -1).all())  # auto: windows too


def test_a_tied_transformer_writes_with_its_embedding():
    tied = TransformerLanguageModel(12, 16, TransformerLMConfig(d_model=8, nhead=2, num_layers=1, tie_embeddings=True))
    untied = TransformerLanguageModel(
        12, 16, TransformerLMConfig(d_model=8, nhead=2, num_layers=1, tie_embeddings=False)
    )
    assert tied.head.weight is tied.embedding.weight
    assert sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in tied.parameters()) == 12 * 8
    tied(torch.randint(0, 12, (2, 5)))[0].sum().backward()
    assert tied.embedding.weight.grad is not None  # one gradient: reading and writing


def test_gpt2_initialisation_draws_matrices_at_the_given_scale():
    torch.manual_seed(0)
    config = TransformerLMConfig(d_model=64, nhead=4, num_layers=2, dim_feedforward=256, init_std=0.02)
    model = TransformerLanguageModel(40, 16, config)
    for name, p in model.named_parameters():
        if "norm" in name:
            continue
        if p.dim() == 1:
            assert bool((p == 0).all()), name
        else:
            residual = name.endswith(("out_proj.weight", "linear2.weight"))
            assert float(p.std()) == pytest.approx(0.01 if residual else 0.02, rel=0.1), name  # 0.02 / sqrt(2 * 2)
    pytorch = TransformerLanguageModel(40, 16, TransformerLMConfig(d_model=64, nhead=4, num_layers=2, init_std=0))
    assert float(pytorch.encoder.layers[0].linear1.weight.std()) > 0.05  # PyTorch's: ±1/sqrt(fan_in), fan_in 64
    with pytest.raises(ConfigError, match="init_std must be >= 0"):
        TransformerLMConfig(init_std=-0.1)


@pytest.mark.parametrize("index", [0, 1, 2, 3], ids=["lstm", "gru", "transformer", "tcn"])
def test_reading_in_chunks_with_the_state_equals_reading_at_once(index):
    model = tiny_models()[index].eval()
    tokens = torch.randint(0, 12, (3, 16))
    whole, _ = model(tokens)
    first, state = model(tokens[:, :5])
    second, state = model(tokens[:, 5:11], state)
    third, _ = model(tokens[:, 11:], state)
    torch.testing.assert_close(torch.cat([first, second, third], dim=1), whole)


@pytest.mark.parametrize("index", [2, 3], ids=["transformer", "tcn"])
def test_the_stateless_models_are_causal_and_forget_beyond_their_context(index):
    model = tiny_models()[index].eval()
    tokens = torch.randint(0, 12, (2, 16))
    changed = tokens.clone()
    changed[:, 9] = (changed[:, 9] + 1) % 12
    before, after = model(tokens)[0], model(changed)[0]
    torch.testing.assert_close(before[:, :9], after[:, :9])  # positions before the change do not see it
    assert not torch.allclose(before[:, 9:], after[:, 9:])
    _, state = model(torch.randint(0, 12, (2, 40)).split(16, dim=1)[0])
    assert state.shape == (2, model.context - 1)  # context - 1 tokens remembered (15 and 14)


@pytest.mark.parametrize("index", [0, 2, 3], ids=["lstm", "transformer", "tcn"])
def test_language_models_pass_gradcheck(index):
    model = tiny_models(6)[index].double().eval()
    tokens = torch.randint(0, 6, (2, 5))
    weight = model.embedding.weight.detach().clone().requires_grad_(True)

    def loss(w):
        logits, _ = functional_call(model, {"embedding.weight": w}, (tokens,))
        return F.cross_entropy(logits.flatten(0, 1), tokens.roll(-1, dims=1).flatten())

    assert torch.autograd.gradcheck(loss, (weight,))


def test_the_task_carries_the_state_between_consecutive_batches_only():
    task = make_task(overrides=["data.max_chars=20000", "train.batch_size=4", "data.chunk_length=8"])
    data = task.build_data()
    model = RecurrentLanguageModel(
        len(task.vocab), "gru", RecurrentLMConfig(embedding_dim=4, hidden_size=6, num_layers=1, dropout=0.0)
    )
    inputs, targets, chunk = data["train"].tensors
    first, second = (inputs[:4], targets[:4], chunk[:4]), (inputs[4:8], targets[4:8], chunk[4:8])
    task.loss(model, first)
    carried = task._carried[1]
    with torch.no_grad():
        expected = F.cross_entropy(model(second[0], carried)[0].flatten(0, 1), second[1].flatten())
        fresh = F.cross_entropy(model(second[0])[0].flatten(0, 1), second[1].flatten())
    assert float(task.loss(model, second).detach()) == pytest.approx(float(expected), abs=1e-6)
    assert float(expected) != pytest.approx(float(fresh), abs=1e-6)
    task.loss(model, first)  # out of order (a new epoch, or shuffled batches): a fresh state
    with torch.no_grad():
        fresh_first = F.cross_entropy(model(first[0])[0].flatten(0, 1), first[1].flatten())
    assert float(task.loss(model, first).detach()) == pytest.approx(float(fresh_first), abs=1e-6)


def test_stream_nll_is_the_mean_cross_entropy_of_each_stream_read_whole():
    model = tiny_models()[0].eval()
    ids = torch.randint(0, 12, (4 * 1024 + 1,))
    streams, per_stream = 4, 1024
    inputs, targets = ids[:-1].view(streams, per_stream), ids[1:].view(streams, per_stream)
    with torch.no_grad():
        expected = F.cross_entropy(model(inputs)[0].flatten(0, 1), targets.flatten())
        got = stream_nll(model, ids, streams, chunk=100)
        fewer = stream_nll(model, ids[:2049], streams, chunk=100)  # too short for 4 streams of 1024: 2 streams
        expected_fewer = F.cross_entropy(model(ids[:2048].view(2, 1024))[0].flatten(0, 1), ids[1:2049])
    assert got == pytest.approx(float(expected), rel=1e-5)
    assert fewer == pytest.approx(float(expected_fewer), rel=1e-5)


# --- sampling ----------------------------------------------------------------------------------------------------
def test_sampling_is_fixed_by_the_seed_and_greedy_at_temperature_zero():
    model = tiny_models()[2].eval()

    def draw(seed, **kwargs):
        return sample(model, [1, 2, 3], 30, generator=torch.Generator().manual_seed(seed), **kwargs)

    assert draw(0) == draw(0) and draw(0) != draw(1)
    greedy = draw(0, temperature=0.0)
    assert greedy == draw(5, temperature=0.0) == draw(7, top_k=1)
    tokens, state = torch.tensor([[1, 2, 3]]), None
    logits, state = model(tokens)
    for token in greedy[:5]:  # each greedy token is the argmax given the ones before
        assert token == int(logits[0, -1].argmax())
        logits, state = model(torch.tensor([[token]]), state)
    allowed = torch.zeros(12, dtype=torch.bool)
    allowed[[4, 7]] = True
    assert set(draw(0, allowed=lambda _: allowed)) <= {4, 7}
    with pytest.raises(ValueError, match="prompt of at least one token"):
        sample(model, [], 5)


# --- training runs, generation and errors --------------------------------------------------------------------------
def train(tmp_path, model, overrides):
    overrides = ["data.max_chars=300000", "eval.validate_chars=20000", *overrides]
    run = nnzoo.train(
        "charlm", model=model, overrides=overrides, run_dir=tmp_path / model, progress=False, figures=False
    )
    assert run.state["best_step"] == run.state["step"]  # one evaluation, at the end: the best is the last
    with torch.no_grad():
        result = run.task.evaluate(run.model, run.data["val"][:30000])
    return run.task, run.model, result


@pytest.mark.parametrize(
    ("model", "overrides"),
    [
        ("lstm", ["model.hidden_size=128", "train.batch_size=16", "data.chunk_length=64"]),
        (
            "transformer",
            ["model.d_model=64", "model.num_layers=2", "model.dim_feedforward=128", "train.batch_size=16"],
        ),
        ("tcn", ["model.channels=64", "model.levels=4", "train.batch_size=16", "data.chunk_length=64"]),
    ],
)
def test_a_short_run_beats_the_unigram_model_by_a_bit_per_character(tmp_path, model, overrides):
    task, net, result = train(tmp_path, model, [*overrides, "train.max_steps=200"])
    unigram = task.info["unigram_bpc"]["val"]
    assert result["bpc"] < unigram - 1.0, (result, unigram)
    assert result["bpc"] == pytest.approx(result["loss"] / math.log(2))
    text = task.generate(net, "KING.", 60, temperature=0.8, seed=3)
    assert len(text) == 60 and text == task.generate(net, "KING.", 60, temperature=0.8, seed=3)
    assert "<unk>" not in text


@pytest.fixture(scope="module")
def poem_model():
    task = make_task("gru", ["data.corpus=poems", "model.hidden_size=32", "model.num_layers=1"])
    task.build_data()
    torch.manual_seed(0)
    return task, task.build_model().eval()


@pytest.mark.parametrize(("chars", "lines", "heads"), [(5, 4, ""), (7, 4, ""), (5, 8, ""), (7, 4, "春夏秋冬")])
def test_poems_have_their_form(poem_model, chars, lines, heads):
    task, model = poem_model
    poem = task.poem(model, PoemForm(chars, lines, heads), "", temperature=1.0, top_k=0, seed=0)
    couplets = poem.split("\n")
    assert len(couplets) == lines // 2
    hanzi = f"[\u4e00-\u9fff]{{{chars}}}"
    assert all(re.fullmatch(f"{hanzi}，{hanzi}。", couplet) for couplet in couplets), poem
    if heads:
        assert [line[0] for line in re.split("[，。\n]+", poem) if line] == list(heads)


def test_a_poem_starts_with_its_prompt(poem_model):
    task, model = poem_model
    poem = task.poem(model, PoemForm(5, 4), "床前明月光疑是", temperature=0.8, top_k=5, seed=1)
    assert poem.startswith("床前明月光，疑是")


def test_clear_errors(poem_model):
    task, model = poem_model
    with pytest.raises(UserError, match="5 or 7 characters per line and 4 or 8 lines, got 6x4"):
        PoemForm.parse("6x4")
    with pytest.raises(UserError, match="CHARSxLINES"):
        PoemForm.parse("five by four")
    with pytest.raises(UserError, match="one Chinese head character per line"):
        PoemForm(5, 4, "春夏")
    with pytest.raises(UserError, match="has 21 characters; a 5x4 poem has 20"):
        task.poem(model, PoemForm(5, 4), "床前明月光疑是地上霜举头望明月低头思故乡啊", 1.0, 0, 0)
    with pytest.raises(UserError, match="conflicts with the acrostic"):
        task.poem(model, PoemForm(5, 4, "春夏秋冬"), "床前", 1.0, 0, 0)
    with pytest.raises(UserError, match="Chinese characters only"):
        task.poem(model, PoemForm(5, 4), "moon", 1.0, 0, 0)
    with pytest.raises(UserError, match="prompt is empty"):
        task.generate(model, "", 10, 1.0)
    with pytest.raises(UserError, match="never saw in training: 'Q'"):
        task.generate(model, "床Q", 10, 1.0)
    shakespeare = make_task(overrides=["data.max_chars=10000", "train.batch_size=4"])
    shakespeare.build_data()
    with pytest.raises(UserError, match="poetry mode needs a model of a Chinese poem corpus"):
        shakespeare.poem(model, PoemForm(5, 4), "", 1.0, 0, 0)
    with pytest.raises(UserError, match=r"fewer than train\.batch_size"):
        make_task(overrides=["data.max_chars=1000"]).build_data()


def test_cli_train_eval_predict(tmp_path, cli):
    run = tmp_path / "run"
    common = ["--set=data.corpus=poems", "--set=model.hidden_size=32", "--set=train.batch_size=8"]
    assert cli("train", "charlm", "--model", "gru", "--run-dir", run, "--quiet", *common)[0] == 0
    assert "poem 5x4 acrostic 春夏秋冬" in (run / "figures" / "samples.txt").read_text("utf-8")
    code, out, _ = cli("eval", run, "--split", "test", "--quiet")
    assert code == 0 and "bpc" in out and "baseline: unigram" in out
    code, out, _ = cli("predict", run, "--poem", "5x4", "--acrostic", "春夏秋冬", "--samples", "2")
    assert code == 0 and out.count("。") == 4 and out.startswith("春")
    code, out, _ = cli("predict", run, "--prompt", "明月", "--length", "20", "--seed", "4")
    assert (
        code == 0
        and out.startswith("明月")
        and out == cli("predict", run, "--prompt", "明月", "--length", "20", "--seed", "4")[1]
    )
    code, _, err = cli("predict", run, "--acrostic", "春夏秋冬")
    assert code == 2 and "--acrostic needs --poem" in err


def test_poem_samples_pick_acrostic_heads_the_model_knows(tmp_path):
    """A poems-only vocabulary (the poem recipe's split) lacks 夏: the sample file's acrostic falls back to heads it
    has, rather than failing."""
    overrides = ["data.corpus=poems", "data.extra_chinese=false", "data.val_fraction=0.1", "data.test_fraction=0.1"]
    task = make_task("gru", [*overrides, "model.hidden_size=16", "model.num_layers=1"])
    task.build_data()
    assert "夏" not in task.vocab and all(c in task.vocab for c in "风花雪月")
    seed_everything(0)
    model = task.build_model().eval()
    with torch.no_grad():
        (path,) = task.figures(model, {}, "val", tmp_path)
    assert "acrostic 风花雪月" in path.read_text("utf-8")
