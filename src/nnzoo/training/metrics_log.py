"""``metrics.jsonl``: one JSON object per line, written as training goes, optionally mirrored to TensorBoard."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from nnzoo.errors import UserError
from nnzoo.files import write_atomic
from nnzoo.optional import require

log = logging.getLogger("nnzoo")


class MetricsLog:
    """Append-only log of ``{"step", "epoch", "split", <metrics>}`` records; with ``path=None`` it writes nothing
    (the ranks > 0 of a multi-process run, where rank 0 logs)."""

    def __init__(self, path: str | Path | None, tensorboard_dir: str | Path | None = None):
        self.path = None if path is None else Path(path)
        self._writer = None
        if tensorboard_dir is not None:
            SummaryWriter = require("torch.utils.tensorboard", "log.tensorboard=true").SummaryWriter
            self._writer = SummaryWriter(str(tensorboard_dir))

    def truncate_after(self, step: int) -> None:
        """Drop records written after ``step`` (a resumed run rewrites them), and a line torn by a kill or a full
        disk. The file is replaced atomically: a kill now leaves the old log or the new one."""
        if self.path is None:
            return
        kept = [r for r in read_metrics(self.path) if r["step"] <= step]
        write_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept))

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
    """The records of a ``metrics.jsonl``. A torn final line (the writer was killed, or the disk filled, while
    appending) is dropped with a warning; a damaged line before it is an error, since records would be lost."""
    path = Path(path)
    if not path.is_file():
        return []
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("step"), int):
                raise ValueError("not a record with an integer step")
        except ValueError as error:
            if number == len(lines):
                log.warning("%s: dropped its last line, which is incomplete (%s)", path, error)
                break
            raise UserError(f"{path} line {number} is damaged ({error}); fix or delete that line") from None
        records.append(record)
    return records
