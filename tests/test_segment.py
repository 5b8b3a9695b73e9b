"""Task ``segment``: the scenes and their exact masks, the IoU/Dice arithmetic, a metric-gated run, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import nnzoo
from conftest import train_run
from figures import figure_panels
from nnzoo.data.images import Images
from nnzoo.data.scenes import compose_scenes, object_shape
from nnzoo.errors import ConfigError
from nnzoo.metrics import iou_per_class, segmentation_scores
from nnzoo.registry import resolve_config


def coloured(pixels: np.ndarray) -> np.ndarray:
    """Where RGB pixels (…, 3) are not a grey level: a class's colour laid over the grey image."""
    return pixels.max(-1) - pixels.min(-1) > 40


def looks_like(panel: np.ndarray, image: np.ndarray) -> bool:
    """A grey panel (cells, cells, 3) shows the image (cells, cells) in [0, 1]: equal channels, correlated levels."""
    grey = (panel == panel[..., :1]).all() and np.corrcoef(panel[..., 0].ravel(), image.ravel())[0, 1] > 0.9
    return bool(grey)


def square_objects(count: int = 5) -> Images:
    """28 × 28 'objects': a bright square ring of grey level 0.9 around a dark centre (0.0), label i % 3."""
    images = torch.zeros(count, 1, 28, 28)
    images[:, :, 4:24, 4:24] = 0.9
    images[:, :, 10:18, 10:18] = 0.0
    return Images(images, torch.arange(count) % 3)


def test_masks_are_exactly_the_pasted_pixels():
    objects = square_objects()
    scenes = compose_scenes(objects, 20, "train", size=48, max_objects=3, fill_holes=True, seed=3)
    assert scenes.images.shape == (20, 1, 48, 48) and scenes.masks.shape == (20, 48, 48)
    inside = scenes.masks > 0
    # Inside a mask the pixels are the object's (0.9 on the ring, 0.0 in the filled centre), outside the texture's.
    object_levels = torch.tensor([0.0, 0.9])
    assert torch.isin(scenes.images[:, 0][inside], object_levels).all()
    # A filled ring covers 20 × 20 pixels, so every scene has at least 400 object pixels, and at most 3 objects.
    assert (inside.flatten(1).sum(1) >= 400).all() and (inside.flatten(1).sum(1) <= 1200).all()
    assert set(scenes.masks.unique().tolist()) <= {0, 1, 2, 3}


def test_holes_are_filled_for_garments_and_kept_for_digits():
    ring = square_objects(1).images[0, 0].numpy()
    assert object_shape(ring, fill_holes=True).sum() == 400
    assert object_shape(ring, fill_holes=False).sum() == 400 - 64


def test_scenes_are_deterministic_and_splits_use_different_texture_rows():
    objects = square_objects()
    first = compose_scenes(objects, 6, "val", seed=(0, 1))
    assert torch.equal(first.images, compose_scenes(objects, 6, "val", seed=(0, 1)).images)
    assert not torch.equal(first.images, compose_scenes(objects, 6, "test", seed=(0, 1)).images)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        compose_scenes(objects, 1, "dev")
    with pytest.raises(ValueError, match="cannot hold 28-pixel objects"):
        compose_scenes(objects, 1, "train", size=16)


def test_iou_and_dice_match_hand_counts():
    truth = torch.tensor([0, 0, 1, 1, 2, 2])
    predicted = torch.tensor([0, 1, 1, 1, 0, 2])
    counts = torch.bincount(truth * 4 + predicted, minlength=16).view(4, 4)  # class 3 never occurs
    # class 0: TP 1, FP 1, FN 1 -> IoU 1/3, Dice 1/2; class 1: TP 2, FP 1 -> 2/3, 4/5; class 2: TP 1, FN 1 -> 1/2, 2/3
    scores = segmentation_scores(counts)
    assert scores["pixel_accuracy"] == pytest.approx(4 / 6)
    assert scores["mean_iou"] == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert scores["mean_dice"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert torch.isnan(iou_per_class(counts)[3])


def test_bad_configuration_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"data\.size must be >= 28"):
        resolve_config(task="segment", overrides=["data.size=16"])
    cfg = resolve_config(task="segment", overrides=["data.size=40", "model.depth=4"])
    with pytest.raises(ConfigError, match="divisible by 16, not 40×40"):
        cfg.model.check_fits(40, 40)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """A small U-Net on 400 binary 32 × 32 scenes for 3 epochs (seconds)."""
    run = tmp_path_factory.mktemp("segment") / "unet"
    return train_run(
        run,
        "segment",
        "unet",
        "data.mode=binary",
        "data.size=32",
        "data.max_objects=1",
        "data.train_scenes=400",
        "data.val_scenes=100",
        "data.test_scenes=200",
        "model.depth=2",
        "model.base_channels=8",
        "train.epochs=3",
    )


