#!/usr/bin/env bash
# The full `paper` protocol on the real CT-ICH v1.0.0 data, every model, on one CUDA GPU.
#
# Budget: 6 models x 5 folds x 100 epochs. Estimated (not yet measured on a GPU here) at about
# 5 s per epoch on one H100 for the resnet34 models (3,600 training windows of 160 x 160 and a
# validation pass over ~1,000 slices per epoch), so about 4 GPU-hours in all; the script stops
# at BUDGET (default 6h) and the same command with RESUME=1 continues from the checkpoints.
# Rows land in leaderboards/ctich-1.0.0__paper.csv with the GPU's name in the device column.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/ctich-1.0.0}
OUT=${OUT:-runs/ctich-paper-gpu}
BUDGET=${BUDGET:-6h}
extra=()
[ "${RESUME:-0}" = 1 ] && extra+=(--resume)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
timeout "$BUDGET" ichbench run --models all --protocol paper --data "$DATA" --device cuda --out "$OUT" \
  --leaderboard leaderboards "${extra[@]}"
