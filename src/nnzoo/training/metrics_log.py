"""``metrics.jsonl``: one JSON object per line, written as training goes, optionally mirrored to TensorBoard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nnzoo.errors import UserError


class MetricsLog:
    """Append-only log of ``{"step", "epoch", "split", <metrics>}`` records; with ``path=None`` it writes nothing
    (the ranks > 0 of a multi-process run, where rank 0 logs)."""

    def __init__(self, path: str | Path | None, tensorboard_dir: str | Path | None = None):
        self.path = None if path is None else Path(path)
        self._writer = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise UserError(
                    "log.tensorboard=true needs the tensorboard package: pip install 'nnzoo[tensorboard]'"
                ) from None
            self._writer = SummaryWriter(str(tensorboard_dir))

    def truncate_after(self, step: int) -> None:
        """Drop records written after ``step`` (a resumed run rewrites them)."""
        if self.path is None:
            return
        kept = [r for r in read_metrics(self.path) if r["step"] <= step]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def write(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        with self.path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        if self._writer is not None:
            for key, value in record.items():
                if key not in ("step", "epoch", "split") and isinstance(value, (int, float)):
                    self._writer.add_scalar(f"{record['split']}/{key}", value, record["step"])
            self._writer.flush()

    @property
    def wants_images(self) -> bool:
        return self._writer is not None

    def add_images(self, paths: list[Path], step: int) -> None:
        """Mirror PNG figures to TensorBoard's image tab, tagged ``figures/<file stem>``."""
        if self._writer is None:
            return
        from matplotlib.image import imread

        for path in paths:
            if path.suffix == ".png":
                pixels = imread(path)  # (H, W, 3 or 4) floats in [0, 1]
                self._writer.add_image(f"figures/{path.stem}", pixels[..., :3], step, dataformats="HWC")
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
