#!/usr/bin/env bash
# G2P quality (README "Closing the gap to the published systems"): two seeds of g2p/lstm-attention-long side by
# side, one core each (about 95 minutes), then
#   1. on the validation split, for seed 0's averaged checkpoint: beam width 1, 5, 10 and length penalty 0 / 1;
#   2. on the test split: each seed's best and averaged checkpoints, and the two seeds as one ensemble.
# Finished runs are skipped, a killed one resumes. OUT (default runs/g2p-quality) holds the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs/g2p-quality}
runs=("$OUT/lstm-attention-long-s0" "$OUT/lstm-attention-long-s1")
for seed in 0 1; do
  run=${runs[$seed]}
  if [ -f "$run/last.safetensors" ]; then args=(--resume "$run"); else
    args=(--recipe g2p/lstm-attention-long --seed "$seed" --run-dir "$run"); fi
  OMP_NUM_THREADS=1 "$NNZOO" train "${args[@]}" --quiet &
done
wait

evaluate() { "$NNZOO" eval "$@" --markdown --quiet | sed -n 3p; }  # the model's row of the table
echo "| validation split, seed 0, averaged | beam | length penalty | PER | WER | WER long |"
for setting in "1 0" "5 0" "10 0" "10 1"; do
  set -- $setting
  echo "$(evaluate "${runs[0]}" --split val --checkpoint average --set eval.beam_size=$1 \
    --set eval.length_penalty=$2) beam $1, α $2"
done
echo "| test split | loss | PER | WER | WER long |"
for run in "${runs[@]}"; do
  for checkpoint in best average; do echo "$(evaluate "$run" --checkpoint $checkpoint) $checkpoint"; done
done
for checkpoint in best average; do
  echo "$(evaluate "${runs[@]}" --ensemble --checkpoint $checkpoint) $checkpoint"
done
