"""Pretrained models that ship inside nnzoo, usable wherever a run folder is: ``nnzoo.open("g2p")``,
``nnzoo predict g2p nnzoo``, ``nnzoo eval charlm/transformer --split test``.

Each is a run folder without what only training needs, under ``nnzoo/weights/TASK/NAME/``::

    card.toml          the model card: what it is, the command that trained it, its test figures, its SHA-256
    config.toml        the run's resolved configuration
    info.json          what the model is built from (vocabularies, scaler statistics)
    run.json           the run's id, which the checkpoint records
    metrics.jsonl      the training log (its curves)
    best.safetensors   the weights, without optimizer state; float16 where that changes no test figure

A model is named ``TASK/NAME``; the task's name alone means the model its card marks ``default``. An existing
folder of that name wins, as an existing recipe file does. The checkpoint's SHA-256 is checked against the card
every time the model is opened. :func:`pack` makes such a folder from a trained run.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnzoo.config import load_toml
from nnzoo.errors import CheckpointError, UserError

WEIGHTS = Path(__file__).parent / "weights"
CARD = "card.toml"
WEIGHTS_FILE = "best.safetensors"
RUN_FILES = ("config.toml", "info.json", "run.json", "metrics.jsonl")


@dataclass(frozen=True)
class Card:
    """A shipped model's card (``card.toml``) and folder."""

    name: str  # TASK/NAME
    folder: Path
    fields: dict[str, Any]

    @property
    def task(self) -> str:
        return self.name.split("/")[0]

    @property
    def default(self) -> bool:
        """Whether the task's name alone opens this model."""
        return bool(self.fields.get("default", False))

    @property
    def default_for(self) -> tuple[str, ...]:
        """The kinds of prediction (``nnzoo predict`` options such as ``poem``) for which the task's name alone
        opens this model instead of the default: ``nnzoo predict charlm --poem 7x4`` opens the poem model."""
        return tuple(self.fields.get("default_for", ()))


def cards(root: Path | None = None) -> dict[str, Card]:
    """Every shipped model's card, by name, sorted."""
    root = WEIGHTS if root is None else root
    found = {}
    for path in sorted(root.glob(f"*/*/{CARD}")):
        name = f"{path.parent.parent.name}/{path.parent.name}"
        found[name] = Card(name, path.parent, load_toml(path))
    return found


def names(
    root: Path | None = None, found: Mapping[str, Card] | None = None, purposes: Sequence[str] = ()
) -> dict[str, str]:
    """What each name opens: ``TASK/NAME`` itself, and ``TASK`` its default model (of ``found``, default: the
    cards under ``root``), or the model whose card names one of ``purposes`` in its ``default_for``."""
    found = cards(root) if found is None else found
    aliases = {card.task: name for name, card in found.items() if card.default}
    aliases |= {card.task: name for name, card in found.items() if set(card.default_for) & set(purposes)}
    return {**aliases, **{name: name for name in found}}


def is_shipped(folder: str | Path) -> bool:
    """Whether ``folder`` holds a shipped model (it has a card), whose files nnzoo never writes to."""
    return (Path(folder) / CARD).is_file()


def locate(name: str | Path, root: Path | None = None, purposes: Sequence[str] = ()) -> Path:
    """The folder that ``name`` opens: an existing path as it is; else a shipped model's, its weights checked
    against the card's SHA-256 (a task's name alone: see :func:`names` for ``purposes``). One clear error when it
    is neither."""
    path = Path(name)
    if path.exists():
        return path
    found = cards(root)
    known = names(found=found, purposes=purposes)
    if str(name) not in known:
        shipped = ", ".join(known) or "none in this installation"
        raise UserError(f"{str(name)!r} is neither a run folder nor a pretrained model (pretrained: {shipped})")
    card = found[known[str(name)]]
    verify(card)
    return card.folder


def figures(card: Card) -> str:
    """The card's test figures as one line, its headline metric first (the loss only where it is the headline)."""
    test, headline = card.fields.get("test", {}), card.fields.get("metric")
    shown = [headline] if headline in test else []
    shown += [key for key in test if key not in (headline, "loss")]
    return ", ".join(f"{key} {test[key]:.4g}" for key in shown)


def aliases(found: Mapping[str, Card]) -> dict[str, str]:
    """The shorter ways to name each model: its task (``g2p``), or its task for a kind of prediction
    (``charlm --poem``)."""
    named = {name: card.task for name, card in found.items() if card.default}
    named |= {name: f"{card.task} --{' --'.join(card.default_for)}" for name, card in found.items() if card.default_for}
    return named


def markdown_table(found: Mapping[str, Card] | None = None, cards_page: str = "docs/pretrained.md") -> str:
    """A Markdown table of the shipped models (the README's), each linked to its card on ``cards_page``."""
    found = cards() if found is None else found
    also = aliases(found)
    lines = [
        "| name | model | weights | test | beside it | card |",
        "|---|---|---:|---|---|---|",
    ]
    for name, card in found.items():
        fields = card.fields
        alias = f" (`{also[name]}`)" if name in also else ""
        size = (card.folder / WEIGHTS_FILE).stat().st_size / 1e6
        model = f"`{fields['model']}`, {fields['parameters'] / 1e6:.2f} M parameters"
        anchor = fields["anchors"][0]
        value = next(f"{key} {anchor[key]:.4g}" for key in anchor if key != "system")
        link = f"[card]({cards_page}#{name.replace('/', '')})"
        lines.append(
            f"| `{name}`{alias} | {model} | {size:.1f} MB {fields['dtype']} | {figures(card)} | "
            f"{anchor['system']}: {value} | {link} |"
        )
    return "\n".join(lines) + "\n"


