#!/usr/bin/env bash
# The README's tagging and review-classification results: every recipe tagging/* (People's Daily, and
# the apple corpus with all four models) and classify-text/*, then the test split of each as Markdown
# tables with the baselines. Runs that already have a checkpoint are resumed. About 40 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs}

source scripts/lib.sh

for model in mlp bilstm transformer tcn; do
  train_or_resume "$OUT/tagging/pd-$model" --recipe "tagging/$model"
  train_or_resume "$OUT/tagging/apple-$model" --recipe tagging/apple --model "$model"
done
for recipe in lstm lstm-mean gru transformer; do
  train_or_resume "$OUT/classify-text/$recipe" --recipe "classify-text/$recipe"
done
echo "People's Daily, test split:"
"$NNZOO" eval "$OUT"/tagging/pd-{mlp,bilstm,transformer,tcn} --split test --markdown --quiet
echo "Apple, test split:"
"$NNZOO" eval "$OUT"/tagging/apple-{mlp,bilstm,transformer,tcn} --split test --markdown --quiet
echo "Reviews, test split:"
"$NNZOO" eval "$OUT"/classify-text/{lstm,lstm-mean,gru,transformer} --split test --markdown --quiet
