"""The models that ship inside nnzoo (src/nnzoo/weights, packed by scripts/pack_pretrained.py): each opens with its
checksum verified, is what its card says, was made by the recipe the card names, and scores the card's figures."""

from __future__ import annotations

import pytest

import nnzoo
from nnzoo import pretrained
from nnzoo.training import load_checkpoint

SHIPPED = list(pretrained.cards())
SIZE_BUDGET_MB = 60  # all shipped weights together


def test_models_ship_within_the_size_budget():
    assert SHIPPED, "no shipped models found in src/nnzoo/weights"
    total = sum((card.folder / pretrained.WEIGHTS_FILE).stat().st_size for card in pretrained.cards().values())
    assert total / 1e6 <= SIZE_BUDGET_MB


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_model_is_what_its_card_says(name):
    card = pretrained.cards()[name]
    run = nnzoo.open(name)  # verifies the SHA-256
    fields = card.fields
    assert (fields["task"], fields["model"]) == (run.config.task, run.config.model.name)
    assert name.split("/")[0] == run.config.task
    assert fields["parameters"] == sum(p.numel() for p in run.model.parameters())
    stored = load_checkpoint(card.folder / pretrained.WEIGHTS_FILE).model_state()
    assert {str(v.dtype) for v in stored.values() if v.is_floating_point()} == {f"torch.{fields['dtype']}"}
    for key in ("summary", "command", "recipe", "hardware", "data", "licence", "limitations", "anchors", "test"):
        assert fields.get(key), f"{name}: the card has no {key}"
    # The recipe exists and, with the card's model and overrides, resolves to this model on this data.
    recipe = nnzoo.resolve_config(recipe=fields["recipe"], model=fields["model"], overrides=fields.get("overrides", []))
    assert (recipe.task, recipe.model, recipe.data) == (run.config.task, run.config.model, run.config.data)
    assert all(anchor["system"] and len(anchor) > 1 for anchor in fields["anchors"])
    assert run.state["step"] == fields["steps"]


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_model_scores_its_cards_test_figures(name):
    """The card's test figures, or those of its cheaper check (e.g. greedy decoding instead of the beam)."""
    card = pretrained.cards()[name]
    check = card.fields.get("check", {"overrides": [], "test": card.fields["test"]})
    measured = nnzoo.open(name, overrides=check["overrides"]).evaluate("test")
    assert {key: measured[key] for key in check["test"]} == pytest.approx(check["test"], rel=1e-5)


def test_the_readme_table_and_the_cards_page_are_written_from_the_cards():
    """README's "Pretrained models" table and docs/pretrained.md are what scripts/pack_pretrained.py writes from
    the cards now (rerun it with --docs-only after changing a card)."""
    root = pretrained.WEIGHTS.parents[2]
    readme = (root / "README.md").read_text()
    section = readme.split("## Pretrained models", 1)[1].split("\n## ", 1)[0]
    assert pretrained.markdown_table() in section
    assert (root / "docs" / "pretrained.md").read_text().endswith(pretrained.markdown_cards())
    for name, card in pretrained.cards().items():
        assert f"{card.fields['test'][card.fields['metric']]:.4g}" in pretrained.figures(card)
        assert f"## {name}\n" in pretrained.markdown_cards()


def test_the_shipped_tagger_and_poem_model_answer_as_the_readme_says(cli):
    """README: the task's name opens tagging/apple, which tells apples apart by their context (sentences not in
    its corpus), and --poem opens the poem model, whose acrostic starts each line with its head
    (tests/test_readme.py runs every README command)."""
    sentences = ["Apple is a great company", "She baked an apple pie", "Apple launched a new iPhone"]
    code, out, err = cli("predict", "tagging", *sentences)
    assert code == 0, err
    assert [word for word in out.split() if word.startswith("apple/")] == ["apple/COMPANY", "apple/FRUIT",
                                                                          "apple/COMPANY"]  # fmt: skip
    code, out, err = cli("predict", "charlm", "--poem", "7x4", "--acrostic", "春夏秋冬")
    assert code == 0, err
    couplets = [line for line in out.splitlines() if line.strip()]  # two verses of 7 characters on each line
    assert len(couplets) == 2 and all(len(line) == 16 and line[7] == "，" and line[15] == "。" for line in couplets)
    assert [line[i] for line in couplets for i in (0, 8)] == list("春夏秋冬")
