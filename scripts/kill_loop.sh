#!/usr/bin/env bash
# Kill a training with SIGKILL at random moments until it finishes, resuming after each kill; then check that its
# weights and log equal those of an uninterrupted run. A charlm LSTM (it carries its recurrent state between
# batches), 150 steps, a checkpoint every 3. About 2 minutes a round on 2 CPU cores.
#   bash scripts/kill_loop.sh [ROUNDS]     (default 1; OUT=folder for the runs, default /tmp/nnzoo-kill-loop)
set -uo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-$PWD/.venv/bin/nnzoo}
PYTHON=${PYTHON:-$PWD/.venv/bin/python}
OUT=${OUT:-/tmp/nnzoo-kill-loop}
SETS=(--set data.max_chars=20000 --set eval.validate_chars=2000 --set data.chunk_length=16 --set model.hidden_size=32
      --set model.embedding_dim=8 --set train.max_steps=150 --set train.eval_every=40 --set train.checkpoint_every=3
      --set train.batch_size=16 --set log.every=1)
mkdir -p "$OUT" && rm -rf "$OUT/reference" && "$NNZOO" train charlm --model lstm "${SETS[@]}" --run-dir "$OUT/reference" --quiet >/dev/null
for round in $(seq "${1:-1}"); do
  killed="$OUT/killed-$round" && rm -rf "$killed" && kills=0
  "$NNZOO" train charlm --model lstm "${SETS[@]}" --run-dir "$killed" --quiet >/dev/null 2>&1 &
  pid=$!
  while true; do
    sleep "$("$PYTHON" -c 'import random; print(random.uniform(2.5, 6.0))')"
    if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; break; fi
    kill -9 "$pid"; wait "$pid" 2>/dev/null; kills=$((kills + 1))
    if [ -f "$killed/config.toml" ]; then "$NNZOO" train --resume "$killed" --quiet >/dev/null 2>&1 &
    else "$NNZOO" train charlm --model lstm "${SETS[@]}" --run-dir "$killed" --quiet >/dev/null 2>&1 & fi
    pid=$!
  done
  "$PYTHON" - "$OUT/reference" "$killed" "$kills" <<'PY'
import json, sys
import torch
from nnzoo.training import load_checkpoint
reference, killed, kills = sys.argv[1], sys.argv[2], sys.argv[3]
same = all(
    torch.equal(load_checkpoint(f"{reference}/{name}.safetensors").model_state()[key], value)
    for name in ("last", "best")
    for key, value in load_checkpoint(f"{killed}/{name}.safetensors").model_state().items()
)
log = lambda folder: [{k: v for k, v in json.loads(line).items() if k != "elapsed_s"} for line in open(f"{folder}/metrics.jsonl")]
print(f"{kills} kills: weights bitwise equal {same}, log equal {log(reference) == log(killed)}")
PY
done
