"""The documentation site (mkdocs.yml): it builds with warnings as errors, no internal link or anchor is broken,
and in a real browser (Debian's headless Chromium) its equations are typeset by the vendored KaTeX and the API
reference lists the architectures."""

from __future__ import annotations

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import nnzoo.nn
from conftest import console_errors, needs_chromium

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    assert (ROOT / "docs/assets/katex/katex.min.js").is_file(), "KaTeX is missing: run make setup"
    out = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)]
    quiet = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # no banner about Material's future
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=quiet)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


class Links(HTMLParser):
    """The ids of a page and the targets of its links and sources."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("href", "src") and value:
                self.targets.append(value)


def parsed(page: Path) -> Links:
    links = Links()
    links.feed(page.read_text(encoding="utf-8"))
    return links


def test_no_page_of_the_site_has_a_broken_internal_link(site):
    pages = {page: parsed(page) for page in site.rglob("*.html")}
    assert len(pages) >= 15
    broken = []
    for page, links in pages.items():
        for target in links.targets:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or target.startswith(("mailto:", "data:", "javascript:")):
                continue
            base = site if parts.path.startswith("/") else page.parent  # 404.html links from the site's root
            path = (base / unquote(parts.path).lstrip("/")).resolve() if parts.path else page
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                broken.append(f"{page.relative_to(site)}: {target}")
            elif parts.fragment and path.suffix == ".html" and unquote(parts.fragment) not in pages[path].ids:
                broken.append(f"{page.relative_to(site)}: {target} (no such anchor)")
    assert not broken, broken[:20]


def test_the_api_reference_documents_every_architecture_of_nnzoo_nn(site):
    ids = parsed(site / "reference" / "nn.html").ids
    documented = {name for name in nnzoo.nn.__all__ if f"nnzoo.nn.{name}" in ids}
    missing = [name for name in nnzoo.nn.__all__ if name not in documented and name != "ACTIVATIONS"]
    assert not missing, missing


@needs_chromium
def test_a_real_browser_typesets_the_equations_and_lists_the_api(site, browser):
    with_maths = sorted(p.relative_to(site) for p in site.rglob("*.html") if "arithmatex" in p.read_text())
    assert {Path("index.html"), Path("reference/nn.html")} <= set(with_maths)
    for page in with_maths:
        browser.get((site / page).as_uri())
        sizes = browser.execute_script(
            "return Array.from(document.querySelectorAll('.arithmatex'), e => {"
            "  const k = e.querySelector('.katex'); if (!k) return [0, 0];"
            "  const r = k.getBoundingClientRect(); return [r.width, r.height]; });"
        )
        assert sizes and all(width > 0 and height > 0 for width, height in sizes), (page, sizes)
        text = browser.execute_script("return document.body.innerText;")
        raw = ("\\sigma", "\\begin{aligned}", ".. math::", "\\(", "\\[")  # LaTeX that was not typeset
        assert not [r for r in raw if r in text], page
        assert not browser.find_elements("css selector", ".katex-error"), page  # LaTeX that KaTeX cannot parse
        errors = console_errors(browser)
        assert not errors, (page, errors)
    browser.get((site / "reference" / "nn.html").as_uri())
    headings = browser.execute_script("return Array.from(document.querySelectorAll('h2, h3'), h => h.id);")
    assert {"nnzoo.nn.LSTM", "nnzoo.nn.MultiheadAttention"} <= set(headings)
