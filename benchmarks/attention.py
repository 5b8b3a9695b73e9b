"""Speed and memory of nnzoo's attention and Transformer against PyTorch's, in the same run.

    python benchmarks/attention.py            # 3 timing processes + one process per memory measurement
    python benchmarks/attention.py --quick    # 1 timing process, fewer repetitions, L up to 1024
    python benchmarks/attention.py --device cuda   # against PyTorch's CUDA kernels; memory = peak allocated

Reports, as ratios against PyTorch measured side by side (medians over processes):
  1. our MultiheadAttention vs torch.nn.MultiheadAttention, self-attention training step (fast path);
  2. our TransformerEncoderLayer vs torch.nn.TransformerEncoderLayer (d_model 256, 4 heads, ff 1024, L 128, B 32);
  3. attention forward + backward, time and peak memory, fast path (scaled_dot_product_attention) vs the explicit
     softmax path, at L = 128 … 2048 (B 8, 8 heads, head size 64). Memory is measured in a fresh process per
     configuration as the peak resident set minus the resident set before the step: all the step allocates;
  4. generating 100 tokens with a 3+3-layer Transformer, with the key/value cache vs recomputing all positions.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

from nnzoo.nn.attention import MultiheadAttention, scaled_dot_product_attention
from nnzoo.nn.seq2seq import TransformerSeq2Seq, TransformerSeq2SeqConfig
from nnzoo.nn.transformer import TransformerEncoderLayer


def sync() -> None:
    """Wait for the GPU's queued work, so that a timing covers it (nothing to wait for on the CPU)."""
    if torch.get_default_device().type == "cuda":
        torch.cuda.synchronize()


def timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def side_by_side(steps: dict, repeats: int) -> dict[str, float]:
    """Median time of each step function, measured in alternation after one warm-up each."""
    for fn in steps.values():
        fn()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, fn in steps.items():
            times[name] += timed(fn, 1)
    return {name: statistics.median(v) for name, v in times.items()}


def training_step(module, *inputs):
    def step():
        out = module(*inputs)
        (out[0] if isinstance(out, tuple) else out).sum().backward()

    return step


def measure_timing(repeats: int) -> dict:
    torch.manual_seed(0)
    results = {}
    B, L, E, H = 32, 128, 256, 4
    x = torch.randn(B, L, E, requires_grad=True)

    theirs = torch.nn.MultiheadAttention(E, H, batch_first=True)
    ours = MultiheadAttention(E, H, batch_first=True)
    ours.load_state_dict(theirs.state_dict())
    results["mha"] = side_by_side(
        {
            "torch": training_step(lambda t: theirs(t, t, t, need_weights=False), x),
            "ours": training_step(lambda t: ours(t, t, t, need_weights=False), x),
        },
        repeats,
    )

    theirs = torch.nn.TransformerEncoderLayer(E, H, 1024, dropout=0.1, batch_first=True)
    ours = TransformerEncoderLayer(E, H, 1024, dropout=0.1, batch_first=True)
    ours.load_state_dict(theirs.state_dict())
    results["encoder_layer"] = side_by_side(
        {"torch": training_step(theirs, x), "ours": training_step(ours, x)}, repeats
    )

    config = TransformerSeq2SeqConfig(
        d_model=256, nhead=4, encoder_layers=3, decoder_layers=3, dim_feedforward=1024, dropout=0.0
    )
    model = TransformerSeq2Seq(40, 40, 256, config).eval()
    src = torch.randint(3, 40, (8, 20))
    lengths = torch.full((8,), 20)

    def generate_cached():
        with torch.no_grad():
            state = model.init_state(model.encode(src, lengths))
            tokens = torch.ones(8, dtype=torch.long)
            for _ in range(100):
                log_probs, state = model.step(tokens, state)
                tokens = log_probs.argmax(-1)

    def generate_recomputed():
        with torch.no_grad():
            prefix = torch.ones(8, 1, dtype=torch.long)
            for _ in range(100):
                log_probs = model(src, lengths, prefix)[:, -1]
                prefix = torch.cat([prefix, log_probs.argmax(-1, keepdim=True)], dim=1)

    results["generation"] = side_by_side(
        {"recomputed": generate_recomputed, "cached": generate_cached}, max(2, repeats // 3)
    )
    return results


def current_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024


def measure_memory(path: str, length: int) -> dict:
    """Attention forward + backward in this fresh process: time of the second step, and the working memory of the
    step = peak resident set minus the resident set just before the first step (inputs already allocated); on
    CUDA, the peak of allocated GPU memory minus what was allocated before."""
    torch.manual_seed(0)
    cuda = torch.get_default_device().type == "cuda"
    B, H, D = 8, 8, 64
    q, k, v = (torch.randn(B, H, length, D, requires_grad=True) for _ in range(3))
    need_weights = path == "explicit"

    def step():
        out, _ = scaled_dot_product_attention(q, k, v, need_weights=need_weights)
        out.sum().backward()

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    baseline = torch.cuda.memory_allocated() / 2**20 if cuda else current_rss_mb()
    step()
    (seconds,) = timed(step, 1)
    if cuda:
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "working_mb": peak - baseline}


