#!/usr/bin/env bash
# The README's G2P results: the three recipes (about 30 minutes each on 2 CPU cores), then the test split with
# beam search of 5, as a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs/g2p}
for model in transformer lstm-attention gru-seq2seq; do
  [ -f "$OUT/$model/last.safetensors" ] && resume=(--resume "$OUT/$model") || resume=(--recipe "g2p/$model" --run-dir "$OUT/$model")
  "$NNZOO" train "${resume[@]}" --quiet
done
"$NNZOO" eval "$OUT"/transformer "$OUT"/lstm-attention "$OUT"/gru-seq2seq --split test --markdown --quiet
