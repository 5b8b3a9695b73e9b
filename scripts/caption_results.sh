#!/usr/bin/env bash
# The README's captioning results (the recipes caption/*): the context-vector captioner and the attention captioner side
# by side with one CPU thread each, then the test split (2,000 scenes, beam 3) as a Markdown table with the baseline.
# Runs that already have a checkpoint are resumed. About 40 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs/caption}

source scripts/lib.sh

OMP_NUM_THREADS=1 train_or_resume "$OUT/cnn-lstm" --recipe caption/cnn-lstm & first=$!
OMP_NUM_THREADS=1 train_or_resume "$OUT/cnn-lstm-attention" --recipe caption/cnn-lstm-attention & second=$!
wait "$first" "$second"
echo "Captioning, test split:"
"$NNZOO" eval "$OUT/cnn-lstm" "$OUT/cnn-lstm-attention" --split test --markdown --quiet
