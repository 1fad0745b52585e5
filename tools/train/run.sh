#!/usr/bin/env bash
# The whole recipe of models/nano-fortunes, from a clone with .venv (tools/python-env.sh) and dist/ built:
#   bash tools/train/run.sh [MINUTES]
# 1. Debian packages with the text (needs root: apt-get), 2. the corpus, 3. tokenizer + training
# (nice 19, 2 threads, a wall-clock budget), 4. the shipped folder, loss curve, golden fixture and
# quality figures. Steps 1-3 take the budget; step 4 a few minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
MINUTES=${1:-65}
BUILD=build/train
if [ "$(id -u)" = 0 ]; then
  apt-get install -y fortunes fortunes-de fortunes-es fortunes-it debian-reference-fr debian-faq-fr >/dev/null
fi
.venv/bin/python tools/train/prepare_data.py "$BUILD/data"
nice -n 19 .venv/bin/python tools/train/train.py "$BUILD/data" "$BUILD/run" --minutes "$MINUTES" --hidden 128 --lr 2e-3 | tee "$BUILD/run.log"
bash tools/train/ship.sh "$BUILD/data" "$BUILD/run"
