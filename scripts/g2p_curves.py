"""docs/images/g2p-curves.png: the validation PER of G2P runs against the passes over the training words and against
the training minutes, from their training logs (metrics.jsonl; greedy decoding, as the trainer scores).

    .venv/bin/python scripts/g2p_curves.py [RUN ...] [--out docs/images/g2p-curves.png]

RUN: a run folder or a shipped model's name; default the three shipped G2P models, each trained by its recipe (README
"Pretrained models"; their cards say on what, and under which load). Prints each curve as a table too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from matplotlib.figure import Figure

import nnzoo
from nnzoo.viz.saving import save_figure

SHIPPED = ["g2p/lstm-attention", "g2p/gru-seq2seq", "g2p/transformer"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", default=SHIPPED)
    parser.add_argument("--out", type=Path, default=Path("docs/images/g2p-curves.png"))
    args = parser.parse_args()
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    by_epoch, by_time = fig.subplots(1, 2, sharey=True)
    for name in args.runs:
        run = nnzoo.open(name, device="cpu")
        val = [r for r in run.metrics if r["split"] == "val"]
        label = f"{name} ({run.config.train.max_steps:,} steps of {run.config.train.batch_size} words)"
        per = [100 * r["per"] for r in val]
        by_epoch.plot([r["epoch"] for r in val], per, marker=".", label=label)
        by_time.plot([r["elapsed_s"] / 60 for r in val], per, marker=".", label=label)
        print(f"{name}: " + ", ".join(f"epoch {r['epoch']:.1f} {r['elapsed_s'] / 60:.1f} min {p:.2f} %" for r, p in
                                      zip(val, per)))  # fmt: skip
    by_epoch.set(xlabel="passes over the 113,234 training words", ylabel="validation PER (%), greedy")
    by_time.set(xlabel="training minutes, as each run was trained (docs/g2p.md)")
    for ax in (by_epoch, by_time):
        ax.grid(alpha=0.3)
    by_epoch.legend()
    fig.suptitle("G2P: the validation phoneme error rate while training")
    save_figure(fig, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
