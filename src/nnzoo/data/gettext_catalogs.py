"""Real human translations: the English→Chinese and English→French message catalogs of Debian packages.

Free software ships its user-facing messages with translations made by volunteers, as gettext catalogs
(``.mo`` files under ``usr/share/locale/<lang>/LC_MESSAGES/``). :func:`fetch_catalogs` downloads the packages
below with ``apt-get download`` and unpacks them with ``dpkg -x`` into a cache folder — nothing is installed or
changed on the system — and :func:`load_pairs` reads (English, translation) pairs from them with Python's
``gettext``.

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
from nnzoo.errors import UserError

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


def fetch_catalogs(quiet: bool = True) -> Path:
    """Download and unpack :data:`PACKAGES` once; later calls return at once. Returns the unpacked tree."""
    root = catalogs_folder()
    done = root / "complete.txt"
    if done.is_file() and done.read_text().split() == sorted(PACKAGES):
        return root / "tree"
    debs, tree = root / "debs", root / "tree"
    debs.mkdir(parents=True, exist_ok=True)
    command = ["apt-get", "download", *PACKAGES]
    try:
        result = subprocess.run(command, cwd=debs, capture_output=True, text=True)
        if result.returncode != 0:  # a fresh machine may have no package index yet
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True, check=False)
            result = subprocess.run(command, cwd=debs, capture_output=True, text=True)
    except FileNotFoundError:
        raise UserError("the translation data comes from Debian packages, and apt-get is not available here") from None
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
    tree = catalogs_folder() / "tree"
    if not (catalogs_folder() / "complete.txt").is_file():
        raise UserError("the gettext catalogs are not downloaded yet: run `nnzoo data` (or `make setup`)")
    pairs: dict[str, str] = {}
    for path in sorted(tree.glob(f"usr/share/locale/{LOCALES[language]}/LC_MESSAGES/*.mo"), key=lambda p: p.name):
        with path.open("rb") as fh:
            catalog = gettext.GNUTranslations(fh)._catalog  # the parsed .mo: {msgid: msgstr}
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
