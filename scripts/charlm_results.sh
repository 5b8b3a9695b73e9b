#!/usr/bin/env bash
# The README's character-model results: the five Shakespeare recipes, two at a time side by side with one CPU
# thread each (on 2 cores that is how the recipes' 20 minutes were sized), then the test split as a Markdown table,
# and samples. Runs that already have a checkpoint are resumed (or left alone when finished).
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs/charlm}

source scripts/lib.sh

train() {  # one recipe, on one CPU thread
  OMP_NUM_THREADS=1 train_or_resume "$OUT/$1" --recipe "charlm/$1"
}

train lstm & first=$!
train transformer & second=$!
wait "$first" "$second"
train gru & first=$!
train rnn & second=$!
wait "$first" "$second"
train tcn
echo "Shakespeare, test split (the last 5 % of every work):"
"$NNZOO" eval "$OUT/rnn" "$OUT/lstm" "$OUT/gru" "$OUT/transformer" "$OUT/tcn" --split test --markdown --quiet
