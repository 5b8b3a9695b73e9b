#!/usr/bin/env bash
# The README's segmentation results (the recipes segment/*): the semantic U-Net and its skip-connection ablation side by
# side with one CPU thread each, then the binary U-Net; the test split (2,000 scenes) as Markdown tables with the
# baselines. Runs that already have a checkpoint are resumed. About 30 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs/segment}

source scripts/lib.sh

OMP_NUM_THREADS=1 train_or_resume "$OUT/unet" --recipe segment/unet & first=$!
OMP_NUM_THREADS=1 train_or_resume "$OUT/autoencoder" --recipe segment/autoencoder & second=$!
wait "$first" "$second"
train_or_resume "$OUT/binary" --recipe segment/binary
echo "Semantic segmentation (background + 10 classes), test split:"
"$NNZOO" eval "$OUT/unet" "$OUT/autoencoder" --split test --markdown --quiet
echo "Binary segmentation (object or background), test split:"
"$NNZOO" eval "$OUT/binary" --split test --markdown --quiet
