"""docs/images/translate-images.png: the L1-only U-Net and pix2pix side by side on the same test edges (the split's
first garment of each class, then the next): edges, each model's drawing, the true garment.

    .venv/bin/python scripts/translate_images_figure.py [RUNS] [--out docs/images/translate-images.png]

RUNS (default runs/translate-images) holds the two recipes' runs, l1-only/ and pix2pix/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import nnzoo
from nnzoo.viz.images import plot_image_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=Path, default=Path("runs/translate-images"))
    parser.add_argument("--out", type=Path, default=Path("docs/images/translate-images.png"))
    args = parser.parse_args()
    l1_only, pix2pix = (nnzoo.open(args.runs / name, device="cpu") for name in ("l1-only", "pix2pix"))
    test = pix2pix.data["test"]
    chosen = [int(i) for c in range(10) for i in (test.labels == c).nonzero()[:2, 0]]
    edges = test.edges[chosen]
    rows = [edges, *(torch.stack(run.predict(list(edges))) for run in (l1_only, pix2pix)), test.images[chosen]]
    plot_image_grid(
        torch.cat(rows),
        args.out,
        columns=len(chosen),
        row_labels=["edges", "L1 only", "pix2pix", "true"],
        title="Edges -> garment, Fashion-MNIST test images (two of each class)",
        cell_inches=0.7,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
