"""docs/images/lenet5-c1.png: LeNet-5's first layer on a Fashion-MNIST test image — its six feature maps and one
output value worked out from the formula. The LeNet-5 is trained for 600 steps on its formula layers
(model.conv=nnzoo); about 2 minutes on 2 CPU cores.

    .venv/bin/python scripts/convolution_figure.py [--out docs/images/lenet5-c1.png]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

import nnzoo
from nnzoo.viz.convolution import plot_convolution_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/lenet5-c1.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run = nnzoo.train(
            "classify-images",
            model="lenet5",
            overrides=["model.conv=nnzoo", "train.max_steps=600", "train.eval_every=600"],
            run_dir=Path(folder) / "lenet5",
            figures=False,
        )
        print("val accuracy after 600 steps:", run.state["best"])
        body = run.model.body  # Standardize, pad, C1, …
        image = run.data["test"].images[0:1]  # (1, 1, 28, 28), a sneaker … whichever comes first
        with torch.no_grad():
            seen = body[1](body[0](image))[0]  # standardised and padded: what C1 convolves
        c1 = body[2]
        print("wrote", plot_convolution_step(seen, c1.weight, c1.bias, args.out, kernel=2, position=(12, 14)))


if __name__ == "__main__":
    main()
