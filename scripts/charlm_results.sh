#!/usr/bin/env bash
# The README's character-model results: the four Shakespeare recipes, two at a time side by side with one CPU
# thread each (on 2 cores that is how the recipes' 20 minutes were sized), then the test split as a Markdown table,
# and samples. Runs that already have a checkpoint are resumed (or left alone when finished).
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs/charlm}

train() {
  local model=$1 run="$OUT/$1"
  if [ -f "$run/last.safetensors" ]; then
    OMP_NUM_THREADS=1 "$NNZOO" train --resume "$run" --quiet
  else
    OMP_NUM_THREADS=1 "$NNZOO" train --recipe "recipes/charlm/$model.toml" --run-dir "$run" --quiet
  fi
}

train lstm & first=$!
train transformer & second=$!
wait "$first" "$second"
train gru & first=$!
train rnn & second=$!
wait "$first" "$second"
echo "Shakespeare, test split (the last 5 % of every work):"
"$NNZOO" eval "$OUT/rnn" "$OUT/lstm" "$OUT/gru" "$OUT/transformer" --split test --markdown --quiet
