#!/usr/bin/env bash
# The README's seismic-inversion comparison (the recipes seismic/*): the same U-Net with one head (velocity) and with two
# (velocity + edges), the same data and budget, side by side with one CPU thread each; then the test split (1,000
# examples) as a Markdown table with the 1-D baseline. A second pair checks the result: the two-head model with the
# edges' loss weighted 0.1 instead of 1, and the single-head model with another seed. Runs that already have a
# checkpoint are resumed. About 45 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=${OUT:-runs/seismic}

source scripts/lib.sh

.venv/bin/python -c "from nnzoo.tasks.seismic import Seismic; print(Seismic.prepare_data())"  # generate the data once
OMP_NUM_THREADS=1 train_or_resume "$OUT/velocity-only" --recipe seismic/velocity-only & first=$!
OMP_NUM_THREADS=1 train_or_resume "$OUT/two-heads" --recipe seismic/two-heads & second=$!
wait "$first" "$second"
OMP_NUM_THREADS=1 train_or_resume "$OUT/velocity-only-seed1" --recipe seismic/velocity-only --seed 1 &
first=$!
OMP_NUM_THREADS=1 train_or_resume "$OUT/two-heads-weight0.1" --recipe seismic/two-heads \
  --set model.edge_weight=0.1 & second=$!
wait "$first" "$second"
echo "Seismic inversion, test split:"
"$NNZOO" eval "$OUT"/{velocity-only,velocity-only-seed1,two-heads,two-heads-weight0.1} --split test --markdown --quiet
