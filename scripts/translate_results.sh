#!/usr/bin/env bash
# The README's translation results: the three recipes for English->Chinese and English->French (12-17 minutes
# each on 2 CPU cores), then the test split with beam search of 5, as Markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs/translate}
for target in zh fr; do
  for model in transformer lstm-attention gru-seq2seq; do
    run="$OUT/$target-$model"
    [ -f "$run/last.safetensors" ] && args=(--resume "$run") || args=(--recipe "recipes/translate/$model.toml" --set "data.target=$target" --run-dir "$run")
    "$NNZOO" train "${args[@]}" --quiet
  done
done
for target in zh fr; do
  echo "English -> $target, test split, beam search of 5:"
  "$NNZOO" eval "$OUT/$target-transformer" "$OUT/$target-lstm-attention" "$OUT/$target-gru-seq2seq" --split test --markdown --quiet
done
