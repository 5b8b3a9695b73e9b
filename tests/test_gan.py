"""Task ``gan``: the Fréchet distance, a smoke run (finite losses, images in [−1, 1], the figures) and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch
from PIL import Image

import nnzoo
from conftest import train_run
from nnzoo import metrics
from nnzoo.nn.gan import GAN, DCGANConfig, adversarial_losses
from nnzoo.tasks.gan import SAMPLE_SEED, tile, untile
from nnzoo.training.metrics_log import read_metrics


def test_frechet_distance_matches_the_closed_form_and_scipy():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 1, generator=generator, dtype=torch.float64) * 2 + 1
    b = torch.randn(4000, 1, generator=generator, dtype=torch.float64) * 0.5 - 1
    # One dimension: (μa − μb)² + (σa − σb)².
    closed = float((a.mean() - b.mean()) ** 2 + (a.std() - b.std()) ** 2)
    assert metrics.frechet_distance(a, b) == pytest.approx(closed, rel=1e-9)
    x = torch.randn(300, 5, generator=generator) @ torch.randn(5, 5, generator=generator)
    y = torch.randn(200, 5, generator=generator) + 0.5
    cx, cy = np.cov(x.double().T.numpy()), np.cov(y.double().T.numpy())
    mean_term = float(((x.double().mean(0) - y.double().mean(0)) ** 2).sum())
    reference = mean_term + np.trace(cx + cy - 2 * scipy.linalg.sqrtm(cx @ cy).real)
    assert metrics.frechet_distance(x, y) == pytest.approx(reference, rel=1e-6)
    assert abs(metrics.frechet_distance(x, x)) < 1e-9
    with pytest.raises(ValueError, match="equal F"):
        metrics.frechet_distance(x, y[:, :3])


def test_tiles_come_apart_again():
    images = torch.rand(10, 1, 5, 5)
    canvas = tile(images, columns=4)
    assert canvas.shape == (3 * 7 - 2, 4 * 7 - 2) and canvas.dtype == np.uint8
    back = untile(canvas, 5)[:10]
    assert np.abs(back / 255 - images.numpy()).max() <= 0.5 / 255 + 1e-6


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A LeNet-5 judge on 3,000 Fashion-MNIST images (one epoch)."""
    run = tmp_path_factory.mktemp("judge") / "lenet5"
    return train_run(run, "classify-images", "lenet5", "data.max_train=3000", "train.epochs=1", "train.warmup_steps=0")