def markdown_cards(found: Mapping[str, Card] | None = None) -> str:
    """Every shipped model's card as a Markdown section (docs/pretrained.md)."""
    found = cards() if found is None else found
    also = aliases(found)
    parts = []
    for name, card in found.items():
        f = card.fields
        opens = f'`nnzoo.open("{name}")`' + (f"; also `{also[name]}`" if name in also else "")
        test = ", ".join(f"{key} {value:.4g}" for key, value in f["test"].items())
        full = ", ".join(f"{key} {value:.4g}" for key, value in f["test_float32"].items())
        rows = [
            ("opens with", opens),
            ("model", f"`{f['task']}/{f['model']}`, {f['parameters']:,} parameters, checkpoint `{f['checkpoint']}`"),
            ("recipe", f"`{f['recipe']}`" + "".join(f" `{o}`" for o in f.get("overrides", []))),
            ("command", f"`{f['command']}`"),
            ("trained", f"{f['steps']:,} steps, {f['training_minutes']} min; {f['hardware']}"),
            ("data", f["data"]),
            ("licence of the data", f["licence"]),
            (f"test ({f['metric']}: {f['metric_meaning']})", f"{test} (stored in {f['dtype']}; float32: {full})"),
        ]
        if "check" in f:
            checked = ", ".join(f"{key} {value:.4g}" for key, value in f["check"]["test"].items())
            rows.append((f"quick check ({', '.join(f['check']['overrides'])})", checked))
        for anchor in f["anchors"]:
            values = ", ".join(f"{key} {value:.4g}" for key, value in anchor.items() if key != "system")
            rows.append(("beside it", f"{anchor['system']}: {values}"))
        rows += [("limitation", text) for text in f["limitations"]]
        rows.append(("weights SHA-256", f"`{f['sha256']}`"))
        table = "\n".join(f"| {key} | {value} |" for key, value in rows)
        parts.append(f"## {name}\n\n{f['summary']}.\n\n| | |\n|---|---|\n{table}\n")
    return "\n".join(parts)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(functools.partial(file.read, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(card: Card) -> None:
    """A clear error unless the weights are the ones the card describes."""
    weights = card.folder / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"pretrained {card.name}: {weights} is missing; reinstall nnzoo")
    if sha256(weights) != card.fields.get("sha256"):
        raise CheckpointError(
            f"pretrained {card.name}: {weights} does not match its card's SHA-256 (damaged or replaced); "
            "reinstall nnzoo"
        )


def pack(
    run_dir: str | Path,
    name: str,
    about: Mapping[str, Any],
    *,
    checkpoint: str = "best",
    root: Path | None = None,
    tolerance: float = 1e-3,
    check: Sequence[str] = (),
) -> Card:
    """Make the shipped model ``name`` (``TASK/NAME``) from a trained run's ``checkpoint``: its run files, its
    weights and its card. The weights are float16 if no test metric moves by more than ``tolerance`` (relative),
    else float32. The card is ``about`` (the words: what it is, the command, hardware, anchors, limitations,
    licence) and what is measured here: parameters, training steps and time, the test metrics of the stored
    weights and of float32, the SHA-256. ``check``: ``eval.*`` overrides of a cheaper evaluation (e.g.
    ``eval.beam_size=1``) whose test figures the card also records, for the test suite to reproduce quickly."""
    import copy

    import tomli_w
    import torch

    import nnzoo
    from nnzoo.config import to_dict
    from nnzoo.files import write_atomic
    from nnzoo.training.checkpoint import save_checkpoint
    from nnzoo.training.run import RunDir

    task, _, short = name.partition("/")
    if not short or "/" in short:
        raise UserError(f"a pretrained model is named TASK/NAME, got {name!r}")
    run = nnzoo.open(run_dir, checkpoint=checkpoint, device="cpu")
    if run.config.task != task:
        raise UserError(f"{run_dir} is a {run.config.task} run, not {task}")
    original = copy.deepcopy(run.model)
    measured = {}
    for dtype in (torch.float32, torch.float16):
        run.model.load_state_dict(copy.deepcopy(original).to(dtype).state_dict())  # computed in float32 as loaded
        measured[dtype] = {key: value for key, value in run.evaluate("test").items() if value == value}  # no NaN
    full, half = measured[torch.float32], measured[torch.float16]
    lossless = all(abs(half[key] - value) <= tolerance * abs(value) for key, value in full.items())
    dtype = torch.float16 if lossless else torch.float32

    source = RunDir(run.path)
    folder = (WEIGHTS if root is None else root) / task / short
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for file in RUN_FILES:
        shutil.copyfile(source.path / file, folder / file)
    trained = source.load_config()
    save_checkpoint(
        folder / WEIGHTS_FILE,
        copy.deepcopy(original).to(dtype),
        state={"step": run.state["step"], "checkpoint": checkpoint},
        config=to_dict(trained),
        identity=source.identity(trained),
    )
    fields = {
        **dict(about),
        "task": task,
        "model": run.config.model.name,
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "dtype": str(dtype).removeprefix("torch."),
        "checkpoint": checkpoint,
        "steps": run.state["step"],
        "training_minutes": round(run.state["elapsed_seconds"] / 60, 1),
        "test": measured[dtype],
        "test_float32": full,
        "sha256": sha256(folder / WEIGHTS_FILE),
    }
    if check:
        checked = nnzoo.open(folder, device="cpu", overrides=check).evaluate("test")
        fields["check"] = {"overrides": list(check), "test": {k: v for k, v in checked.items() if v == v}}
    write_atomic(folder / CARD, tomli_w.dumps(fields))
    for path in folder.iterdir():
        path.chmod(0o644)  # package data, readable by every user (atomic writes make files private)
    return Card(name, folder, fields)
