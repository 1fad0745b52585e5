#!/usr/bin/env bash
# From train.py's output to the shipped folder and its figures:
#   bash tools/train/ship.sh DATA_DIR TRAIN_OUT
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=$1 RUN=$2 MODEL=models/nano-fortunes
.venv/bin/python tools/train/export.py "$RUN" "$MODEL"
cp "$DATA/heldout.txt" "$MODEL/heldout.txt"
.venv/bin/python tools/train/plot_loss.py "$RUN/log.jsonl" "$MODEL/loss.html" "$RUN.log"
.venv/bin/python test/fixtures/make_trained_golden.py
node dist/bench/quality-table.js "$MODEL" --json "$RUN/quality.json" | tee "$RUN/quality.md"
