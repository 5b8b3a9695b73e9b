#!/usr/bin/env bash
# G2P quality (docs/g2p.md, "Closing the gap"): two seeds of g2p/lstm-attention-long side by side, one CPU thread
# each (about 100 minutes), then
#   1. the validation split, seed 0: the best checkpoint, and the averaged one with beam width 1, 5, 10 and length
#      penalty 0 or 1;
#   2. the test split: each seed's best and averaged checkpoints, and the two seeds as one ensemble.
# Finished runs are left alone, a killed one resumes. OUT (default runs/g2p-quality) holds the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs/g2p-quality}
source scripts/lib.sh

runs=("$OUT/lstm-attention-long-s0" "$OUT/lstm-attention-long-s1")
for seed in 0 1; do
  OMP_NUM_THREADS=1 train_or_resume "${runs[$seed]}" --recipe g2p/lstm-attention-long --seed "$seed" &
done
wait

row() { "$NNZOO" eval "$@" --markdown --quiet | sed -n 3p; }  # the model's row of the table
echo "validation split, seed 0:"
echo "best, beam 5, length penalty 0: $(row "${runs[0]}" --split val)"
for setting in "1 0" "5 0" "10 0" "10 1"; do
  read -r beam alpha <<< "$setting"
  echo "average, beam $beam, length penalty $alpha: $(row "${runs[0]}" --split val --checkpoint average \
    --set "eval.beam_size=$beam" --set "eval.length_penalty=$alpha")"
done
echo "test split:"
for checkpoint in best average; do
  for run in "${runs[@]}"; do echo "$checkpoint: $(row "$run" --checkpoint "$checkpoint")"; done
  echo "$checkpoint: $(row "${runs[@]}" --ensemble --checkpoint "$checkpoint")"
done
