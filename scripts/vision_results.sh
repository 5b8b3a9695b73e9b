#!/usr/bin/env bash
# The README's vision results: the four Fashion-MNIST classifiers (the recipes classify-images/*), then the DCGAN
# (gan/dcgan), which the CNN judges; then the test split of each as Markdown tables. Runs that already have a
# checkpoint are resumed. About 90 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs}

source scripts/lib.sh

for model in mlp lenet5 cnn resnet; do
  train_or_resume "$OUT/classify-images/$model" --recipe "classify-images/$model"
done
train_or_resume "$OUT/gan/dcgan" --recipe gan/dcgan --set "eval.classifier=$OUT/classify-images/cnn"
echo "Fashion-MNIST classifiers, test split:"
"$NNZOO" eval "$OUT"/classify-images/{mlp,lenet5,cnn,resnet} --split test --markdown --quiet
echo "DCGAN, test split:"
"$NNZOO" eval "$OUT/gan/dcgan" --split test --markdown --quiet
