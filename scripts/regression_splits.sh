#!/usr/bin/env bash
# Linear (Adam) vs MLP on Boston housing over five train/val/test splits: how much of the README's single-split
# result is the split. Prints one `nnzoo eval` table with each split's closed-form and mean baselines.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=runs/regression-splits
rm -rf "$OUT"
for split in 0 1 2 3 4; do
  for recipe in linear-adam mlp; do
    "$NNZOO" train --recipe "regression/$recipe" --set data.split_seed=$split \
      --run-dir "$OUT/$recipe-split$split" --quiet > /dev/null
  done
done
"$NNZOO" eval "$OUT"/* --split test --quiet
