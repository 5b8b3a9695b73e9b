"""``nnzoo report``: one static, self-contained HTML page from run folders — nothing to install, nothing fetched.

A page shows, for each run: the final metrics (``eval_SPLIT.json``, else the last validation record) next to the
task's baselines; one results table per task, with the task's published results below ours; the training curves;
every figure the task wrote (``figures/*.png``, embedded as data URIs) and its text tables (``figures/*.txt``);
and the resolved config. Experiment folders (``nnzoo experiment``'s ``results.json``) show their claim, answer,
numbers and figures. ``--all DIR`` writes one page per run folder (``RUN/report.html``) and an index over them.

Every string that came from a file — config values, class names, predictions, a user's text — is HTML-escaped:
the page contains no script, and a prediction reading ``<script>`` shows as text. Only regular files inside a
run folder are read (:func:`nnzoo.files.contained_file`: no absolute names, no ``..``, no symlinks), links are
percent-encoded relative paths, and pages are written atomically, never through an existing file or symlink.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nnzoo.tasks  # noqa: F401  (registers every task: a run's config is read against them)
from nnzoo.errors import UserError
from nnzoo.files import contained_file, write_atomic

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; } td, th { padding: .25em .7em; border: 1px solid #ddd; }
th { background: #f4f4f4; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.published td { font-style: italic; color: #555; } img { max-width: 100%; border: 1px solid #eee; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: .9em; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: .85em; }
details { margin: .6em 0; } .muted { color: #777; } .answer { background: #f3f8ff; padding: .6em .9em; }
"""


@dataclass
class RunFolder:
    """What a run folder (``nnzoo train``) or an experiment folder (``nnzoo experiment``) holds."""

    path: Path
    task: str = ""
    model: str = ""
    config_text: str = ""
    config: Any = None  # the RunConfig, when the folder is a run
    evaluations: dict[str, dict] = field(default_factory=dict)  # split -> eval_SPLIT.json
    records: list[dict] = field(default_factory=list)  # metrics.jsonl
    figures: list[Path] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)
    experiment: dict | None = None  # results.json of an experiment folder

    @property
    def title(self) -> str:
        if self.experiment is not None:
            return f"experiment {self.experiment.get('experiment', self.path.name)}"
        return f"{self.task} / {self.model}"

    def final_metrics(self) -> tuple[str, dict[str, float], dict[str, dict[str, float]]]:
        """(where the numbers come from, the metrics, the baselines): the test evaluation if there is one, else
        the validation evaluation, else the last validation record of training."""
        for split in ("test", "val"):
            if split in self.evaluations:
                found = self.evaluations[split]
                return f"{split} ({found.get('checkpoint', 'best')} checkpoint)", found["metrics"], found["baselines"]
        val = [r for r in self.records if r.get("split") == "val"]
        if val:
            numbers = {k: v for k, v in val[-1].items() if k not in ("step", "epoch", "split", "elapsed_s")}
            return f"val (last evaluation, step {val[-1]['step']})", numbers, {}
        return "no evaluation yet", {}, {}

    def training_summary(self) -> dict[str, Any]:
        steps = max((r["step"] for r in self.records), default=0)
        seconds = max((r.get("elapsed_s", 0) for r in self.records), default=0)
        return {"steps": steps, "minutes": seconds / 60}


def read_run_folder(path: str | Path) -> RunFolder:
    """Read a run or experiment folder; a clear error if ``path`` is neither. Only regular files inside the folder
    are read: a crafted folder cannot bring another file into the page."""
    from nnzoo.training import RunDir
    from nnzoo.training.metrics_log import read_metrics

    folder = Path(path)
    if contained_file(folder, "results.json"):
        results = _read_json(folder / "results.json")
        names = results.get("figures", [])
        named = [contained_file(folder, name) for name in (names if isinstance(names, list) else [])]
        return RunFolder(folder, experiment=results, figures=[path for path in named if path is not None])
    run = RunDir(folder)
    if not contained_file(folder, "config.toml"):
        raise UserError(
            f"{folder} is not a run folder (no config.toml) nor an experiment folder (no results.json); "
            "give folders made by `nnzoo train` or `nnzoo experiment`, or --all DIR to find them"
        )
    found = RunFolder(folder, config_text=run.config.read_text(encoding="utf-8", errors="replace"))
    try:
        found.config = run.load_config()
        found.task, found.model = found.config.task, found.config.model.name
    except UserError as error:  # a run of an older nnzoo, or a task this install lacks
        found.task, found.model = "?", f"unreadable config: {error}"
    for evaluation in sorted(folder.glob("eval_*.json")):
        if contained_file(folder, evaluation.name):
            content = _read_json(evaluation)
            found.evaluations[str(content.get("split", evaluation.stem[5:]))] = content
    found.records = read_metrics(run.metrics) if contained_file(folder, run.metrics.name) else []
    # the training curves first, then the task's figures
    figures = folder / "figures"
    found.figures = sorted(_inside(folder, figures.glob("*.png")), key=lambda p: (p.name != "curves.png", p.name))
    found.tables = sorted(_inside(folder, figures.glob("*.txt")))
    return found


