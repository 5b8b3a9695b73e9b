"""Task ``seismic``: invert a seismic section into the velocity model beneath it, with an edge-extraction head.

The notes: "input one head, output several heads for multi-task, e.g. inverting the velocity model while extracting
edges makes the inversion smoother". The data (``nnzoo.data.seismic``) are synthetic but physical: random layered,
folded and faulted velocity models and the noisy sections recorded over them. The model is a U-Net from the section
(time × traces) to per-pixel heads on the depth × traces grid of the model (the same size):

* ``velocity``: the velocity scaled to [0, 1] by (v − v_min) / (v_max − v_min), trained with the mean absolute error;
* ``edges`` (unless ``model.edges=false``): logits of the layer boundaries, trained with binary cross-entropy,
  weighted by ``model.edge_weight`` in the sum of the two losses.

Metrics: the velocity's MAE in m/s and SSIM, and the F1 score of the edges with a tolerance of one pixel (an edge
pixel counts as found if a predicted one is within one pixel, and the other way round). ``edge_f1`` uses the
edges head, or for a model without one the velocity's own jumps (|Δv| > 30 m/s between neighbouring pixels);
``velocity_edge_f1`` always uses the velocity's jumps, so single- and two-head models compare on the same terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from nnzoo.config import DataConfig
from nnzoo.data import seismic
from nnzoo.errors import ConfigError, UserError
from nnzoo.metrics import mean_ssim
from nnzoo.nn.unet import UNet, UNetConfig
from nnzoo.registry import register_model, register_task
from nnzoo.tasks.base import Splits, Task

SPLITS = ("train", "val", "test")
VELOCITY_JUMP = 30.0  # m/s between neighbouring pixels that makes an edge of a predicted velocity model


@dataclass
class SeismicDataConfig(DataConfig):
    train_examples: int = 4000
    val_examples: int = 500
    test_examples: int = 1000
    data_seed: int = 0  # the examples depend on this seed only, not on the training seed
    noise: float = 0.1  # RMS of the band-limited noise / RMS of the signal
    traces: int = 64  # width of a section, 10 m apart

    def __post_init__(self) -> None:
        if self.traces < 1:
            raise ConfigError(f"data.traces must be >= 1, got {self.traces}")
        if min(self.train_examples, self.val_examples, self.test_examples) < 1:
            raise ConfigError("data.train_examples, data.val_examples and data.test_examples must be >= 1")
        if self.noise < 0:
            raise ConfigError(f"data.noise must be >= 0, got {self.noise}")


@dataclass
class SeismicUNetConfig(UNetConfig):
    """The U-Net's hyper-parameters and the task's choice of heads."""

    edges: bool = True  # false: the single-head (velocity only) model of the comparison
    edge_weight: float = 1.0  # weight of the edges' cross-entropy in the loss

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.edge_weight < 0:
            raise ConfigError(f"model.edge_weight must be >= 0, got {self.edge_weight}")


# Three poolings: 128 × 64 -> 16 × 8 at the bottleneck.
@register_model("seismic", "unet", config=SeismicUNetConfig, defaults={"depth": 3, "base_channels": 16})
def build_unet(cfg: SeismicUNetConfig, info: dict) -> nn.Module:
    """U-Net from the section to a velocity head and, with model.edges, an edges head."""
    cfg.check_fits(*info["shape"])
    heads = {"velocity": 1, "edges": 1} if cfg.edges else {"velocity": 1}
    return UNet(1, heads, cfg)


class SeismicBatch(NamedTuple):
    seismic: Tensor  # (B, 1, T, X) sections, unit RMS
    velocity: Tensor  # (B, 1, Z, X) scaled to [0, 1]
    edges: Tensor  # (B, 1, Z, X) 0/1


class SeismicExamples(Dataset):
    def __init__(self, data: seismic.SeismicData, survey: seismic.Survey):
        self.seismic = torch.from_numpy(data.seismic).unsqueeze(1)
        self.velocity = torch.from_numpy((data.velocity - survey.v_min) / (survey.v_max - survey.v_min)).unsqueeze(1)
        self.edges = torch.from_numpy(data.edges).float().unsqueeze(1)

    def __len__(self) -> int:
        return len(self.seismic)

    def __getitems__(self, indices) -> SeismicBatch:
        index = torch.as_tensor(indices, dtype=torch.long)
        return SeismicBatch(self.seismic[index], self.velocity[index], self.edges[index])

    @staticmethod
    def collate(batch: SeismicBatch) -> SeismicBatch:
        return batch


@register_task("seismic")
class Seismic(Task):
    """Seismic section -> velocity model (MAE, SSIM), with a second head for the layer edges (F1)."""

    DataConfig = SeismicDataConfig
    default_model = "unet"
    metric_names = ("loss", "mae", "ssim", "edge_f1", "velocity_edge_f1")
    label_smoothing_applies = False
    train_defaults: ClassVar[dict] = {
        "batch_size": 32,
        "epochs": 10,
        "lr": 2e-3,
        "optimizer": "adamw",
        "weight_decay": 1e-4,
        "schedule": "cosine",
        "warmup_steps": 100,
        "monitor": "mae",
        "monitor_mode": "min",
    }

    @property
    def survey(self) -> seismic.Survey:
        return seismic.Survey(noise=self.cfg.data.noise, traces=self.cfg.data.traces)

    def build_data(self) -> Splits:
        cfg, survey = self.cfg.data, self.survey
        data = {}
        for number, split in enumerate(SPLITS):
            # Each split has its own stream of examples: seed (data_seed, split number).
            examples = seismic.cached(getattr(cfg, f"{split}_examples"), 3 * cfg.data_seed + number, survey)
            data[split] = SeismicExamples(examples, survey)
        self.info = {
            "shape": [survey.depth_samples, survey.traces],
            "v_range": [survey.v_min, survey.v_max],
            "dz": survey.dz,
            "dx": survey.dx,
            "dt": survey.dt,
            "examples": {split: len(data[split]) for split in SPLITS},
            "edge_share": float(data["train"].edges.mean()),
        }
        return data

    @classmethod
    def prepare_data(cls) -> str:
        defaults = SeismicDataConfig()
        counts = [defaults.train_examples, defaults.val_examples, defaults.test_examples]
        for number, count in enumerate(counts):
            survey = seismic.Survey(noise=defaults.noise, traces=defaults.traces)
            seismic.cached(count, 3 * defaults.data_seed + number, survey)
        return "synthetic sections cached: " + " + ".join(f"{count:,}" for count in counts) + " examples"

    # --- training and evaluation -----------------------------------------------------------------------------
    def loss(self, model: nn.Module, batch: SeismicBatch) -> dict[str, Tensor]:
        out = model(batch.seismic)
        losses = {"velocity_loss": F.l1_loss(out["velocity"], batch.velocity)}
        total = losses["velocity_loss"]
        if "edges" in out:
            losses["edge_loss"] = self.edge_loss(out["edges"], batch.edges)
            total = total + self.cfg.model.edge_weight * losses["edge_loss"]
        return {"loss": total, **losses}

    def edge_loss(self, logits: Tensor, edges: Tensor) -> Tensor:
        """Class-balanced binary cross-entropy (Xie & Tu 2015, HED): edges are ~6 % of the pixels, so each edge
        pixel weighs (1 − p)/p times a background pixel, p the edge share of the training set; without it the
        head learns to predict no edge at all."""
        share = self.info["edge_share"]
        weight = torch.tensor((1 - share) / share, device=logits.device)
        return F.binary_cross_entropy_with_logits(logits, edges, pos_weight=weight)

    def predicted(self, model: nn.Module, sections: Tensor) -> dict[str, Tensor]:
        """Velocity in m/s (N, Z, X) and, with an edges head, edge probabilities (N, Z, X), on the CPU."""
        low, high = self.info["v_range"]
        parts = [model(x.to(self.device)) for x in sections.split(200)]
        out = {"velocity": torch.cat([p["velocity"][:, 0].float().cpu() for p in parts]) * (high - low) + low}
        if "edges" in parts[0]:
            out["edges"] = torch.cat([torch.sigmoid(p["edges"][:, 0].float()).cpu() for p in parts])
        return out

    def scores(self, velocity: Tensor, edges: Tensor | None, dataset: SeismicExamples) -> dict[str, float]:
        """The metrics of a predicted velocity (N, Z, X) in m/s and, if any, edge probabilities (N, Z, X)."""
        low, high = self.info["v_range"]
        true_velocity = dataset.velocity[:, 0] * (high - low) + low
        true_edges = dataset.edges[:, 0].bool()
        from_velocity = edge_f1(velocity_edges(velocity), true_edges)
        return {
            "mae": float((velocity - true_velocity).abs().mean()),
            "ssim": mean_ssim(velocity, true_velocity, high - low),
            "edge_f1": from_velocity if edges is None else edge_f1(edges > 0.5, true_edges),
            "velocity_edge_f1": from_velocity,
        }

    def evaluate(self, model: nn.Module, dataset: SeismicExamples) -> dict[str, float]:
        out = self.predicted(model, dataset.seismic)
        low, high = self.info["v_range"]
        loss = F.l1_loss((out["velocity"] - low) / (high - low), dataset.velocity[:, 0])
        if "edges" in out:
            logits = torch.logit(out["edges"], eps=1e-7)
            loss = loss + self.cfg.model.edge_weight * self.edge_loss(logits, dataset.edges[:, 0])
        return {"loss": float(loss), **self.scores(out["velocity"], out.get("edges"), dataset)}

    def baselines(self, data: Splits, split: str) -> dict[str, dict[str, float]]:
        """The mean training velocity at each depth, the same for every trace and example (a 1-D model)."""
        low, high = self.info["v_range"]
        profile = data["train"].velocity[:, 0].mean(dim=(0, 2)) * (high - low) + low
        velocity = profile[None, :, None].expand_as(data[split].velocity[:, 0])
        return {"mean velocity of each depth (training set)": self.scores(velocity, None, data[split])}

    def figures(self, model: nn.Module, data: Splits, split: str, folder: Path) -> list[Path]:
        """``sections_{split}.png``: for 4 examples, the seismic section, the true and predicted velocity, the
        true edges and the predicted ones."""
        from nnzoo.viz.seismic import plot_inversions

        dataset = data[split]
        out = self.predicted(model, dataset.seismic[:4])
        low, high = self.info["v_range"]
        heads = "velocity + edges" if "edges" in out else "velocity only"
        return [
            plot_inversions(
                dataset.seismic[:4, 0],
                dataset.velocity[:4, 0] * (high - low) + low,
                out["velocity"],
                dataset.edges[:4, 0],
                out.get("edges", velocity_edges(out["velocity"]).float()),
                self.info,
                folder / f"sections_{split}.png",
                f"{self.cfg.model.name} ({heads}, skip={self.cfg.model.skip}) on {split}",
                "predicted edges" if "edges" in out else f"velocity jumps > {VELOCITY_JUMP:.0f} m/s",
            )
        ]

    # --- prediction --------------------------------------------------------------------------------------------
    def predict(self, model: nn.Module, inputs: list, **options) -> list[Inversion]:
        """The velocity model (and, with an edges head, the edge probabilities) of each section: an array
        (time samples, traces) of the training shape, or the path of a ``.npy`` file holding one. A section is
        divided by its RMS, as in training, so its amplitude unit does not matter."""
        if options:
            raise UserError(f"seismic's predict takes no options, got {', '.join(options)}")
        if not inputs:
            return []
        shape = tuple(self.info["shape"])
        sections = []
        for item in inputs:
            section = read_section(item) if isinstance(item, (str, Path)) else np.asarray(item, dtype=np.float64)
            if section.shape != shape:
                raise UserError(f"a section of shape {section.shape}; this model takes sections of shape {shape}")
            sections.append(torch.from_numpy(section / max(seismic.rms(section), 1e-12)).float()[None])
        out = self.predicted(model, torch.stack(sections))
        edges = out.get("edges")
        return [Inversion(v, None if edges is None else edges[i]) for i, v in enumerate(out["velocity"])]


class Inversion(NamedTuple):
    """A section's inversion: velocity (Z, X) in m/s and, with an edges head, edge probabilities (Z, X)."""

    velocity: Tensor
    edges: Tensor | None


