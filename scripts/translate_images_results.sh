#!/usr/bin/env bash
# The README's image-to-image translation results (the recipes translate-images/*): the U-Net with the L1 loss alone
# and pix2pix (the same U-Net, L1 + a PatchGAN) side by side with one CPU thread each; then the test split (10,000
# Fashion-MNIST garments) as a Markdown table with the baselines, and the figure docs/images/translate-images.png.
# Runs that already have a checkpoint are resumed. About 45 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs/translate-images}

source scripts/lib.sh

OMP_NUM_THREADS=1 train_or_resume "$OUT/l1-only" --recipe translate-images/l1-only & first=$!
OMP_NUM_THREADS=1 train_or_resume "$OUT/pix2pix" --recipe translate-images/pix2pix & second=$!
wait "$first" "$second"
echo "Image-to-image translation, edges -> garment, test split:"
"$NNZOO" eval "$OUT/l1-only" "$OUT/pix2pix" --split test --markdown --quiet
.venv/bin/python scripts/translate_images_figure.py "$OUT"
