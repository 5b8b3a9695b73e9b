#!/usr/bin/env bash
# The README's denoising results: the U-Net and its skip-connection ablation (the recipes denoise/*), on Gaussian noise
# (σ = 0.3) and on salt-and-pepper noise (20 % of the pixels), each pair side by side with one CPU thread each,
# then the test split as Markdown tables with the baselines. Runs that already have a checkpoint are resumed.
# About 35 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs/denoise}

source scripts/lib.sh

pair() {  # PREFIX, then --set overrides for both recipes
  local prefix=$1
  shift
  OMP_NUM_THREADS=1 train_or_resume "$OUT/${prefix}unet" --recipe denoise/unet "$@" & first=$!
  OMP_NUM_THREADS=1 train_or_resume "$OUT/${prefix}autoencoder" --recipe denoise/autoencoder "$@" & second=$!
  wait "$first" "$second"
}

pair ""
pair sp- --set data.noise=salt-and-pepper --set data.level=0.2
echo "Gaussian noise, σ = 0.3, test split:"
"$NNZOO" eval "$OUT/unet" "$OUT/autoencoder" --split test --markdown --quiet
echo "Salt-and-pepper noise, 20 % of the pixels, test split:"
"$NNZOO" eval "$OUT/sp-unet" "$OUT/sp-autoencoder" --split test --markdown --quiet
