#!/bin/bash
# The last call of a training on a lent GPU machine (docs/training.md#on-a-lent-gpu-machine), once .carry/lol/
# holds every part made by scripts/lent_gpu_machine/prepare_gpu_carry.sh and .whl/ travels with it:
#   bash scripts/lent_gpu_machine/gpu_train.sh DEADLINE          # DEADLINE: seconds from the start by which all must be done
# 1. installs the wheels of .whl/ into /tmp/site and unpacks .carry/lol/ into datasets/LOL-v1/our485 (checked);
# 2. measures options/train/recommended_content_lol.yml's training speed, plain and fast (scripts/benchmarks/benchmark_train.py);
# 3. trains options/train/recommended_content_lol.yml (the recommended generator on its content losses alone, a warm
#    restart for the last 6/44 of the schedule) through the fast path (cache on the GPU, bf16, torch.compile) for as many
#    iterations as that speed fits into what is left of DEADLINE after a reserve for start-up, validations and
#    the last step, its schedule scaled to them, with 10 validations and checkpoints; stopped at DEADLINE minus
#    30 s whatever happens;
# 4. if 90 s are left, measures options/lol_gan.yml's speed, plain and fast.
# $OUT gets benchmark_recommended.txt, train.log, net_g_best.pth (the best validation's generator), net_g_last.pth
# and benchmark_lol_gan.txt, as far as they came (also when a step fails or is stopped).
# A rehearsal on a CPU: DEVICE=cpu INSTALL=0 PY=.venv/bin/python OUT=/tmp/out bash scripts/lent_gpu_machine/gpu_train.sh 400
set -euo pipefail
cd "$(dirname "$0")/../.."
DEADLINE=${1:?usage: gpu_train.sh DEADLINE_SECONDS}
PY=${PY:-python3}
OUT=${OUT:?set OUT to the folder for the results}
DEVICE=${DEVICE:-cuda}
OPTIONS=options/train/recommended_content_lol.yml
NAME=MSIAGAN_LOLv1_recommended_content_gpu
EXPERIMENT=experiments/$NAME
RESERVE=120  # seconds for the training's start-up and compilation, its 10 validations and the copies
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

collect() {  # whatever the training left, into $OUT
  local log best
  log=$(ls -t "$EXPERIMENT"/train_*.log 2>/dev/null | head -1) || true
  [ -n "$log" ] && cp "$log" "$OUT/train.log"
  best=$("$PY" scripts/metrics/best_checkpoint.py "$EXPERIMENT" 2>/dev/null) && echo "best on val: $best" &&
    cp "$EXPERIMENT/models/net_g_$best.pth" "$OUT/net_g_best.pth"
  [ -f "$EXPERIMENT/models/net_g_latest.pth" ] && cp "$EXPERIMENT/models/net_g_latest.pth" "$OUT/net_g_last.pth"
  return 0
}
trap collect EXIT

benchmark() {  # benchmark OPTIONS OUTPUT_FILE [ARGS...]
  "$PY" scripts/benchmarks/benchmark_train.py -opt "$1" --device "$DEVICE" --iters "$TIMED" --warmup 10 "${@:3}" | tee "$OUT/$2"
}

if [ "${INSTALL:-1}" = 1 ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi
[ -d datasets/LOL-v1/our485 ] || "$PY" scripts/lent_gpu_machine/pack_dataset.py unpack .carry/lol --out datasets/LOL-v1/our485
if [ "$DEVICE" = cuda ]; then
  "$PY" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' || { echo 'CUDA is not available' >&2; exit 1; }
  FAST=(datasets:train:cache=device train:mixed_precision=bf16 train:compile=true); TIMED=100
else
  FAST=(datasets:train:cache=memory); TIMED=3
fi

benchmark $OPTIONS benchmark_recommended.txt
IT_PER_S=$(sed -n 's/^fast (.*Mpx\/s, \([0-9.]*\) it\/s.*/\1/p' "$OUT/benchmark_recommended.txt")
[ -n "$IT_PER_S" ] || { echo 'no fast it/s in the benchmark output' >&2; exit 1; }
TRAIN_SECONDS=$((DEADLINE - SECONDS - RESERVE - 30))
[ "$TRAIN_SECONDS" -gt 30 ] || { echo "$TRAIN_SECONDS s left for training: give a later DEADLINE" >&2; exit 1; }
ITERS=$("$PY" -c "print(max(100, int($IT_PER_S * $TRAIN_SECONDS * 0.9) // 100 * 100))")
EVERY=$((ITERS / 10))
RESTART=$((ITERS * 6 / 44))  # the options' 38,000 + 6,000, scaled
echo "training $ITERS iterations ($IT_PER_S it/s measured, $TRAIN_SECONDS s), validating every $EVERY"
timeout -s INT $((DEADLINE - SECONDS - 30)) "$PY" msiagan/train.py -opt $OPTIONS --quiet \
    --force_yml name=$NAME "${FAST[@]}" train:total_iter=$ITERS "train:scheduler:periods=[$((ITERS - RESTART)),$RESTART]" \
    val:val_freq=$EVERY logger:save_checkpoint_freq=$EVERY logger:use_tb_logger=false || echo 'training stopped early'
collect

if [ $((DEADLINE - SECONDS)) -gt 90 ]; then
  benchmark options/lol_gan.yml benchmark_lol_gan.txt
fi
