#!/usr/bin/env bash
# The README's forecasting results: every model (RNN, LSTM and GRU as encoder-decoders and as next-step models,
# the Transformer, the TCN) on every built-in series, then the rolling-origin backtest on the test part of each series,
# with the naive, seasonal-naive and ARIMA baselines, as Markdown tables. About 40 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs/forecast}
for series in sunspots co2 nile elnino; do
  runs=()
  for model in rnn lstm gru transformer tcn; do
    direct=false; case $model in transformer|tcn) direct=true;; esac  # one strategy: the whole horizon at once
    for strategy in seq2seq next-step; do
      [ "$direct" = true ] && [ "$strategy" = next-step ] && continue
      name="$series-$model"; args=()
      if [ "$direct" = false ]; then name="$name-$strategy"; args=(--set "model.strategy=$strategy"); fi
      runs+=("$OUT/$name")
      [ -f "$OUT/$name/best.safetensors" ] && continue
      "$NNZOO" train --recipe "forecast/$model" --set "data.series=$series" "${args[@]}" \
        --run-dir "$OUT/$name" --quiet > /dev/null
    done
  done
  echo "### $series, test part, every origin"
  "$NNZOO" eval "${runs[@]}" --split test --markdown --quiet
  echo
done
