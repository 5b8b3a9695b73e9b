# Shared by the results scripts: `source scripts/lib.sh`, with NNZOO set to the nnzoo command.

train_or_resume() {  # RUN_DIR, then the arguments of `nnzoo train`; a run with a checkpoint is resumed (a no-op if finished)
  local run=$1
  shift
  if [ -f "$run/last.safetensors" ]; then
    "$NNZOO" train --resume "$run" --quiet > /dev/null
  else
    "$NNZOO" train "$@" --run-dir "$run" --quiet > /dev/null
  fi
}
