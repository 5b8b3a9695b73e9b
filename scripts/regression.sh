#!/usr/bin/env bash
# The README's regression results: the three recipes on Boston housing, evaluated on the test split.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=runs/regression
rm -rf "$OUT"
for recipe in linear-sgd linear-adam mlp; do
  "$NNZOO" train --recipe "regression/$recipe" --run-dir "$OUT/$recipe" --quiet
done
echo "Boston housing, test split (76 districts, split seed 0), MEDV in k\$:"
"$NNZOO" eval "$OUT"/linear-sgd "$OUT"/linear-adam "$OUT"/mlp --split test --quiet
