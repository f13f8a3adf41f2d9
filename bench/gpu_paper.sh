#!/usr/bin/env bash
# The full `paper` protocol on the real CT-ICH v1.0.0 data, every model, on one CUDA GPU, in slices
# that fit a short allocation.
#
# Budget: `ichbench plan --models all --protocol paper --data DATA` counts 533 PFLOP for the 25 learned
# jobs (validation is now 4 to 20 percent of the training windows per epoch), a lower bound of 9 minutes
# at an H100's peak bf16 rate; at a realistic 30 percent of peak, about half an hour. Not yet measured on
# a GPU here. MINUTES (default 50) bounds one sitting: the run stops cleanly at an epoch boundary (exit
# 3) and the same command continues from the checkpoints. When every job is done the rows land in
# leaderboards/ with the GPU's name in the device column, and the evidence goes beside them.
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/ctich-1.0.0}
OUT=${OUT:-runs/ctich-paper-gpu}
MINUTES=${MINUTES:-50}
resume=()
[ -f "$OUT/run.json" ] && resume=(--resume)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
ichbench plan --models all --protocol paper --data "$DATA" --device cuda
ichbench run --models all --protocol paper --data "$DATA" --device cuda --out "$OUT" \
  --max-minutes "$MINUTES" --leaderboard leaderboards "${resume[@]}"
status=$?
if [ "$status" -eq 0 ]; then
  ichbench evidence "$OUT" --out "leaderboards/runs/ctich-1.0.0__paper-gpu"
elif [ "$status" -eq 3 ]; then
  echo "stopped at the time limit; run this script again to continue"
fi
exit "$status"
