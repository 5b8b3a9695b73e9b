import json
from dataclasses import dataclass, field
from typing import Literal

import pytest

from nnzoo.config import (
    RunConfig,
    apply_overrides,
    dump_toml,
    from_dict,
    load_toml,
    parse_override,
)
from nnzoo.errors import ConfigError
from nnzoo.registry import resolve_config, with_added_keys
from nnzoo.training.run import RunDir


@dataclass
class Inner:
    size: int = 3
    names: list[str] = field(default_factory=list)


@dataclass
class Outer:
    rate: float = 0.1
    flag: bool = False
    mode: Literal["a", "b"] = "a"
    label: str = ""
    maybe: int | None = None
    inner: Inner = field(default_factory=Inner)


def test_from_dict_checks_types_and_nesting():
    cfg = from_dict(Outer, {"rate": 2, "flag": True, "mode": "b", "inner": {"size": 5, "names": ["x"]}})
    assert cfg == Outer(rate=2.0, flag=True, mode="b", inner=Inner(5, ["x"]))
    assert isinstance(cfg.rate, float)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rat": 1.0}, "unknown key 'rat'; valid keys: rate, flag, mode, label, maybe, inner"),
        ({"inner": {"sise": 1}}, "unknown key 'inner.sise'; valid keys in [inner]: size, names"),
        ({"rate": "fast"}, "rate must be a number; got 'fast' (string)"),
        ({"flag": 1}, "flag must be true or false; got 1 (integer)"),
        ({"mode": "c"}, "mode must be one of 'a', 'b'; got 'c' (string)"),
        ({"inner": {"size": 1.5}}, "inner.size must be an integer; got 1.5 (number)"),
        ({"inner": {"names": ["x", 2]}}, "inner.names[1] must be a string; got 2 (integer)"),
        ({"inner": 3}, "inner must be a table of keys, got 3 (integer)"),
        ({"maybe": "x"}, "maybe must be an integer; got 'x' (string)"),
    ],
)
def test_from_dict_errors_name_the_key_and_what_is_valid(data, message):
    with pytest.raises(ConfigError) as error:
        from_dict(Outer, data)
    assert str(error.value) == message


def test_parse_override_reads_toml_values_and_keeps_the_text():
    keys, value = parse_override("model.hidden=[64, 64]")
    assert keys == ["model", "hidden"] and value.parsed == [64, 64]
    assert parse_override("train.lr=1e-3")[1].parsed == 1e-3
    assert parse_override("x=true")[1].parsed is True
    assert parse_override("data.csv=some/path.csv")[1].parsed == "some/path.csv"
    assert parse_override('data.drop=["B"]')[1].parsed == ["B"]
    for bad in ("novalue", "=3", "a..b=1"):
        with pytest.raises(ConfigError, match="--set expects key=value"):
            parse_override(bad)


def test_string_fields_take_the_text_as_typed():
    raw = apply_overrides({}, ["label=1", "mode=b", "rate=3"])
    cfg = from_dict(Outer, raw)
    assert cfg.label == "1" and cfg.mode == "b" and cfg.rate == 3.0


def test_override_into_a_value_is_an_error():
    with pytest.raises(ConfigError, match="'rate' is a value, not a section"):
        apply_overrides({"rate": 1}, ["rate.x=2"])


def test_resolve_uses_task_and_model_defaults_then_recipe_then_cli():
    cfg = resolve_config({"task": "regression", "train": {"lr": 0.5}}, overrides=["train.lr=0.25"], seed=7)
    assert isinstance(cfg, RunConfig)
    assert cfg.model.name == "linear"  # the task's default model
    assert cfg.train.monitor == "rmse"  # the task's train default
    assert cfg.train.lr == 0.25 and cfg.seed == 7
    mlp = resolve_config(task="regression", model="mlp")
    assert mlp.train.weight_decay == 1e-4  # the model's train default
    assert mlp.model.hidden == [64, 64]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "nope"}, "unknown task 'nope'; registered tasks: .*regression"),
        (
            {"task": "regression", "model": "nope"},
            "unknown model 'nope' for task 'regression'; its models: linear, mlp",
        ),
        ({"task": "regression", "overrides": ["trian.lr=1"]}, "unknown key 'trian'"),
        (
            {"task": "regression", "overrides": ["model.hidden=[8]"]},
            "unknown key 'model.hidden'; valid keys in [model]: name",
        ),
        ({"task": "regression", "overrides": ["train.optimizer=rmsprop"]}, "train.optimizer must be one of 'sgd'"),
        ({"task": "regression", "overrides": ["train.batch_size=0"]}, "train.batch_size must be >= 1"),
        ({"task": "regression", "overrides": ["data.val_fraction=0"]}, "data.val_fraction must be in (0, 1)"),
        ({}, "no task given"),
    ],
)
def test_resolve_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        resolve_config(**kwargs)


