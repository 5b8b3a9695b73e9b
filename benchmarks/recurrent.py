"""Speed of nnzoo's recurrent layers against torch.nn's in the same run: one training step (forward + backward).

    python benchmarks/recurrent.py                 # 3 worker processes, the issue's three configurations
    python benchmarks/recurrent.py --quick         # 1 process, fewer repetitions
    python benchmarks/recurrent.py --device cuda   # against cuDNN, when a GPU is present
    python benchmarks/recurrent.py --lengths       # variable lengths (ours with lengths, torch.nn packed)

"native" is our layer running PyTorch's own kernel on our parameters (``path="native"``): its ratio to torch.nn is
the cost of the hand-over alone.

Each worker process measures every (configuration, cell) with ours and torch's timed alternately, and reports
medians; the parent prints the median over workers. Timings on a shared 2-core machine vary by 15-25 % between
processes, which is why only ratios measured side by side are compared.

FLOPs of a step: the forward pass does 2·T·B·G·H·(I + H) multiply-adds-as-two-FLOPs for the gate
pre-activations (G gates: 1 RNN, 3 GRU, 4 LSTM) and the backward pass twice that (gradients of the inputs and of
the weights), 6·T·B·G·H·(I + H) in all; element-wise work is not counted. The GEMM peak is a 2048×2048 fp32
matrix product measured in the same process.
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
from torch.nn.utils.rnn import pack_padded_sequence

from nnzoo.nn.recurrent import GRU, LSTM, RNN

CONFIGS = [  # (B, T, I, H)
    (64, 100, 64, 256),
    (256, 100, 64, 256),
    (64, 100, 64, 512),
]
CELLS = {"RNN": (RNN, torch.nn.RNN, 1), "LSTM": (LSTM, torch.nn.LSTM, 4), "GRU": (GRU, torch.nn.GRU, 3)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def gemm_peak(device: torch.device, n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def step_flops(B: int, T: int, I: int, H: int, gates: int) -> float:
    return 6.0 * T * B * gates * H * (I + H)


def measure(device: torch.device, repeats: int, variable: bool = False) -> dict:
    """With ``variable``, each sequence's length is drawn from [T/2, T]: ours get ``lengths``, torch.nn a packed
    sequence (the FLOP counts stay those of full length, so GFLOP/s overstate)."""
    torch.manual_seed(0)
    results = {"gemm_peak_gflops": gemm_peak(device), "rows": []}
    for B, T, I, H in CONFIGS:
        x = torch.randn(T, B, I, device=device, requires_grad=True)
        lengths = torch.randint(T // 2, T + 1, (B,)) if variable else None
        for name, (ours_cls, torch_cls, gates) in CELLS.items():
            reference = torch_cls(I, H).to(device)
            models = {"torch": reference}
            for path in ("fast", "reference", "native"):
                model = ours_cls(I, H, path=path).to(device)
                model.load_state_dict(reference.state_dict())
                models[path] = model

            def step(model, x=x, lengths=lengths):
                if lengths is None:
                    output, _ = model(x)
                elif isinstance(model, torch.nn.RNNBase):
                    output = model(pack_padded_sequence(x, lengths, enforce_sorted=False))[0].data
                else:
                    output, _ = model(x, lengths=lengths)
                output.sum().backward()

            for model in models.values():  # warm-up
                step(model)
            times = {key: [] for key in models}
            for _ in range(repeats):  # alternate, so that drifts in machine speed hit every model alike
                for key, model in models.items():
                    sync(device)
                    start = time.perf_counter()
                    step(model)
                    sync(device)
                    times[key].append(time.perf_counter() - start)
            median = {key: statistics.median(v) for key, v in times.items()}
            results["rows"].append(
                {
                    "B": B,
                    "T": T,
                    "I": I,
                    "H": H,
                    "cell": name,
                    "torch_s": median["torch"],
                    "fast_s": median["fast"],
                    "reference_s": median["reference"],
                    "native_s": median["native"],
                    "fast_ratio": median["fast"] / median["torch"],
                    "reference_ratio": median["reference"] / median["torch"],
                    "native_ratio": median["native"] / median["torch"],
                    "fast_gflops": step_flops(B, T, I, H, gates) / median["fast"] / 1e9,
                    "torch_gflops": step_flops(B, T, I, H, gates) / median["torch"] / 1e9,
                }
            )
    return results


def combine(runs: list[dict]) -> dict:
    """Median over worker processes, row by row."""
    rows = []
    for index, row in enumerate(runs[0]["rows"]):
        merged = dict(row)
        for key in row:
            if key.endswith(("_s", "_ratio", "_gflops")):
                merged[key] = statistics.median(run["rows"][index][key] for run in runs)
        rows.append(merged)
    peak = statistics.median(run["gemm_peak_gflops"] for run in runs)
    return {"gemm_peak_gflops": peak, "processes": len(runs), "rows": rows}


def table(result: dict, device: str) -> str:
    peak = result["gemm_peak_gflops"]
    lines = [
        f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}; fp32 GEMM peak "
        f"{peak:.0f} GFLOP/s; medians over {result['processes']} process(es)",
        "",
        "| B, T, I, H | cell | torch.nn ms | fast ms | fast / torch | reference ms | reference / torch | "
        "native / torch | fast GFLOP/s (% peak) | torch.nn GFLOP/s (% peak) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['B']}, {r['T']}, {r['I']}, {r['H']} | {r['cell']} | {r['torch_s'] * 1e3:.1f} | "
            f"{r['fast_s'] * 1e3:.1f} | **{r['fast_ratio']:.2f}** | {r['reference_s'] * 1e3:.1f} | "
            f"{r['reference_ratio']:.2f} | {r['native_ratio']:.2f} | "
            f"{r['fast_gflops']:.0f} ({100 * r['fast_gflops'] / peak:.0f} %) | "
            f"{r['torch_gflops']:.0f} ({100 * r['torch_gflops'] / peak:.0f} %) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--processes", type=int, default=3, help="worker processes (medians over them)")
    parser.add_argument("--repeats", type=int, default=7, help="timed steps per model in each process")
    parser.add_argument("--quick", action="store_true", help="1 process, 3 repeats")
    parser.add_argument("--lengths", action="store_true", help="variable lengths in [T/2, T] (packed for torch.nn)")
    parser.add_argument("--json", help="also write the combined result to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.quick:
        args.processes, args.repeats = 1, 3
    if args.worker:
        print(json.dumps(measure(device, args.repeats, args.lengths)))
        return
    runs = []
    for _ in range(args.processes):
        command = [sys.executable, __file__, "--worker", "--device", args.device, "--repeats", str(args.repeats)]
        command += ["--lengths"] if args.lengths else []
        out = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    result = combine(runs)
    print(table(result, args.device + (", variable lengths in [T/2, T]" if args.lengths else "")))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
