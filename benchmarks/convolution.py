"""Speed of nnzoo's convolution and pooling (the formula's two paths) against torch.nn's, in the same run.

    python benchmarks/convolution.py            # 3 timing processes, medians
    python benchmarks/convolution.py --quick    # 1 process, fewer repetitions

For the layer shapes of LeNet-5 (batch 64, 28 × 28 Fashion-MNIST) and of the U-Net (batch 8, 128 × 128, base 32)
it times forward + backward of ``torch.nn``'s layer (oneDNN's kernels on the CPU) and of ours on the ``fast`` path
(im2col + one matrix product) and the ``reference`` path (one term per kernel offset), alternating them so that a
drift in machine speed hits all alike, and prints each as a ratio of torch's time (> 1: slower than torch).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

from nnzoo.nn.convolution import Conv2d, ConvTranspose2d, MaxPool2d

# name, input shape, our layer, torch's layer (same arguments)
LAYERS = [
    ("LeNet-5 C1 5×5 1→6", (64, 1, 32, 32), lambda cls: cls(1, 6, 5)),
    ("LeNet-5 C3 5×5 6→16", (64, 6, 14, 14), lambda cls: cls(6, 16, 5)),
    ("LeNet-5 C5 5×5 16→120", (64, 16, 5, 5), lambda cls: cls(16, 120, 5)),
    ("U-Net level 1 3×3 32→32", (8, 32, 128, 128), lambda cls: cls(32, 32, 3, padding=1, bias=False)),
    ("U-Net level 4 3×3 256→256", (8, 256, 16, 16), lambda cls: cls(256, 256, 3, padding=1, bias=False)),
    ("U-Net up 2×2/2 64→32", (8, 64, 64, 64), lambda cls: cls(64, 32, 2, stride=2)),
    ("U-Net max pool 2×2", (8, 32, 128, 128), lambda cls: cls(2)),
]
PAIRS = {"C": (Conv2d, nn.Conv2d), "U": (ConvTranspose2d, nn.ConvTranspose2d), "M": (MaxPool2d, nn.MaxPool2d)}


def kind(name: str) -> str:
    return "U" if " up " in name else "M" if "pool" in name else "C"


def measure(repeats: int) -> list[dict]:
    torch.manual_seed(0)
    rows = []
    for name, shape, make in LAYERS:
        ours_cls, torch_cls = PAIRS[kind(name)]
        reference = make(torch_cls)
        models = {"torch": reference}
        for path in ("fast", "reference"):
            model = make(lambda *a, cls=ours_cls, path=path, **k: cls(*a, **k, path=path))
            model.load_state_dict(reference.state_dict())
            models[path] = model
        x = torch.randn(*shape, requires_grad=True)

        def step(model, x=x):
            model(x).sum().backward()

        for model in models.values():  # warm-up
            step(model)
        times: dict[str, list[float]] = {key: [] for key in models}
        for _ in range(repeats):
            for key, model in models.items():
                start = time.perf_counter()
                step(model)
                times[key].append(time.perf_counter() - start)
        median = {key: statistics.median(values) for key, values in times.items()}
        rows.append({"layer": name, **{f"{k}_ms": 1000 * v for k, v in median.items()}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one process, fewer repetitions")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeats = 5 if args.quick else 15
    if args.worker:
        print(json.dumps(measure(repeats)))
        return
    processes = 1 if args.quick else 3
    runs = []
    for _ in range(processes):  # separate processes: the same configuration varies between processes
        out = subprocess.run([sys.executable, __file__, "--worker", *(["--quick"] if args.quick else [])],
                             check=True, capture_output=True, text=True, env=os.environ)  # fmt: skip
        runs.append(json.loads(out.stdout))
    threads = torch.get_num_threads()
    print(f"forward + backward, medians of {processes} process(es) × {repeats} repetitions, {threads} thread(s)")
    print(f"{'layer':28} {'torch ms':>9} {'fast ms':>9} {'ref ms':>9} {'fast/torch':>11} {'ref/torch':>10}")
    for index, row in enumerate(runs[0]):
        ms = {key: statistics.median(run[index][f"{key}_ms"] for run in runs) for key in ("torch", "fast", "reference")}
        print(
            f"{row['layer']:28} {ms['torch']:9.2f} {ms['fast']:9.2f} {ms['reference']:9.2f} "
            f"{ms['fast'] / ms['torch']:10.2f}× {ms['reference'] / ms['torch']:9.2f}×"
        )


if __name__ == "__main__":
    main()
