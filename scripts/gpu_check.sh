#!/usr/bin/env bash
# One command on a GPU machine: is nnzoo right and fast on CUDA? About 8 minutes on one GPU.
#
#   bash scripts/gpu_check.sh                            # on a CUDA machine, after `make setup`
#   GPU_CHECK_DEVICE=cpu bash scripts/gpu_check.sh --tiny  # a dry run of every step on the CPU, in a few minutes
#
# Steps (each with a time limit; one that fails is recorded and the rest still run):
#   env          the GPU, its compute capability, bf16 support, torch and CUDA versions
#   equivalence  the equivalence tests of every layer against torch.nn (float64 and float32), run on the GPU:
#                recurrent (all three paths), attention and the Transformer, convolution and pooling
#   no-sync      the trainer's steps never wait for the host between reads (CUDA's sync debug mode as an error)
#   recurrent    benchmarks/recurrent.py: a training step of our paths against cuDNN, as ratios
#   attention    benchmarks/attention.py: MultiheadAttention and the encoder layer against PyTorch's kernels
#   compile      benchmarks/task_steps.py: training steps of task models, eager vs train.compile=true
#   g2p-*        a short G2P training of each encoder-decoder: wall time and validation PER
#   parallel     `nnzoo experiment parallel`: time against sequence length, RNN vs Transformer
#   ddp          a one-GPU DistributedDataParallel run under torchrun (NCCL)
# and writes $OUT/summary.json and $OUT/summary.md (scripts/gpu_check_summary.py), the table for docs/gpu.md.
set -uo pipefail
cd "$(dirname "$0")/.."

DEVICE=${GPU_CHECK_DEVICE:-cuda}
OUT=${GPU_CHECK_OUT:-artifacts/gpu-check}
PYTHON=${PYTHON:-.venv/bin/python}
TINY=0
[ "${1:-}" = "--tiny" ] && TINY=1
G2P_STEPS=$([ $TINY = 1 ] && echo 20 || echo 1000)
DDP_STEPS=$([ $TINY = 1 ] && echo 10 || echo 200)
BUDGET=$([ $TINY = 1 ] && echo tiny || echo small)
QUICK=$([ $TINY = 1 ] && echo --quick || echo "--processes 1 --repeats 9")
COMPILE=$([ $TINY = 1 ] && echo "--only regression/mlp --steps 12 --warmup 3" ||
  echo "--only classify-images/cnn charlm/transformer g2p/transformer --steps 40")

rm -rf "$OUT" && mkdir -p "$OUT/runs"
: > "$OUT/steps.jsonl"

step() {  # step NAME SECONDS COMMAND...: run it with a time limit, its output in $OUT/NAME.log
  local name=$1 limit=$2
  shift 2
  echo "== $name"
  local start=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  printf '{"step": "%s", "rc": %d, "seconds": %d}\n' "$name" "$rc" $((SECONDS - start)) >> "$OUT/steps.jsonl"
  [ $rc = 0 ] || echo "   failed ($rc): see $OUT/$name.log"
}

step env 60 "$PYTHON" -c "
import json, platform, torch
cuda = torch.cuda.is_available()
info = {'device': '$DEVICE', 'torch': torch.__version__, 'cuda': torch.version.cuda, 'python': platform.python_version()}
if cuda:
    info.update(gpu=torch.cuda.get_device_name(), capability='.'.join(map(str, torch.cuda.get_device_capability())),
                bf16=torch.cuda.is_bf16_supported(), memory_gib=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1))
json.dump(info, open('$OUT/env.json', 'w'), indent=1)
print(info)"

NNZOO_TEST_DEVICE=$DEVICE step equivalence 240 "$PYTHON" -m pytest -q -p no:cacheprovider -o addopts="" \
  tests/test_nn_recurrent.py tests/test_nn_attention.py tests/test_nn_convolution.py -k equal \
  --junitxml "$OUT/equivalence.xml"
NNZOO_TEST_DEVICE=$DEVICE step no-sync 120 "$PYTHON" -m pytest -q -p no:cacheprovider -o addopts="" \
  tests/test_trainer.py -k "never_wait or compile"

# shellcheck disable=SC2086  # $QUICK is two words on purpose
step recurrent 240 "$PYTHON" benchmarks/recurrent.py --device "$DEVICE" $QUICK --json "$OUT/recurrent.json"
step attention 240 "$PYTHON" benchmarks/attention.py --device "$DEVICE" --quick --json "$OUT/attention.json"
# shellcheck disable=SC2086  # $COMPILE is several words on purpose
step compile 180 "$PYTHON" benchmarks/task_steps.py --device "$DEVICE" $COMPILE

for model in gru-seq2seq lstm-attention transformer; do
  step "g2p-$model" 150 "$PYTHON" -m nnzoo train --recipe "g2p/$model" --device "$DEVICE" --quiet \
    --set train.max_steps="$G2P_STEPS" --set train.eval_every="$G2P_STEPS" --run-dir "$OUT/runs/g2p-$model"
done

step parallel 240 "$PYTHON" -m nnzoo experiment parallel --budget "$BUDGET" --device "$DEVICE" --quiet \
  --run-dir "$OUT/runs/experiments"

step ddp 180 "$PYTHON" -m torch.distributed.run --standalone --nproc-per-node 1 -m nnzoo.cli train regression \
  --device "$DEVICE" --quiet --set train.max_steps="$DDP_STEPS" --run-dir "$OUT/runs/ddp"

"$PYTHON" scripts/gpu_check_summary.py "$OUT"