def _inside(folder: Path, paths: Any) -> list[Path]:
    """The regular files among ``paths`` that lie inside ``folder`` (no symlink on the way)."""
    return [path for path in paths if contained_file(folder, path.relative_to(folder))]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(content, dict):
        raise UserError(f"{path} holds {type(content).__name__}, not the JSON object nnzoo writes")
    return content


def find_run_folders(root: str | Path) -> list[Path]:
    """Every run folder (``config.toml``) and experiment folder (``results.json``) under ``root``, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root} is not a folder; give the folder that holds your runs (e.g. runs/)")
    found = {p.parent for p in root.rglob("config.toml")} | {p.parent for p in root.rglob("results.json")}
    inside = root.resolve()
    return sorted(folder for folder in found if folder.resolve().is_relative_to(inside))  # no symlink out of root


# ----------------------------------------------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------------------------------------------


def escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


def number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return escape(value)
    if isinstance(value, float) and not math.isfinite(value):
        return escape(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def image(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{escape(caption)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def caption(path: Path) -> str:
    """``confusion_test.png`` -> ``confusion (test)``."""
    stem = path.stem
    for split in ("train", "val", "test"):
        if stem.endswith(f"_{split}"):
            return f"{stem[: -len(split) - 1].replace('_', ' ')} ({split})"
    return stem.replace("_", " ")


def metrics_table(metrics: dict[str, float], baselines: dict[str, dict[str, float]]) -> str:
    names = list(metrics)
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = [f"<tr><td>this run</td>{''.join(f'<td class=num>{number(metrics[n])}</td>' for n in names)}</tr>"]
    for baseline, values in baselines.items():
        cells = "".join(f"<td class=num>{number(values.get(n, '–'))}</td>" for n in names)
        rows.append(f"<tr class=published><td>baseline: {escape(baseline)}</td>{cells}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def results_tables(runs: list[RunFolder], link: dict[Path, str] | None = None) -> str:
    """One README-style table per task: a row per run (final metrics, steps, training time), then the task's
    published results that apply to the runs' data."""
    from nnzoo import registry

    by_task: dict[str, list[RunFolder]] = {}
    for run in runs:
        if run.experiment is None:
            by_task.setdefault(run.task, []).append(run)
    parts = []
    for task, members in by_task.items():
        finals = [run.final_metrics() for run in members]
        names = list(dict.fromkeys(name for _, metrics, _ in finals for name in metrics))
        head = "".join(f"<th>{escape(n)}</th>" for n in names)
        rows = []
        for run, (where, metrics, _) in zip(members, finals):
            label = escape(run.model)
            if link and run.path in link:
                label = f'<a href="{escape(link[run.path])}">{label}</a>'
            summary = run.training_summary()
            cells = "".join(f"<td class=num>{number(metrics.get(n, '–'))}</td>" for n in names)
            rows.append(
                f"<tr><td>{label}<br><span class=muted>{escape(run.path)}</span></td><td>{escape(where)}</td>"
                f"<td class=num>{summary['steps']:,}</td><td class=num>{summary['minutes']:.1f}</td>{cells}</tr>"
            )
        task_cls = registry.tasks().get(task)
        configs = [run.config for run in members if run.config is not None]
        for anchor in getattr(task_cls, "published", ()):
            if any(anchor.applies_to(cfg) for cfg in configs):
                cells = "".join(f"<td class=num>{number(anchor.metrics.get(n, '–'))}</td>" for n in names)
                rows.append(
                    f"<tr class=published><td>published: {escape(anchor.system)}</td><td>{escape(anchor.source)}</td>"
                    f"<td></td><td></td>{cells}</tr>"
                )
        parts.append(
            f"<h2>Results: {escape(task)}</h2><table><tr><th>model (run folder)</th><th>metrics from</th>"
            f"<th>steps</th><th>training min</th>{head}</tr>{''.join(rows)}</table>"
        )
    return "".join(parts)


