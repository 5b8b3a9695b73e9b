#!/usr/bin/env bash
# The main job of `make demo`: train the regression recipes, evaluate them on the test split, print the table.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=runs/demo
rm -rf "$OUT"
for recipe in linear-sgd linear-adam mlp; do
  "$NNZOO" train --recipe "recipes/regression/$recipe.toml" --run-dir "$OUT/$recipe" --quiet
done
echo
echo "Boston housing, test split (76 districts, split seed 0), MEDV in k\$:"
"$NNZOO" eval "$OUT"/linear-sgd "$OUT"/linear-adam "$OUT"/mlp --split test --quiet
echo
echo "Figures:"
find "$OUT" -name '*.png' | sort
