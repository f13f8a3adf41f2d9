#!/usr/bin/env bash
# The GPU check, for the day a GPU is lent: one script that fits a 15-minute device window (the machine's
# start included), its steps in the order of what they are worth.
#
#   bash bench/gpu_check.sh                (on the GPU machine, from the checkout's root)
#   STEPS=gpu bash bench/gpu_check.sh      (steps 1 to 4 only; STEPS=paper: 1, 5 and 6 only)
#
# Steps, each timed and logged to $OUT/gpu_check.log (OUT defaults to ./gpu-check):
#   1. install ichbench from the checkout (no build isolation: the machine has no registry; wheels of
#      packages its image lacks are installed first from .whl/ when that folder exists);
#   2. the tests marked `cuda`;
#   3. the quick protocol on CUDA and on the CPU, and their paper Dice compared model by model
#      (tolerance TOLERANCE, default 0.10 absolute: bf16 on the GPU against fp32 on the CPU, 12 test
#      subjects with hemorrhage; a larger gap is a bug to look at, not noise);
#   4. training windows per second of every built-in at the paper's settings (160 px, batch 32, bf16,
#      fused Adam) and the share of the GPU's peak bf16 rate that is (bench/throughput.py);
#   5. one `paper` job (PAPER_JOBS, default unet:0) for whatever is left of BUDGET_MINUTES, when the data
#      is there: DATA, or the tar parts of bench/pack_data.py in PARTS (each call to a lent machine carries
#      at most 64 MiB, so the data comes in parts, one a call: docs/clusters.md); the finished job's
#      evidence is packed into $OUT/paper-evidence.tar.gz, which `ichbench merge` joins with the evidence
#      of other sittings (a job the clock stopped starts over next time);
#   6. `ichbench plan` of the paper protocol calibrated on this GPU, if a minute is left.
# Every step that needs no GPU runs in the CPU tests with DEVICE=cpu and tiny settings
# (tests/test_gpu_check.py); the variables below are how.
set -uo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
OUT=${OUT:-gpu-check}
PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
INSTALL=${INSTALL:-1}
BUDGET_MINUTES=${BUDGET_MINUTES:-11}  # of the 15-minute window: about 3 go to the machine's start
STEPS=${STEPS:-all}
TOLERANCE=${TOLERANCE:-0.10}
QUICK_PROTOCOL=${QUICK_PROTOCOL:-quick}
QUICK_MODELS=${QUICK_MODELS:-all}
PAPER_PROTOCOL=${PAPER_PROTOCOL:-paper}
THROUGHPUT_STEPS=${THROUGHPUT_STEPS:-10}
THROUGHPUT_MODELS=${THROUGHPUT_MODELS:-all}
DATA=${DATA:-../shared/ctich-1.0.0}
PARTS=${PARTS:-.gpu-data}
PAPER_JOBS=${PAPER_JOBS:-unet:0}
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
export PYTHONUNBUFFERED=1

step() { echo "== [$(( $(date +%s) - START )) s] $*" | tee -a "$LOG"; }
left_minutes() { echo $(( BUDGET_MINUTES - ($(date +%s) - START) / 60 )); }

step "machine"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"; } | tee -a "$LOG"

if [ "$INSTALL" = 1 ]; then
  step "1. install from the checkout"
  if [ -d .whl ]; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile .whl/*.whl 2>&1 | tail -3 | tee -a "$LOG"
  fi
  "$PYTHON" -m pip install -q --no-deps --no-build-isolation . 2>&1 | tail -3 | tee -a "$LOG"
fi
# -P: the checkout's root is the working directory, and its uncompiled ichbench/ must not shadow the
# installed package (python -m would put it first on sys.path).
ICHBENCH=("$PYTHON" -P -m ichbench.cli)

if [ "$STEPS" != paper ]; then
  step "2. tests marked cuda"
  "$PYTHON" -P -m pytest -q -m cuda tests 2>&1 | tail -5 | tee -a "$LOG"

  step "3. quick protocol on $DEVICE and on the CPU"
  for dev in "$DEVICE" cpu; do
    rm -rf "$OUT/quick-$dev"
    "${ICHBENCH[@]}" run --models "$QUICK_MODELS" --protocol "$QUICK_PROTOCOL" --device "$dev" \
      --out "$OUT/quick-$dev" --no-leaderboard 2>&1 | tail -15 | tee -a "$LOG"
  done
  "$PYTHON" bench/compare_dice.py "$OUT/quick-cpu" "$OUT/quick-$DEVICE" --tolerance "$TOLERANCE" 2>&1 | tee -a "$LOG"

  step "4. training throughput at the $PAPER_PROTOCOL protocol's settings, bf16, fused Adam"
  "$PYTHON" bench/throughput.py --protocol "$PAPER_PROTOCOL" --device "$DEVICE" --models "$THROUGHPUT_MODELS" \
    --steps "$THROUGHPUT_STEPS" --json \
    2>>"$LOG" | tee "$OUT/throughput.jsonl" | tee -a "$LOG"

fi

if [ "$STEPS" != gpu ] && [ ! -d "$DATA" ] && [ -f "$PARTS/manifest.json" ]; then
  step "5. data from the parts in $PARTS"
  DATA="$PARTS/data"
  "$PYTHON" bench/pack_data.py unpack "$PARTS" "$DATA" 2>&1 | tee -a "$LOG" || rm -rf "$DATA"
fi
if [ "$STEPS" = gpu ]; then
  :
elif [ -d "$DATA" ]; then
  minutes=$(( $(left_minutes) - 1 ))
  if [ "$minutes" -ge 1 ]; then
    step "5. $PAPER_PROTOCOL jobs $PAPER_JOBS for $minutes minutes"
    RUN=${PAPER_RUN:-runs/gpu-paper}
    resume=(); [ -f "$RUN/run.json" ] && resume=(--resume)
    "${ICHBENCH[@]}" run --jobs "$PAPER_JOBS" --protocol "$PAPER_PROTOCOL" --data "$DATA" --device "$DEVICE" \
      --out "$RUN" --max-minutes "$minutes" --no-leaderboard "${resume[@]}" 2>&1 | tail -8 | tee -a "$LOG"
    # The finished jobs' evidence (tens of KB a job) comes back; checkpoints (hundreds of MB) cannot, so
    # a job the clock stopped starts again on the next machine.
    "${ICHBENCH[@]}" evidence "$RUN" --out "$OUT/paper-evidence" 2>&1 | tee -a "$LOG"
    tar -czf "$OUT/paper-evidence.tar.gz" -C "$OUT" paper-evidence && rm -rf "$OUT/paper-evidence"
  else
    step "5. no minutes left for $PAPER_PROTOCOL jobs"
  fi
  if [ "$(left_minutes)" -ge 1 ]; then
    step "6. plan of $PAPER_PROTOCOL on $DATA, calibrated on $DEVICE"
    "${ICHBENCH[@]}" plan --models all --protocol "$PAPER_PROTOCOL" --data "$DATA" --device "$DEVICE" --json \
      >"$OUT/plan.json" 2>>"$LOG" && "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); \
print(f\"{d['total_pflop']:.1f} PFLOP, {d['hours_here']:.2f} h here\")" "$OUT/plan.json" | tee -a "$LOG"
  else
    step "6. no minute left for the plan"
  fi
else
  step "5-6. skipped: no data at $DATA and no complete parts in $PARTS (bench/pack_data.py, docs/clusters.md)"
fi
step "done"