def curves_figure(run: RunFolder) -> str:
    """The run's training curves: ``figures/curves.png`` if training wrote it, else drawn from metrics.jsonl."""
    from nnzoo.viz import plot_training_curves

    if any(path.name == "curves.png" for path in run.figures) or not run.records:
        return ""
    with tempfile.TemporaryDirectory() as folder:
        return image(plot_training_curves(run.records, Path(folder) / "curves.png"), "training curves")


def run_section(run: RunFolder) -> str:
    if run.experiment is not None:
        return experiment_section(run)
    where, metrics, baselines = run.final_metrics()
    figures = "".join(image(path, caption(path)) for path in run.figures)
    tables = "".join(
        f"<details><summary>{escape(caption(path))}</summary><pre>{escape(path.read_text())}</pre></details>"
        for path in run.tables
    )
    return (
        f"<h2>{escape(run.title)}</h2><p class=muted>{escape(run.path)}</p>"
        f"<h3>Final metrics: {escape(where)}</h3>{metrics_table(metrics, baselines) if metrics else ''}"
        f"<h3>Figures</h3>{curves_figure(run)}{figures}{tables}"
        f"<details><summary>resolved config (config.toml)</summary><pre>{escape(run.config_text)}</pre></details>"
    )


def experiment_section(run: RunFolder) -> str:
    results = run.experiment or {}
    figures = "".join(image(path, caption(path)) for path in run.figures)
    numbers = json.dumps(results.get("measurements", {}), indent=1)
    settings = json.dumps(results.get("settings", {}), indent=1)
    return (
        f"<h2>{escape(run.title)}</h2><p class=muted>{escape(run.path)} · budget {escape(results.get('budget'))} · "
        f"{number(results.get('seconds'))} s</p><p><b>Claim.</b> {escape(results.get('claim', ''))}</p>"
        f"<p class=answer><b>Measured.</b> {escape(results.get('answer', ''))}</p>{figures}"
        f"<details><summary>measurements</summary><pre>{escape(numbers)}</pre></details>"
        f"<details><summary>settings</summary><pre>{escape(settings)}</pre></details>"
    )


def page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><style>{STYLE}</style></head><body><h1>{escape(title)}</h1>'
        f"{body}<p class=muted>Made by nnzoo report.</p></body></html>\n"
    )


def href(target: Path, page_folder: Path) -> str:
    """A link from a page in ``page_folder`` to ``target``: a relative path, percent-encoded, so that no folder
    name (``javascript:…``, ``#``, ``?``) can turn into a scheme, an anchor or a query."""
    relative = Path(os.path.relpath(target.resolve(), page_folder.resolve())).as_posix()
    return urllib.parse.quote(relative, safe="/")


def build_report(run_dirs: list[str | Path], out: str | Path) -> Path:
    """One page over ``run_dirs``: the results tables, then each run's section."""
    runs = [read_run_folder(path) for path in run_dirs]
    if not runs:
        raise UserError("give at least one run folder (or --all DIR)")
    title = runs[0].title if len(runs) == 1 else f"nnzoo report: {len(runs)} runs"
    body = results_tables(runs) + "".join(run_section(run) for run in runs)
    return write_atomic(Path(out), page(title, body))


def build_index(root: str | Path, out: str | Path | None = None) -> Path:
    """A page per run folder under ``root`` (``RUN/report.html``) and an index over them (``out``, by default
    ``ROOT/index.html``), linked by relative paths so the folder can be moved or served as it is."""
    root = Path(root)
    out = Path(out) if out else root / "index.html"
    runs = [read_run_folder(path) for path in find_run_folders(root)]
    if not runs:
        raise UserError(f"no run folders (config.toml) or experiment folders (results.json) under {root}")
    links = {}
    for run in runs:
        write_atomic(run.path / "report.html", page(run.title, run_section(run)))
        links[run.path] = href(run.path / "report.html", out.parent)
    experiments = [run for run in runs if run.experiment is not None]
    listing = "".join(
        f'<li><a href="{escape(links[run.path])}">{escape(run.title)}</a>: '
        f"{escape((run.experiment or {}).get('answer', ''))}</li>"
        for run in experiments
    )
    body = results_tables(runs, links) + (f"<h2>Experiments</h2><ul>{listing}</ul>" if experiments else "")
    return write_atomic(out, page(f"nnzoo runs under {root}", body))
