#!/bin/bash
# The last call of a training on a lent GPU machine (docs/training.md#on-a-lent-gpu-machine), run in the repository
# root there once .carry/lol/ holds every part made by scripts/prepare_gpu_carry.sh and .whl/ travels with it:
#   bash scripts/gpu_train.sh SECONDS
# 1. installs the wheels of .whl/ into /tmp/site and unpacks .carry/lol/ into datasets/LOL-v1/our485 (checked);
# 2. measures the recommended options' training speed, plain and fast (scripts/benchmark_train.py);
# 3. trains options/lol_gan_recommended.yml through the fast path (cache on the GPU, bf16, torch.compile) for as
#    many iterations as that speed fits into SECONDS, with 10 validations and checkpoints;
# 4. measures options/lol_gan.yml's speed, plain and fast (the training-speed issue's figure).
# $OUT gets benchmark_recommended.txt, train.log, net_g_best.pth (the best validation's generator), net_g_last.pth
# and benchmark_lol_gan.txt. A rehearsal on a CPU: INSTALL=0 PY=.venv/bin/python OUT=/tmp/out bash ... 60
set -euo pipefail
SECONDS_FOR_TRAINING=${1:?usage: gpu_train.sh SECONDS}
PY=${PY:-python3}
OUT=${OUT:?set OUT to the folder for the results}
NAME=MSIAGAN_LOLv1_recommended_gpu
export PYTHONUNBUFFERED=1
if [ "${INSTALL:-1}" = 1 ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi
[ -d datasets/LOL-v1/our485 ] || "$PY" scripts/pack_dataset.py unpack .carry/lol --out datasets/LOL-v1/our485
if "$PY" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
  DEVICE=cuda; FAST=(datasets:train:cache=device train:mixed_precision=bf16 train:compile=true); ITERS_TIMED=100
else
  DEVICE=cpu; FAST=(datasets:train:cache=memory); ITERS_TIMED=3
fi

"$PY" scripts/benchmark_train.py -opt options/lol_gan_recommended.yml --device "$DEVICE" --iters $ITERS_TIMED \
    --warmup 10 | tee "$OUT/benchmark_recommended.txt"
IT_PER_S=$(sed -n 's/^fast (.*Mpx\/s, \([0-9.]*\) it\/s.*/\1/p' "$OUT/benchmark_recommended.txt")
ITERS=$("$PY" -c "print(max(100, int($IT_PER_S * $SECONDS_FOR_TRAINING * 0.85) // 100 * 100))")
EVERY=$((ITERS / 10))
echo "training $ITERS iterations ($IT_PER_S it/s measured, $SECONDS_FOR_TRAINING s), validating every $EVERY"

"$PY" msiagan/train.py -opt options/lol_gan_recommended.yml --quiet --force_yml name=$NAME "${FAST[@]}" \
    train:total_iter=$ITERS "train:scheduler:periods=[$ITERS]" val:val_freq=$EVERY logger:save_checkpoint_freq=$EVERY \
    logger:use_tb_logger=false
EXPERIMENT=experiments/$NAME
cp "$(ls -t $EXPERIMENT/train_*.log | head -1)" "$OUT/train.log"
BEST=$("$PY" scripts/best_checkpoint.py "$EXPERIMENT")
echo "best on val: $BEST"
cp "$EXPERIMENT/models/net_g_$BEST.pth" "$OUT/net_g_best.pth"
cp "$EXPERIMENT/models/net_g_latest.pth" "$OUT/net_g_last.pth"

"$PY" scripts/benchmark_train.py -opt options/lol_gan.yml --device "$DEVICE" --iters $ITERS_TIMED --warmup 10 \
    | tee "$OUT/benchmark_lol_gan.txt"