def run_worker(*args: str) -> dict:
    command = [sys.executable, __file__, "--device", torch.get_default_device().type, "--worker", *args]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_default_device(args.device)  # every model and tensor of the measurements is made there
    if args.worker is not None:
        kind, *rest = args.worker
        result = measure_timing(int(rest[0])) if kind == "timing" else measure_memory(rest[0], int(rest[1]))
        print(json.dumps(result))
        return
    if args.quick:
        args.processes, args.repeats = 1, 3
    lengths = [128, 512, 1024] if args.quick else [128, 512, 1024, 2048]

    runs = [run_worker("timing", str(args.repeats)) for _ in range(args.processes)]
    timing = {
        part: {name: statistics.median(run[part][name] for run in runs) for name in runs[0][part]} for part in runs[0]
    }
    memory = {(path, n): run_worker("memory", path, str(n)) for n in lengths for path in ("fast", "explicit")}

    where = torch.cuda.get_device_name() if args.device == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(f"torch {torch.__version__}, {where}; medians over {args.processes} process(es)\n")
    print("| measurement | PyTorch | nnzoo | nnzoo / PyTorch |\n|---|---:|---:|---:|")
    for part, label in (
        ("mha", "MultiheadAttention, self-attention training step (B 32, L 128, E 256, 4 heads)"),
        ("encoder_layer", "TransformerEncoderLayer training step (d 256, 4 heads, ff 1024, L 128, B 32)"),
    ):
        t = timing[part]
        print(f"| {label} | {t['torch'] * 1e3:.1f} ms | {t['ours'] * 1e3:.1f} ms | **{t['ours'] / t['torch']:.2f}** |")
    g = timing["generation"]
    print(
        f"\nGenerating 100 tokens (batch 8, 3+3 layers, d 256): recomputing every position {g['recomputed']:.2f} s, "
        f"with the key/value cache {g['cached']:.2f} s: **{g['recomputed'] / g['cached']:.1f}× faster**.\n"
    )
    print("| L | fast path (SDPA) s | explicit softmax s | explicit / fast time | fast MB | explicit MB |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in lengths:
        fast, explicit = memory[("fast", n)], memory[("explicit", n)]
        print(
            f"| {n} | {fast['seconds']:.3f} | {explicit['seconds']:.3f} | "
            f"{explicit['seconds'] / fast['seconds']:.1f} | {fast['working_mb']:.0f} | {explicit['working_mb']:.0f} |"
        )
    print(
        "\nMB: working memory of one forward + backward (peak resident set minus the resident set with the inputs "
        "allocated); B 8, 8 heads, head size 64. An (L, L) fp32 tensor of all heads is B·8·L²·4 bytes: "
        + ", ".join(f"{8 * 8 * n * n * 4 / 2**20:.0f} MB at L={n}" for n in lengths)
        + "."
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"timing": timing, "memory": {f"{p}-{n}": v for (p, n), v in memory.items()}}, fh, indent=1)


if __name__ == "__main__":
    main()
