#!/usr/bin/env bash
# The README's translation results: the three recipes for English->Chinese and English->French, then the test
# split with beam search of 5, as Markdown tables. The two languages train side by side, one CPU thread each
# (on 2 cores that finishes sooner than one after the other with two threads); the recipes' minutes were
# measured that way. Runs that already have a checkpoint are resumed.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs/translate}

train_language() {
  local target=$1 model run args
  for model in transformer lstm-attention gru-seq2seq; do
    run="$OUT/$target-$model"
    if [ -f "$run/last.safetensors" ]; then
      args=(--resume "$run")
    else
      args=(--recipe "translate/$model" --set "data.target=$target" --run-dir "$run")
    fi
    OMP_NUM_THREADS=1 "$NNZOO" train "${args[@]}" --quiet
  done
}

train_language zh & zh_pid=$!
train_language fr & fr_pid=$!
wait "$zh_pid"
wait "$fr_pid"
for target in zh fr; do
  echo "English -> $target, test split, beam search of 5:"
  "$NNZOO" eval "$OUT/$target-transformer" "$OUT/$target-lstm-attention" "$OUT/$target-gru-seq2seq" --split test --markdown --quiet
done
