#!/usr/bin/env bash
# What the G2P gap is made of, for the attention LSTM (docs/g2p.md, "Closing the gap"): the g2p/lstm-attention
# recipe as it was measured (dropout 0.2; this ablation moved the recipe to 0), 4,200 steps of 256 words, one change
# at a time, trained in full and scored on the test split.
# The wider model (hidden-384) costs about twice as much per step, so it gets half the steps: the same training time.
# Each run takes one CPU thread (about an hour on this machine with a second run beside it). Name runs to train
# only those, e.g. `scripts/g2p_lstm_ablation.sh dropout-0 no-label-smoothing`; two such commands can run side by
# side, one per core. Finished runs are left alone, a killed one resumes. OUT (default runs/g2p-lstm-ablation)
# holds them. Prints, for every finished run: its steps and training time, the last validation PER and WER (greedy,
# as the trainer scores them), and the test PER, WER and long-word WER (beam of 5).
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs/g2p-lstm-ablation}
source scripts/lib.sh

declare -A CHANGES=(
  [recipe]=""
  [dropout-0]="model.dropout=0"
  [no-label-smoothing]="train.label_smoothing=0"
  [hidden-384]="model.hidden_size=384 train.max_steps=2100"
)
ORDER=(recipe dropout-0 no-label-smoothing hidden-384)

for name in "${@:-${ORDER[@]}}"; do
  [ -v "CHANGES[$name]" ] || { echo "unknown run '$name'; known: ${ORDER[*]}" >&2; exit 2; }
  sets=(--set model.dropout=0.2)
  for change in ${CHANGES[$name]}; do sets+=(--set "$change"); done
  OMP_NUM_THREADS=1 train_or_resume "$OUT/$name" --recipe g2p/lstm-attention "${sets[@]}"
  [ -f "$OUT/$name/eval_test.json" ] || OMP_NUM_THREADS=1 "$NNZOO" eval "$OUT/$name" --split test --quiet > /dev/null
done

echo "| run | steps | minutes | val PER % | val WER % | test PER % | test WER % | test WER, 9+ phonemes % |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for name in "${ORDER[@]}"; do
  [ -f "$OUT/$name/eval_test.json" ] || continue
  python3 - "$OUT/$name" <<'PY'
import json, sys
from pathlib import Path
run = Path(sys.argv[1])
last = [r for r in map(json.loads, (run / "metrics.jsonl").open()) if r["split"] == "val"][-1]
test = json.loads((run / "eval_test.json").read_text())["metrics"]
print(f"| {run.name} | {last['step']:,} | {last['elapsed_s'] / 60:.1f} | {100 * last['per']:.2f} | {100 * last['wer']:.2f} "
      f"| {100 * test['per']:.2f} | {100 * test['wer']:.2f} | {100 * test['wer_long']:.2f} |")
PY
done
