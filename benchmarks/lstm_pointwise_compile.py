"""Does torch.compile make the LSTM's element-wise gate math faster on this CPU? (docs/recurrent.md, "Fusion")

    python benchmarks/lstm_pointwise_compile.py

Times one step's element-wise work (σ, tanh, the cell update) at B=64, H=256 in eager mode and compiled with
inductor, and the cold compile time. The matrix products are not part of it: they run the same either way.
"""

from __future__ import annotations

import time

import torch


def pointwise(gates: torch.Tensor, c_prev: torch.Tensor):
    i, f, g, o = gates.chunk(4, 1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c_prev + i * g
    return o * torch.tanh(c), c


def per_call_us(fn, *args, repeats: int = 2000) -> float:
    for _ in range(50):
        fn(*args)
    start = time.perf_counter()
    for _ in range(repeats):
        fn(*args)
    return (time.perf_counter() - start) / repeats * 1e6


def main() -> None:
    torch.manual_seed(0)
    gates, c = torch.randn(64, 4 * 256), torch.randn(64, 256)
    start = time.perf_counter()
    compiled = torch.compile(pointwise, dynamic=False, fullgraph=True)
    compiled(gates, c)
    compile_s = time.perf_counter() - start
    eager_us, compiled_us = per_call_us(pointwise, gates, c), per_call_us(compiled, gates, c)
    print(
        f"eager {eager_us:.0f} us/step, compiled {compiled_us:.0f} us/step (ratio {compiled_us / eager_us:.2f}); "
        f"compile {compile_s:.1f} s (cold unless inductor's cache in /tmp already holds it)"
    )


if __name__ == "__main__":
    main()
