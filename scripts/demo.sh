#!/usr/bin/env bash
# The main job of `make demo`: spelling -> pronunciation (G2P) on the CMU Pronouncing Dictionary.
# First the models that ship with nnzoo, at once: what they are and score, words pronounced, Shakespeare and a poem
# written, the two apples told apart, and a test table computed from the shipped weights.
# Then the three G2P models trained live with short budgets (about 10 minutes in all on 2 CPU cores), evaluated
# on the test split with beam search, and the figures. The README's results come from the full recipes
# (scripts/g2p_results.sh, scripts/g2p_quality.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
NNZOO=${NNZOO:-.venv/bin/nnzoo}
OUT=runs/demo
rm -rf "$OUT"
echo "== The models that ship with nnzoo (nothing to train):"
"$NNZOO" list --pretrained
echo
echo "The shipped G2P model pronounces words it never saw (nnzoo predict g2p WORD...):"
"$NNZOO" predict g2p nnzoo zookeeper pneumonoultramicroscopic quixotically gnocchi
echo
echo "The shipped Shakespeare model writes (nnzoo predict charlm --prompt ...):"
"$NNZOO" predict charlm --prompt "ROMEO:" --length 240
echo
echo "The shipped poem model writes an acrostic on spring, summer, autumn, winter (nnzoo predict charlm --poem ...):"
"$NNZOO" predict charlm --poem 7x4 --acrostic 春夏秋冬
echo
echo "Which apple? The BiLSTM reads the context; the context-free MLP cannot (nnzoo predict tagging ...)."
echo "The last two are the notes' own sentences, which the corpus holds out of training:"
SENTENCES=("She baked an apple pie" "Apple launched a new iPhone" "I like eating apple" "Apple is a great company")
"$NNZOO" predict tagging "${SENTENCES[@]}"
"$NNZOO" predict tagging/apple-mlp "${SENTENCES[@]}"
echo
echo "Their test split, evaluated now from the shipped weights (the cards' figures):"
"$NNZOO" eval tagging/apple tagging/apple-mlp --split test --quiet
echo
declare -A STEPS=([gru-seq2seq]=600 [lstm-attention]=450 [transformer]=300)
for model in gru-seq2seq lstm-attention transformer; do
  echo "== training $model live (${STEPS[$model]} steps of 256 words; the README recipe runs for about 30 minutes)"
  "$NNZOO" train --recipe "g2p/$model" --set "train.max_steps=${STEPS[$model]}" \
    --set train.eval_every=150 --set train.warmup_steps=100 --run-dir "$OUT/$model" --quiet
done
echo
echo "CMU Pronouncing Dictionary, test split (6,391 words), beam search of 5:"
"$NNZOO" eval "$OUT"/gru-seq2seq "$OUT"/lstm-attention "$OUT"/transformer --split test --quiet
echo
echo "The attention model trained just now pronounces the same words:"
"$NNZOO" predict "$OUT/lstm-attention" nnzoo zookeeper pneumonoultramicroscopic quixotically gnocchi
echo
echo "Figures:"
find "$OUT" -name '*.png' -o -name 'samples_*.txt' | sort
