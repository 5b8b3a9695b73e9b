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
    recipe = nnzoo.resolve_config(recipe=fields["recipe"])  # the recipe exists and resolves, to this model
    assert (recipe.task, recipe.model) == (run.config.task, run.config.model)
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


def test_the_readme_lists_every_shipped_model_with_its_test_figure():
    readme = (pretrained.WEIGHTS.parents[2] / "README.md").read_text()
    section = readme.split("## Pretrained models", 1)[1].split("\n## ", 1)[0]
    for name, card in pretrained.cards().items():
        row = next((line for line in section.splitlines() if line.startswith(f"| `{name}`")), None)
        assert row is not None, f"README's Pretrained models table has no row for {name}"
        metric = card.fields["metric"]
        assert f"{card.fields['test'][metric]:.3f}" in row and f"src/nnzoo/weights/{name}/card.toml" in row