@pytest.fixture(scope="module")
def opened(short_run):
    """The short run, opened, with its scenes."""
    run = nnzoo.open(short_run)
    assert len(run.data["test"]) == 200
    return run


def test_a_short_run_beats_the_all_background_baseline(cli, short_run, opened):
    code, out, _ = cli("eval", short_run, "--split", "test", "--quiet")
    result = json.loads((short_run / "eval_test.json").read_text())
    metrics, background = result["metrics"], result["baselines"]["everything background"]
    assert code == 0 and metrics["mean_iou"] > background["mean_iou"] + 0.15, out
    assert metrics["mean_dice"] > background["mean_dice"] + 0.15
    assert metrics["mean_iou"] > result["baselines"]["Otsu threshold of each image"]["mean_iou"]
    assert "Otsu threshold of each image" in result["baselines"]
    assert (short_run / "figures" / "overlays_test.png").is_file()
    assert "object" in (short_run / "figures" / "per_class_test.txt").read_text()
    # The overlays: 8 test scenes (1.3 · 8 + 1.2) × (1.3 · 3 + 1) inches at 100 dpi, rows image, truth, predicted.
    figure = short_run / "figures" / "overlays_test.png"
    assert Image.open(figure).size == (1160, 490)
    panels = figure_panels(figure, 32)
    assert panels.shape == (3, 8, 32, 32, 3)
    scenes = opened.data["test"]
    images, truth = scenes.images[:8, 0].numpy(), scenes.masks[:8].numpy() > 0
    predicted = np.stack([mask.numpy() for mask in opened.predict(list(scenes.images[:8]))]) > 0
    assert all(looks_like(panel, image) for panel, image in zip(panels[0], images))
    assert truth.mean() > 0.1 and (predicted != truth).mean() > 0.02  # objects everywhere; two different rows
    # the object's colour exactly where each mask says (a cell at a panel's border may be sampled off by a pixel)
    assert (coloured(panels[1]) == truth).mean() > 0.98 and (coloured(panels[2]) == predicted).mean() > 0.98
    assert (panels[1][~truth] == panels[0][~truth]).all(-1).mean() > 0.98  # the background: the grey image only


def test_predict_writes_an_overlay(cli, short_run, opened, tmp_path):
    picture = (np.random.default_rng(0).random((50, 40)) * 255).astype(np.uint8)
    Image.fromarray(picture).save(tmp_path / "scene.png")
    # With it, three test scenes (a garment on a texture each) as files: every overlay shows the class map that the
    # model gives that file, and the line printed its share.
    scenes = opened.data["test"]
    truths = [mask.numpy() > 0 for mask in scenes.masks[8:11]]
    paths = [tmp_path / f"test{i}.png" for i in (8, 9, 10)]
    for path, image in zip(paths, scenes.images[8:11, 0]):
        Image.fromarray((image.numpy() * 255).round().astype(np.uint8)).save(path)
    paths.append(tmp_path / "scene.png")
    code, out, _ = cli("predict", short_run, *paths, "--out-dir", tmp_path)
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 4 and "scene.segments.png" in out
    masks = [mask.numpy() for mask in opened.predict(paths)]
    for path, line, mask in zip(paths, lines, masks):
        assert mask.shape == (32, 32) and set(np.unique(mask)) <= {0, 1}  # background and "object" only
        found = f"object {(mask > 0).mean():.0%}" if mask.any() else "background only"
        assert line == f"{path} -> {tmp_path / path.stem}.segments.png: {found}"
        # 2.5 × 3.6 inches at 100 dpi: the image as the model reads it, below it the same with the class map
        figure = tmp_path / f"{path.stem}.segments.png"
        assert Image.open(figure).size == (250, 360)
        panels = figure_panels(figure, 32)
        assert panels.shape == (2, 1, 32, 32, 3)
        image = np.asarray(Image.open(path).convert("L").resize((32, 32), Image.Resampling.LANCZOS)) / 255
        assert looks_like(panels[0, 0], image)
        assert (coloured(panels[1, 0]) == (mask > 0)).mean() > 0.98
    ious = [(mask.astype(bool) & truth).sum() / (mask.astype(bool) | truth).sum() for mask, truth in zip(masks, truths)]
    assert all(0 < mask.mean() < 1 for mask in masks[:3])  # both classes in every scene
    assert np.mean(ious) > 0.4, ious  # the garments found, roughly
