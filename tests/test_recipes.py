"""The recipes shipped inside the package: ``--recipe TASK/NAME`` finds them from any folder, each is a valid
configuration of its task, a file path still works (and wins), and a wrong name is one line naming what is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

import nnzoo
from nnzoo.config import find_recipe, load_toml, to_dict
from nnzoo.errors import ConfigError
from nnzoo.registry import resolve_config

PACKAGED = Path(nnzoo.__file__).parent / "recipes"  # nnzoo/recipes/TASK/NAME.toml


def test_the_packaged_recipes_are_listed_by_name():
    # by task, then by name: translate/… before translate-images/…, as nnzoo list shows the tasks
    on_disk = [f"{task}/{name}" for task, name in sorted((p.parent.name, p.stem) for p in PACKAGED.glob("*/*.toml"))]
    assert len(on_disk) >= 30 and "g2p/lstm-attention" in on_disk  # one per README row
    assert nnzoo.list_recipes() == on_disk
    assert nnzoo.list_recipes("g2p") == [
        "g2p/gru-seq2seq",
        "g2p/lstm-attention",
        "g2p/lstm-attention-long",
        "g2p/transformer",
    ]
    assert {name.split("/")[0] for name in on_disk} <= set(nnzoo.list_tasks())  # each folder is a task
    assert nnzoo.list_recipes("adding") == []  # a task without recipes
    with pytest.raises(ConfigError, match="unknown task 'nope'; registered tasks: adding"):
        nnzoo.list_recipes("nope")


@pytest.mark.parametrize("name", nnzoo.list_recipes())
def test_every_packaged_recipe_resolves_by_name_from_any_folder(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the repository: the recipes are found inside the installed package
    cfg = nnzoo.resolve_config(recipe=name)
    task, _, stem = name.partition("/")
    assert cfg.task == task  # nnzoo/recipes/TASK/NAME.toml is a recipe for TASK
    assert cfg == resolve_config(load_toml(PACKAGED / task / f"{stem}.toml"))  # the file of that name, nothing else
    assert nnzoo.resolve_config(recipe=f"{name}.toml") == cfg  # .toml is optional
    assert resolve_config(to_dict(cfg)) == cfg  # what a run saves as config.toml is a recipe again


def test_a_recipe_file_path_still_works_and_an_existing_file_wins(tmp_path, monkeypatch):
    mine = tmp_path / "mine.toml"
    mine.write_text('task = "regression"\n[model]\nname = "mlp"\nhidden = [7]\n')
    assert nnzoo.resolve_config(recipe=mine).model.hidden == [7]
    assert nnzoo.resolve_config(recipe=str(mine)).model.hidden == [7]
    # A file whose path reads like a packaged recipe's name is the user's recipe, not the packaged one.
    (tmp_path / "g2p").mkdir()
    (tmp_path / "g2p" / "lstm-attention").write_text('task = "regression"\n')
    monkeypatch.chdir(tmp_path)
    assert nnzoo.resolve_config(recipe="g2p/lstm-attention").task == "regression"
    assert nnzoo.resolve_config(recipe="g2p/lstm-attention.toml").task == "g2p"  # no such file: the packaged one


@pytest.mark.parametrize(
    ("recipe", "accepted"),
    [
        ("g2p/lstm", "g2p's recipes: g2p/gru-seq2seq, g2p/lstm-attention, g2p/lstm-attention-long, g2p/transformer"),
        (
            "recipes/g2p/lstm-attention.toml",
            "g2p's recipes: g2p/gru-seq2seq, g2p/lstm-attention, g2p/lstm-attention-long, g2p/transformer",
        ),
        ("nope/lstm", "tasks with recipes: caption, charlm, classify-images, "),
        ("missing.toml", "tasks with recipes: caption, charlm, classify-images, "),
        ("/g2p/lstm-attention", "g2p's recipes: "),  # an absolute path is a path, never a name
    ],
)
def test_a_wrong_recipe_is_one_line_naming_what_is_accepted(recipe, accepted, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as error:
        find_recipe(recipe)
    message = str(error.value)
    assert message.startswith(f"recipe not found: {recipe!r} is neither a TOML file nor a packaged recipe TASK/NAME;")
    assert accepted in message and "\n" not in message


def test_the_command_line_takes_a_recipe_by_name_from_any_folder(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("train", "--recipe", "regression/mlp", "--set", "train.lr=0.5", "--print-config")
    assert code == 0, err
    (tmp_path / "printed.toml").write_text(out)
    printed = load_toml(tmp_path / "printed.toml")
    assert printed["task"] == "regression" and printed["model"]["name"] == "mlp" and printed["train"]["lr"] == 0.5
    assert printed["train"]["optimizer"] == load_toml(PACKAGED / "regression" / "mlp.toml")["train"]["optimizer"]
    code, _, err = cli("train", "--recipe", "regression/nope", "--quiet")
    assert code == 2 and err.count("\n") == 1
    assert "'regression/nope' is neither a TOML file nor a packaged recipe TASK/NAME; regression's recipes: " in err


def test_nnzoo_list_shows_each_tasks_recipes(cli):
    code, out, _ = cli("list")
    assert code == 0
    lines = out.splitlines()
    for task in nnzoo.list_tasks():
        block = lines[lines.index(next(line for line in lines if line.startswith(f"{task} "))) :]
        block = block[: block.index("")]
        recipes = [line.split(None, 1)[1] for line in block if line.startswith("  recipes:")]
        assert recipes == ([", ".join(nnzoo.list_recipes(task))] if nnzoo.list_recipes(task) else []), block
