#!/bin/bash
# Prepare, here, what a lent GPU machine needs for scripts/lent_gpu_machine/gpu_train.sh (docs/training.md#on-a-lent-gpu-machine):
# the Python 3.12 wheels it lacks in .whl/ (basicsr, built here, and its pure or manylinux needs), and LOL-v1's
# our485 (datasets/LOL-v1/our485, from scripts/data_preparation/prepare_lol.py) in parts of at most 54 MiB in .carry/lol/.
#   bash scripts/lent_gpu_machine/prepare_gpu_carry.sh          # with .venv/bin/python; or: PY=python3 bash scripts/...
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
rm -rf .whl && mkdir .whl
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w .whl basicsr==1.4.2
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl addict==2.4.0 yapf==0.43.0 platformdirs==4.14.9 lmdb==3.0.0 future==1.0.0
"$PY" scripts/lent_gpu_machine/pack_dataset.py pack datasets/LOL-v1/our485 --out .carry/lol --part-mib 54 --force
du -sh .whl .carry/lol/*