def judged_scores(judge: torch.nn.Module, generated: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    """The GAN's metrics written out from the docs: the Fréchet distance of the judge's features (scipy's matrix
    square root), the entropy of its predicted classes over log 10, and the classes predicted at least 5 % of the
    time (half of the fair share 1/10)."""
    device = next(judge.parameters()).device
    with torch.no_grad():
        fake, real = (judge.features(x.to(device)).double().cpu().numpy() for x in (generated, real))
        predicted = judge(generated.to(device)).argmax(-1).cpu().numpy()
    covariances = np.cov(fake.T), np.cov(real.T)
    distance = ((fake.mean(0) - real.mean(0)) ** 2).sum() + np.trace(
        covariances[0] + covariances[1] - 2 * scipy.linalg.sqrtm(covariances[0] @ covariances[1]).real
    )
    shares = np.bincount(predicted, minlength=10) / len(predicted)
    return {
        "frechet_distance": float(distance),
        "class_entropy": float(scipy.stats.entropy(shares) / np.log(10)),
        "classes_covered": float((shares >= 0.05).sum()),
    }


def test_gan_smoke_run_trains_scores_draws_and_records_progress(cli, classifier, tmp_path):
    run = tmp_path / "gan"
    args = ["--set", "data.max_train=640", "--set", "train.epochs=2", "--set", "eval.samples=300"]
    args += ["--set", f"eval.classifier={classifier}", "--set", "model.width=16", "--set", "model.latent_dim=16"]
    code, out, err = cli("train", "gan", "--run-dir", run, "--quiet", *args)
    assert code == 0, err
    records = read_metrics(run / "metrics.jsonl")
    train = [r for r in records if r["split"] == "train"]
    val = [r for r in records if r["split"] == "val"]
    assert len(train) == 2 and len(val) == 2  # 20 steps, logged every 10; one evaluation per epoch
    for record in train:
        assert all(np.isfinite(record[k]) for k in ("loss", "d_loss", "g_loss", "d_real", "d_fake"))
        assert record["loss"] == pytest.approx(record["d_loss"] + record["g_loss"])  # one step trains both players
        # d_real and d_fake are D's mean beliefs (sigmoids) on the batches whose cross-entropies make the losses, so
        # by convexity of −log (Jensen), twice over: within a batch and over the logged steps' mean.
        assert record["d_loss"] >= -np.log(record["d_real"]) - np.log(1 - record["d_fake"]) - 1e-6
        assert record["g_loss"] >= -np.log(record["d_fake"]) - 1e-6
    assert all(record["frechet_distance"] > 0 for record in val)
    assert sorted(p.name for p in (run / "progress").iterdir()) == ["001.png", "002.png"]
    figures = {p.name for p in (run / "figures").iterdir()}
    assert {"samples.png", "interpolation.png", "classes.png", "progress.png", "progress.gif"} <= figures

    code, out, _ = cli("eval", run, "--split", "test", "--quiet")
    result = json.loads((run / "eval_test.json").read_text())
    (floor,) = result["baselines"].values()
    assert code == 0
    # The test metrics, recomputed from the judge's outputs on the 300 images drawn from the seeded latent points
    # (measured: Fréchet distance 134; 2 epochs on 640 images draw one class only).
    opened, judge = nnzoo.open(run), nnzoo.open(classifier).model  # on the device that `nnzoo eval` chose
    z = torch.randn(300, 16, generator=torch.Generator().manual_seed(SAMPLE_SEED))
    with torch.no_grad():
        generated = (opened.model(z.to(opened.device)).cpu() + 1) / 2
    real = opened.data["test"].images[:300]
    assert result["metrics"] == pytest.approx(judged_scores(judge, generated, real), rel=1e-4)
    # The floor, 300 training images against 300 test images, recomputed too (measured: 0.63, 0.966, 9 classes).
    assert floor == pytest.approx(judged_scores(judge, opened.data["train"].images[:300], real), rel=1e-4)
    assert floor["classes_covered"] >= 9  # real clothes: (nearly) every class, as judged by a weak classifier
    assert floor["class_entropy"] > 0.9 and floor["frechet_distance"] < 0.02 * result["metrics"]["frechet_distance"]
    # A generator collapsed onto one image covers one class, with no entropy, far from the real images.
    collapsed = opened.task.scores(generated[:1].expand(300, -1, -1, -1), real)
    assert collapsed["classes_covered"] == 1 and collapsed["class_entropy"] == pytest.approx(0, abs=1e-12)
    assert collapsed["frechet_distance"] > 50 * floor["frechet_distance"]

    code, out, _ = cli("predict", run, "--samples", "6", "--seed", "3", "--out", tmp_path / "six.png")
    picture = np.asarray(Image.open(tmp_path / "six.png"))
    assert code == 0 and "wrote 6 images" in out and picture.shape == (2 * 30 - 2, 3 * 30 - 2)


@pytest.mark.slow
def test_a_short_training_draws_most_classes_close_to_the_real_images(cli, classifier, tmp_path):
    """The quality gate: 400 steps of a width-32 DCGAN on 6,400 images, judged on 1,000 test images by the module's
    LeNet-5. Measured on 2026-11-27 with seeds 0, 1, 2: Fréchet distance 7.8, 7.4 and 8.4, 9 of 10 classes each;
    after 20 steps the same run is at 134 with one class. The gate leaves 40 % margin on the worst seed."""
    run = tmp_path / "gan"
    args = ["--set", "data.max_train=6400", "--set", "train.max_steps=400", "--set", "train.eval_every=400"]
    args += ["--set", "eval.samples=1000", "--set", f"eval.classifier={classifier}", "--set", "model.width=32"]
    args += ["--set", "model.latent_dim=32", "--set", "train.label_smoothing=0.1"]
    code, _, err = cli("train", "gan", "--run-dir", run, "--quiet", *args)
    assert code == 0, err
    code, _, err = cli("eval", run, "--split", "test", "--quiet")
    assert code == 0, err
    scores = json.loads((run / "eval_test.json").read_text())["metrics"]
    assert scores["classes_covered"] >= 8 and scores["frechet_distance"] < 12, scores


def test_adversarial_losses_report_the_discriminators_mean_beliefs():
    torch.manual_seed(0)
    gan = GAN(1, DCGANConfig(latent_dim=8, width=4)).double()
    with torch.no_grad():
        gan.discriminator.layers[-1].weight.mul_(100)  # spread D's beliefs far from 1/2
    real, z = torch.rand(16, 1, 28, 28, dtype=torch.double) * 2 - 1, torch.randn(16, 8, dtype=torch.double)
    losses = adversarial_losses(gan, real, z)
    with torch.no_grad():  # train mode, as in the losses: batch statistics, the same on the same batch
        d_real = torch.sigmoid(gan.discriminator(real)).mean()
        d_fake = torch.sigmoid(gan.discriminator(gan.generator(z))).mean()
    assert abs(float(d_real - d_fake)) > 0.2
    assert torch.allclose(losses["d_real"], d_real) and torch.allclose(losses["d_fake"], d_fake)
    # Label smoothing changes D's target for real images, not what D believes.
    smoothed = adversarial_losses(gan, real, z, real_target=0.9)
    assert torch.allclose(smoothed["d_real"], d_real) and torch.allclose(smoothed["d_fake"], d_fake)


def test_generated_images_are_in_the_tanh_range():
    gan = GAN(1, DCGANConfig(latent_dim=4, width=4))
    with torch.no_grad():
        for p in gan.generator.parameters():
            p.mul_(50)  # push the output into saturation
        images = gan.eval()(gan.noise(8))
    assert images.min() >= -1 and images.max() <= 1 and images.abs().max() > 0.99


def test_the_gan_needs_a_classifier_run_on_its_data(cli, tmp_path):
    code, _, err = cli("train", "gan", "--run-dir", tmp_path / "g", "--quiet", "--set", f"eval.classifier={tmp_path}")
    assert code == 2 and "is neither a run folder nor a shipped model; set eval.classifier" in err


def test_by_default_the_gan_is_judged_by_the_shipped_classifier(tmp_path):
    """No classifier of one's own is needed: eval.classifier defaults to classify-images/cnn, which ships."""
    overrides = ["data.max_train=256", "eval.samples=64", "train.max_steps=2", "model.width=8", "model.latent_dim=8"]
    run = nnzoo.train("gan", overrides=overrides, run_dir=tmp_path / "g", progress=False, figures=False)
    assert run.config.eval.classifier == "classify-images/cnn"
    assert run.task.classifier.features(torch.zeros(2, 1, 28, 28)).shape == (2, 256)
    shipped = nnzoo.open("classify-images/cnn").model.state_dict()
    judge = run.task.classifier.state_dict()
    assert all(torch.equal(judge[key].cpu(), value.cpu()) for key, value in shipped.items())
    assert np.isfinite(run.evaluate("test")["frechet_distance"])
