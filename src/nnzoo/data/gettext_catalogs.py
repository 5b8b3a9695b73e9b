"""Real human translations: the English→Chinese and English→French message catalogs of free software.

Free software ships its user-facing messages with translations made by volunteers, as gettext catalogs
(``.po`` source files, compiled to ``.mo`` files under ``usr/share/locale/<lang>/LC_MESSAGES/``).
:func:`load_pairs` reads (English, translation) pairs from the catalogs that :mod:`nnzoo.data.sources` finds: the
``.po``/``.mo`` files a user puts in the data home's ``translations/zh_CN/`` or ``translations/fr/``, else the
catalogs of the Debian packages below, which :func:`fetch_catalogs` downloads with ``apt-get download`` and unpacks
with ``dpkg -x`` into a cache folder — nothing is installed or changed on the system. nnzoo's published results use
the Debian packages' catalogs.

Caveats: the messages are short and technical (error messages, option help, names of countries and languages
from ``iso-codes``); the same English message often appears in several packages, sometimes translated
differently — the first translation, in package order, is kept. Fuzzy entries never reach ``.mo`` files.
Licences: each catalog has its package's licence (mostly GPL/LGPL; ``iso-codes`` LGPL-2.1); the pairs are used
for research and not redistributed with nnzoo.
"""

from __future__ import annotations

import gettext
import re
import subprocess
from pathlib import Path

from nnzoo.data import cache_folder
from nnzoo.data.sources import DataMissing, data_set
from nnzoo.errors import UserError
from nnzoo.optional import require

PACKAGES = (
    "apt", "aptitude-common", "bash", "binutils-common", "bison", "coreutils", "cpio", "debconf-i18n",
    "diffutils", "dpkg", "findutils", "flex", "gawk", "gettext", "git", "gnupg-l10n", "grep", "iso-codes",
    "libc-l10n", "make", "nano", "passwd", "procps", "psmisc", "sed", "sudo", "tar", "util-linux-locales",
    "wget", "xkb-data",
)  # fmt: skip
LOCALES = {"zh": "zh_CN", "fr": "fr"}

# printf and Python format placeholders, kept whole when tokenising: %s, %d, %-10s, %1$s, %lu, %%, {0}, {name}
PLACEHOLDER = re.compile(
    r"%(?:\d+\$)?[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|L|q|j|z|t)?[diouxXeEfFgGaAcspn%]|\{[^{}\s]*\}"
)


def catalogs_folder() -> Path:
    return cache_folder() / "gettext"


def fetched_tree() -> Path | None:
    """The unpacked tree of :data:`PACKAGES`, if :func:`fetch_catalogs` has fetched them all."""
    done = catalogs_folder() / "complete.txt"
    return catalogs_folder() / "tree" if done.is_file() and done.read_text().split() == sorted(PACKAGES) else None


def fetch_catalogs(quiet: bool = True) -> Path:
    """Download and unpack :data:`PACKAGES` once (Debian and Ubuntu: ``apt-get download``); later calls return at
    once. Returns the unpacked tree."""
    tree = fetched_tree()
    if tree is not None:
        return tree
    root = catalogs_folder()
    done = root / "complete.txt"
    debs, tree = root / "debs", root / "tree"
    debs.mkdir(parents=True, exist_ok=True)
    command = ["apt-get", "download", *PACKAGES]
    try:
        result = subprocess.run(command, cwd=debs, capture_output=True, text=True)
        if result.returncode != 0:  # a fresh machine may have no package index yet
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True, check=False)
            result = subprocess.run(command, cwd=debs, capture_output=True, text=True)
    except FileNotFoundError:
        raise DataMissing(data_set("translations-zh").advice() + " (apt-get is not available here)") from None
    if result.returncode != 0:
        raise UserError(f"`apt-get download` of the gettext catalogs failed: {result.stderr.strip().splitlines()[-1:]}")
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(tree)], check=True, capture_output=True)
    done.write_text("\n".join(sorted(PACKAGES)) + "\n")
    if not quiet:
        print(f"unpacked {len(list(debs.glob('*.deb')))} packages into {tree}")
    return tree


def load_pairs(language: str) -> list[tuple[str, str]]:
    """(English, translation) pairs for ``language`` ("zh" or "fr"), one per distinct English message, in a fixed
    order (catalog file name, then message)."""
    if language not in LOCALES:
        raise UserError(f"unknown language {language!r}; available: {', '.join(LOCALES)}")
    folder = data_set(f"translations-{language}").locate()
    pairs: dict[str, str] = {}
    for path in sorted(folder.glob("*.[mp]o"), key=lambda p: p.name):
        catalog = read_catalog(path)
        for key in sorted(catalog, key=str):
            source, target = key, catalog[key]
            if isinstance(source, tuple):  # plural forms: keep the singular
                if source[1] != 0:
                    continue
                source = source[0]
            source = source.split("\x04", 1)[-1]  # drop a msgctxt
            if source.strip() and target.strip() and source not in pairs:
                pairs[source] = target
    return list(pairs.items())


def read_catalog(path: Path) -> dict[str | tuple[str, int], str]:
    """A ``.mo`` or ``.po`` file as ``gettext`` holds a catalog: ``{msgid: msgstr}``, a plural form as
    ``{(msgid, n): msgstr[n]}``, a context as ``"msgctxt\x04msgid"``. Untranslated, fuzzy and obsolete entries of a
    ``.po`` file are left out, as ``msgfmt`` leaves them out of a ``.mo`` file."""
    try:
        if path.suffix == ".mo":
            with path.open("rb") as fh:
                return gettext.GNUTranslations(fh)._catalog
        polib = require("polib", "reading .po catalogs")
        catalog: dict[str | tuple[str, int], str] = {}
        for entry in polib.pofile(str(path)).translated_entries():
            msgid = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
            if entry.msgid_plural:
                catalog.update({(msgid, int(n)): text for n, text in entry.msgstr_plural.items()})
            else:
                catalog[msgid] = entry.msgstr
        return catalog
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UserError(f"{path} is not a gettext catalog that can be read: {error}") from None
