"""``nnzoo report``: the page's content, escaping, the index over a folder of runs, and a real browser's view."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import ARTIFACTS, console_errors, needs_chromium, train_run
from nnzoo.cli import main
from nnzoo.errors import UserError
from nnzoo.report import build_index, build_report, find_run_folders, read_run_folder

HOSTILE = '<script>document.title = "pwned"</script><img src=x onerror="document.title = \'pwned\'">'


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two regression runs (evaluated on test), a digits classifier whose per-class table names a hostile class,
    and an experiment folder."""
    root = tmp_path_factory.mktemp("runs")
    for model in ("linear", "mlp"):
        train_run(root / "regression" / model, "regression", model, "train.epochs=3")
        assert main(["eval", str(root / "regression" / model), "--quiet"]) == 0
    digits = train_run(
        root / "classify-images" / "mlp", "classify-images", "mlp", "data.dataset=digits", "train.epochs=1"
    )
    with (digits / "figures" / "per_class_val.txt").open("a") as table:
        table.write(f"{HOSTILE}  0.500\n")  # as a data set's class name or a user's text would arrive
    assert main(["experiment", "parallel", "--budget", "tiny", "--out-dir", str(root / "experiments")]) == 0
    return root


def test_one_page_compares_runs_with_the_published_results(runs, tmp_path):
    page = build_report([runs / "regression" / "linear", runs / "regression" / "mlp"], tmp_path / "r.html").read_text()
    assert "<h2>Results: regression</h2>" in page and page.count("test (best checkpoint)") >= 2
    assert "published: Harrison &amp; Rubinfeld" in page and "<td class=num>0.81</td>" in page
    r2 = json.loads((runs / "regression" / "mlp" / "eval_test.json").read_text())["metrics"]["r2"]
    assert f"<td class=num>{r2:.4g}</td>" in page
    assert "baseline: " in page  # the task's closed-form and mean-predictor baselines
    assert page.count('src="data:image/png;base64,') >= 4  # curves and the task's figures of both runs
    assert "resolved config" in page and "[train]" in page and "http" not in page.replace("https://", "")


def test_text_from_files_is_escaped(runs, tmp_path):
    page = build_report([runs / "classify-images" / "mlp"], tmp_path / "r.html").read_text()
    assert "&lt;script&gt;document.title" in page and "onerror=&quot;" in page
    assert not re.search(r"<script|<img src=x", page, re.IGNORECASE)


def test_published_results_apply_only_to_their_data(runs, tmp_path):
    page = build_report([runs / "classify-images" / "mlp"], tmp_path / "r.html").read_text()
    assert "ResNet-18" not in page  # Fashion-MNIST's benchmark, not digits'


def test_the_index_links_a_page_for_every_run(runs):
    index = build_index(runs)
    assert index == runs / "index.html"
    folders = find_run_folders(runs)
    assert len(folders) == 4
    page = index.read_text()
    for folder in folders:
        assert (folder / "report.html").is_file()
        assert f'href="{(folder / "report.html").relative_to(runs).as_posix()}"' in page
    assert "Experiments" in page and "experiment parallel" in page


def test_bad_folders_are_clear_errors(runs, tmp_path, cli):
    with pytest.raises(UserError, match=r"is not a run folder .* nor an experiment folder"):
        read_run_folder(tmp_path)
    code, _, err = cli("report", "--out", tmp_path / "r.html")
    assert code == 2 and "give run folders, or --all DIR, not both" in err
    code, _, err = cli("report", "--all", tmp_path / "missing")
    assert code == 2 and "is not a folder" in err


@needs_chromium
def test_a_real_browser_shows_the_pages_without_errors(runs, browser):
    """Headless Chromium loads the index and a run's page: no console errors, every image decoded with a size, the
    hostile text inert."""
    build_index(runs)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, page in (("index", runs / "index.html"), ("digits", runs / "classify-images/mlp/report.html")):
        browser.get(page.as_uri())
        assert browser.title and browser.title != "pwned"
        images = browser.execute_script(
            "return Array.from(document.images, i => [i.complete, i.naturalWidth, i.naturalHeight]);"
        )
        assert all(complete and width > 0 and height > 0 for complete, width, height in images), images
        if name == "digits":
            assert len(images) >= 2
            assert HOSTILE in browser.execute_script("return document.body.textContent;")  # shown as text
        errors = console_errors(browser)
        assert not errors, errors
        assert browser.save_screenshot(str(ARTIFACTS / f"report-{name}.png"))