def test_recipe_for_another_task_is_refused():
    with pytest.raises(ConfigError, match="the recipe is for task 'other', not 'regression'"):
        resolve_config({"task": "other"}, task="regression")


def test_saved_config_round_trips(tmp_path):
    cfg = resolve_config(task="regression", model="mlp", overrides=['data.drop=["B"]', "model.hidden=[8, 4]"])
    dump_toml(cfg, tmp_path / "config.toml")
    assert resolve_config(load_toml(tmp_path / "config.toml")) == cfg


def test_bad_recipe_files(tmp_path):
    with pytest.raises(ConfigError, match="recipe file not found"):
        load_toml(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("task = \n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_toml(tmp_path / "bad.toml")


# Every packaged recipe resolves: tests/test_recipes.py.


def test_the_earlier_train_amp_key_reads_as_train_precision():
    from nnzoo.config import TrainConfig, from_dict

    assert from_dict(TrainConfig, {"amp": True}).precision == "auto"
    assert from_dict(TrainConfig, {"amp": False}).precision == "fp32"
    assert from_dict(TrainConfig, {"amp": False, "precision": "bf16"}).precision == "bf16"  # today's key wins
    with pytest.raises(ConfigError, match=r"train\.amp"):
        from_dict(TrainConfig, {"amp": "maybe"})
    with pytest.raises(ConfigError, match="precision"):
        from_dict(TrainConfig, {"precision": "fp8"})


def test_a_run_saved_with_train_amp_still_resumes(cli, tmp_path):
    run = tmp_path / "run"
    steps = ["--set", "train.max_steps=4", "--set", "train.eval_every=2"]
    assert cli("train", "regression", "--run-dir", run, "--quiet", *steps)[0] == 0
    config = run / "config.toml"
    assert 'precision = "auto"' in config.read_text()
    config.write_text(config.read_text().replace('precision = "auto"', "amp = true"))  # as an earlier version wrote
    code, _, err = cli("train", "--resume", run, "--quiet", "--set", "train.max_steps=6")
    assert code == 0, err
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 6


def test_train_recurrent_path_reaches_every_recurrent_layer_of_a_task_model():
    from nnzoo.nn.recurrent import _RecurrentLayer
    from nnzoo.registry import get_task

    for path in ("auto", "reference"):
        cfg = resolve_config(task="adding", overrides=[f"train.recurrent_path={path}"])
        task = get_task("adding")(cfg)
        task.build_data()  # the model's sizes come from the data
        layers = [m for m in task.build_model().modules() if isinstance(m, _RecurrentLayer)]
        assert layers and all(layer.path == path for layer in layers)
    with pytest.raises(ConfigError, match="recurrent_path"):
        resolve_config(task="adding", overrides=["train.recurrent_path=cudnn"])


def test_a_run_saved_before_train_recurrent_path_existed_resumes_on_the_path_it_was_trained_on(cli, tmp_path):
    run = tmp_path / "run"
    assert cli("train", "regression", "--run-dir", run, "--quiet", "--set", "train.max_steps=2")[0] == 0
    config = run / "config.toml"
    assert 'recurrent_path = "auto"' in config.read_text()
    assert RunDir(run).load_config().train.recurrent_path == "auto"
    config.write_text(config.read_text().replace('recurrent_path = "auto"\n', ""))  # as an earlier version wrote
    assert RunDir(run).load_config().train.recurrent_path == "fast"  # the only path there was
    assert RunDir(run).load_config(["train.recurrent_path=native"]).train.recurrent_path == "native"


@pytest.mark.parametrize(
    ("task", "model", "section", "key", "today"),
    [
        ("charlm", "transformer", "model", "tie_embeddings", True),
        ("charlm", "transformer", "model", "activation", "relu"),
        ("charlm", "transformer", "model", "init_std", 0.02),
        ("charlm", "transformer", "data", "sampling", "windows"),
        ("charlm", "transformer", "train", "weight_decay_on", "matrices"),
        ("adding", "lstm", "model", "chrono", 500),
    ],
)
def test_a_key_added_since_a_run_was_saved_takes_the_value_the_run_was_trained_with(
    tmp_path, task, model, section, key, today
):
    """Whatever today's default or recipe says, a saved run without the key rebuilds as it was trained."""
    cfg = resolve_config(task=task, model=model, overrides=[f"{section}.{key}={json.dumps(today)}"])
    folder = RunDir(tmp_path / "run")
    folder.path.mkdir()
    folder.save_config(cfg)
    assert getattr(getattr(folder.load_config(), section), key) == today
    saved = load_toml(folder.config)
    del saved[section][key]  # as a version before the key wrote it
    dump_toml(saved, folder.config)
    added = type(getattr(cfg, section)).ADDED[key]
    assert added != today and with_added_keys(saved)[section][key] == added  # filled in, not left to the default
    assert getattr(getattr(folder.load_config(), section), key) == added
