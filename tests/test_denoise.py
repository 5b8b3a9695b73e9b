"""The U-Net and task ``denoise``: shapes, heads, gradients, the noise, the metrics, a metric-gated run, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

import nnzoo
from conftest import train_run
from figures import figure_panels
from nnzoo.data.images import add_noise
from nnzoo.errors import ConfigError
from nnzoo.nn.unet import UNet, UNetConfig
from nnzoo.registry import resolve_config
from nnzoo.tasks.denoise import Denoise, image_quality


def psnr(images, clean) -> np.ndarray:
    """The PSNR (dB) of each image (N, H, W) in [0, 1] against its clean one."""
    mse = np.square(np.asarray(images, np.float64) - np.asarray(clean, np.float64)).mean((1, 2))
    return 10 * np.log10(1 / mse)


@pytest.mark.parametrize(("depth", "size"), [(1, 6), (2, 28), (3, 16), (4, 32)])
def test_every_head_has_the_input_size(depth, size):
    model = UNet(2, {"velocity": 1, "edges": 1, "classes": 5}, UNetConfig(depth=depth, base_channels=4)).eval()
    out = model(torch.randn(3, 2, size, 2 * size))
    assert {name: tuple(y.shape) for name, y in out.items()} == {
        "velocity": (3, 1, size, 2 * size),
        "edges": (3, 1, size, 2 * size),
        "classes": (3, 5, size, 2 * size),
    }


def test_without_skips_the_decoder_sees_only_the_bottleneck():
    with_skips, without = UNet(1, {"y": 1}, UNetConfig(2, 8)), UNet(1, {"y": 1}, UNetConfig(2, 8, skip=False))
    # The decoder's first convolutions read 2w channels with skips (encoder maps + upsampled), w without.
    assert with_skips.merge[0][0].in_channels == 16 and without.merge[0][0].in_channels == 8
    assert sum(p.numel() for p in without.parameters()) < sum(p.numel() for p in with_skips.parameters())


def test_unet_gradients_match_finite_differences():
    torch.manual_seed(0)
    model = UNet(1, {"y": 2}, UNetConfig(depth=1, base_channels=2)).double()
    x = torch.randn(2, 1, 4, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: model(x)["y"], (x,))


def test_bad_sizes_and_channels_are_clear_errors():
    model = UNet(1, {"y": 1}, UNetConfig(depth=3, base_channels=4))
    with pytest.raises(ValueError, match=r"divisible by 8, got 28×28"):
        model(torch.randn(1, 1, 28, 28))
    with pytest.raises(ValueError, match=r"expects \(batch, 1, height, width\), got \(1, 3, 32, 32\)"):
        model(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match="at least one head"):
        UNet(1, {})
    with pytest.raises(ConfigError, match=r"data\.level must be in \(0, 1\)"):
        resolve_config(task="denoise", overrides=["data.level=1.5"])


def test_noise_has_the_requested_strength():
    grey = torch.full((200, 1, 28, 28), 0.5)
    generator = torch.Generator().manual_seed(0)
    gaussian = add_noise(grey, "gaussian", 0.1, generator)
    assert float((gaussian - grey).std()) == pytest.approx(0.1, rel=0.02)
    salted = add_noise(grey, "salt-and-pepper", 0.2, generator)
    changed = salted != grey
    assert float(changed.double().mean()) == pytest.approx(0.2, rel=0.02)
    assert set(salted[changed].unique().tolist()) == {0.0, 1.0}
    with pytest.raises(ValueError, match="unknown noise 'speckle'"):
        add_noise(grey, "speckle", 0.1)


def test_psnr_and_ssim_agree_with_scikit_image():
    clean = torch.rand(4, 1, 28, 28)
    shifted = (clean + 0.1).clamp(0, 1)
    scores = image_quality(shifted, clean)
    expected = np.mean(
        [peak_signal_noise_ratio(c[0], s[0], data_range=1.0) for c, s in zip(clean.numpy(), shifted.numpy())]
    )
    assert scores["psnr"] == pytest.approx(expected, rel=1e-6)
    assert image_quality(clean, clean) == {"psnr": 100.0, "ssim": pytest.approx(1.0)}


def test_evaluation_noise_is_fixed_and_training_noise_is_fresh():
    cfg = resolve_config(task="denoise", overrides=["data.max_train=50"])
    first, second = Denoise(cfg).build_data(), Denoise(cfg).build_data()
    assert torch.equal(first["val"].noisy, second["val"].noisy)
    assert not torch.equal(first["val"].noisy[:50], first["test"].noisy[:50])
    one, two = first["train"].__getitems__([0, 1]), first["train"].__getitems__([0, 1])
    assert torch.equal(one.clean, two.clean) and not torch.equal(one.noisy, two.noisy)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """The U-Net on 3,000 Fashion-MNIST images for 2 epochs (seconds)."""
    run = tmp_path_factory.mktemp("denoise") / "unet"
    return train_run(run, "denoise", "unet", "data.max_train=3000", "train.epochs=2", "model.base_channels=8")


@pytest.fixture(scope="module")
def opened(short_run):
    """The short run, opened, and its test images (clean, and with their fixed noise)."""
    run = nnzoo.open(short_run)
    return run, run.data["test"]


def test_a_short_run_beats_the_classical_filters(cli, short_run, opened):
    code, out, _ = cli("eval", short_run, "--split", "test", "--quiet")
    result = json.loads((short_run / "eval_test.json").read_text())
    metrics, baselines = result["metrics"], result["baselines"]
    assert code == 0 and metrics["psnr"] > baselines["median filter 3×3"]["psnr"] + 0.5, out
    assert metrics["ssim"] > baselines["noisy input"]["ssim"] + 0.1
    assert (short_run / "figures" / "examples_test.png").is_file()
    # The examples: 10 columns, rows noisy, denoised, clean, (10 + 0.8) × (3 + 0.4) inches at 100 dpi, in grey.
    figure = short_run / "figures" / "examples_test.png"
    assert Image.open(figure).size == (1080, 340)
    panels = figure_panels(figure, 28)
    assert panels.shape == (3, 10, 28, 28, 3) and (panels == panels[..., :1]).all()
    noisy, denoised, clean = panels[..., 0] / 255
    _, test = opened
    np.testing.assert_allclose(noisy, test.noisy[:10, 0].numpy(), atol=0.01)  # the first 10 of the split
    np.testing.assert_allclose(clean, test.clean[:10, 0].numpy(), atol=0.01)
    gain = psnr(denoised, clean) - psnr(noisy, clean)
    assert len(np.unique(denoised)) > 50 and (gain > 1).all() and gain.mean() > 3, gain


def test_predict_writes_a_denoised_image(cli, short_run, opened, tmp_path):
    noisy = (np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8)
    Image.fromarray(noisy).save(tmp_path / "noisy.png")
    code, out, _ = cli("predict", short_run, tmp_path / "noisy.png", "--out-dir", tmp_path)
    assert code == 0 and out.strip().endswith("noisy.denoised.png")
    assert np.asarray(Image.open(tmp_path / "noisy.denoised.png")).shape == (28, 28)
    # Three noisy test images, as files: what predict writes is the model's output, much closer to the clean images.
    run, test = opened
    paths = [tmp_path / f"test{i}.png" for i in range(3)]
    for path, image in zip(paths, test.noisy[:3, 0]):
        Image.fromarray((image.numpy() * 255).round().astype(np.uint8)).save(path)
    code, out, _ = cli("predict", short_run, *paths, "--out-dir", tmp_path)
    written = [tmp_path / f"{path.stem}.denoised.png" for path in paths]
    assert code == 0 and out.strip().splitlines() == [f"{path} -> {to}" for path, to in zip(paths, written)]
    images = [Image.open(path) for path in written]
    assert all(image.mode == "L" and image.size == (28, 28) for image in images)
    denoised = np.stack([np.asarray(image) for image in images]) / 255
    expected = torch.stack(run.predict(paths))[:, 0].numpy()
    np.testing.assert_allclose(denoised, expected, atol=0.5 / 255 + 1e-6)
    assert all(len(np.unique(image)) > 50 for image in denoised)
    clean, given = test.clean[:3, 0].numpy(), np.stack([np.asarray(Image.open(path)) for path in paths]) / 255
    gain = psnr(denoised, clean) - psnr(given, clean)
    assert (gain > 1).all() and gain.mean() > 3, gain
