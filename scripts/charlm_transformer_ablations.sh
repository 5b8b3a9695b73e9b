#!/usr/bin/env bash
# The character Transformer's recipe, one change at a time (docs/text.md, "The Transformer's recipe"): the recipe
# charlm/transformer cut to STEPS steps (the shape of the nanoGPT comparison: 4 layers, d 192, 4 heads, context
# 128, batches of 64, dropout 0.1), each variant undoing one of its choices; "before" is the first wave's recipe.
# Then the nanoGPT-style reference at two learning rates, and every run scored by one evaluator
# (benchmarks/charlm_reference.py: the validation text in blocks of 128 characters, each from its own prefix).
# JOBS runs side by side, one CPU thread each; SEED=1 (folders NAME-seed1) repeats them with another seed (the
# docs' second seed: SEED=1 NAMES="recipe untied beta2-0.999"). Runs that already have a checkpoint are resumed (or
# left alone when finished).
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
PYTHON=${PYTHON:-.venv/bin/python}
OUT=${OUT:-runs/charlm-ablations}
STEPS=${STEPS:-300}
JOBS=${JOBS:-2}
SEED=${SEED:-0}
SUFFIX=$([ "$SEED" = 0 ] || echo "-seed$SEED")

source scripts/lib.sh

declare -A CHANGES=(
  [recipe]=""
  [lr-0.001]="train.lr=0.001"
  [torch-init]="model.init_std=0"
  [torch-init-lr-0.001]="model.init_std=0 train.lr=0.001"
  [beta2-0.999]="train.beta2=0.999"
  [decay-all-0.01]="train.weight_decay=0.01 train.weight_decay_on=all"
  [cosine-to-0]="train.min_lr_ratio=0"
  [untied]="model.tie_embeddings=false"
  [chunks]="data.sampling=chunks"
  [relu]="model.activation=relu"
  [before]="train.lr=0.001 model.init_std=0 train.beta2=0.999 train.weight_decay=0.01 train.weight_decay_on=all
            train.min_lr_ratio=0 model.tie_embeddings=false data.sampling=chunks"
)
NAMES=(${NAMES:-recipe lr-0.001 torch-init torch-init-lr-0.001 beta2-0.999 decay-all-0.01 cosine-to-0 untied chunks relu before})

train() {  # one variant, on one CPU thread
  local sets=(--set "train.max_steps=$STEPS" --set train.eval_every=100)
  for change in ${CHANGES[$1]}; do sets+=(--set "$change"); done
  OMP_NUM_THREADS=1 train_or_resume "$OUT/$1$SUFFIX" --recipe charlm/transformer --seed "$SEED" "${sets[@]}"
}

running=0
for name in "${NAMES[@]}"; do
  train "$name" &
  if ((++running >= JOBS)); then wait -n; running=$((running - 1)); fi
done
wait
for lr in 0.001 0.002; do
  if ! grep -qs "\"lr\": $lr," "$OUT/reference.jsonl"; then
    OMP_NUM_THREADS=$JOBS "$PYTHON" benchmarks/charlm_reference.py --out "$OUT/reference.jsonl" train --steps "$STEPS" --lr "$lr"
  fi
done
cat "$OUT/reference.jsonl"
for name in "${NAMES[@]}"; do
  "$PYTHON" benchmarks/charlm_reference.py score "$OUT/$name$SUFFIX"
done