def read_section(path: str | Path) -> np.ndarray:
    """A section from a NumPy ``.npy`` file (no pickles)."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read {path} as a NumPy .npy array: {error}") from error


def velocity_edges(velocity: Tensor) -> Tensor:
    """Boolean edges of velocity maps (N, Z, X): a jump above VELOCITY_JUMP m/s to the next pixel down or right."""
    edges = torch.zeros_like(velocity, dtype=torch.bool)
    edges[:, :-1, :] |= (velocity[:, 1:, :] - velocity[:, :-1, :]).abs() > VELOCITY_JUMP
    edges[:, :, :-1] |= (velocity[:, :, 1:] - velocity[:, :, :-1]).abs() > VELOCITY_JUMP
    return edges


def edge_f1(predicted: Tensor, truth: Tensor, tolerance: int = 1) -> float:
    """F1 of boolean edge maps (N, Z, X) with a tolerance: precision is the share of predicted edge pixels within
    ``tolerance`` pixels of a true one, recall the share of true edge pixels within ``tolerance`` of a predicted
    one (the boundary F-measure of Martin, Fowlkes & Malik 2004, without their one-to-one matching)."""

    def near(edges: Tensor) -> Tensor:
        size = 2 * tolerance + 1
        return F.max_pool2d(edges.float()[:, None], size, stride=1, padding=tolerance)[:, 0].bool()

    precision = float((predicted & near(truth)).sum()) / max(1, int(predicted.sum()))
    recall = float((truth & near(predicted)).sum()) / max(1, int(truth.sum()))
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
