#!/usr/bin/env bash
# Rebuild the committed CT-ICH reports of the native test from the committed row evidence (../runs/): the
# rows of each recipe are merged into one run directory (ichbench merge reads evidence folders), then
# reported. Run from anywhere with ichbench installed; it writes only under leaderboards/reports/.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=leaderboards/runs
reports=leaderboards/reports
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# merge NAME EVIDENCE...: one run directory of the given rows' evidence (one protocol hash).
merge() {
  local name=$1
  shift
  ichbench merge "$@" --out "$tmp/$name" --no-leaderboard >/dev/null
}

merge paper "$runs"/ctich-1.0.0__paper-f0baf238__*
merge cpu "$runs"/ctich-1.0.0__cpu-48ff44c6__*
merge seeds "$runs"/ctich-1.0.0__cpu-6e109bb3__*
for rung in 1-dicebce-3d5ae7a1 2-poly12-6a9bc276 3-bone-01d30e07 4-context-21a3ca93 5-foreground-8767d825; do
  merge "ladder-${rung%%-*}" "$runs"/ctich-1.0.0__ladder-"$rung"__*
done
# The finals as first run (resunet on AMD EPYC); resunet's second training (Intel Xeon, 2026-12-05) and its
# weights scored with the lesion stage have their own report.
merge ladder-6 "$runs"/ctich-1.0.0__ladder-6-flip-6aaab273__{unet__889da10ee2,nnunet-2d__699a721f62,resunet__1e5d37436c}
merge again "$runs"/ctich-1.0.0__ladder-6-flip-6aaab273__resunet__290181d409
merge lesions "$runs"/ctich-1.0.0__ladder-6-lesions-9c02c536__resunet__b21c88f2b3
merge cpu-finals "$runs"/ctich-1.0.0__cpu-48ff44c6__{unet,resunet,nnunet-2d}__*
merge cpu-unet "$runs"/ctich-1.0.0__cpu-48ff44c6__unet__*
merge ladder-unet-6 "$runs"/ctich-1.0.0__ladder-6-flip-6aaab273__unet__*
# The second ladder (resunet, issue 45): rung 0 is resunet's 3-seed cpu row, then each ladder2 rung found.
merge seeds-resunet "$runs"/ctich-1.0.0__cpu-6e109bb3__resunet__*
ladder2=("$tmp"/seeds-resunet)
for rung in 1-flip 2-fresh 3-norm 4-epochs24 5-grid 6-lesions; do
  found=("$runs"/ctich-1.0.0__ladder2-"$rung"-*__resunet__*)
  [ -e "${found[0]}" ] || continue
  merge "ladder2-${rung%%-*}" "${found[@]}"
  ladder2+=("$tmp/ladder2-${rung%%-*}")
done

ladder=("$tmp"/ladder-{1,2,3,4,5})
# Every row of the native test's table but resunet's second ladder-6-flip training (the seeds rows first, so
# each model's ladder starts at its cpu row).
# At 60 dpi: the figures of 22 rows at the default 90 dpi make a page of 2.4 MB, too large to commit.
ichbench report "$tmp"/paper "$tmp"/seeds "$tmp"/cpu "${ladder[@]}" "$tmp"/ladder-6 "$tmp"/lesions --dpi 60 \
  --out "$reports"/ctich-1.0.0__test-b9e07fa1
ichbench report "$tmp"/seeds --out "$reports"/ctich-1.0.0__cpu-6e109bb3-seeds
ichbench report "$tmp"/cpu-unet "${ladder[@]}" "$tmp"/ladder-unet-6 --out "$reports"/ctich-1.0.0__ladder-unet
ichbench report "$tmp"/cpu-finals "$tmp"/ladder-6 --out "$reports"/ctich-1.0.0__ladder-finals
# The lesion stage against the same weights without it: a paired test per subject (the ladder table).
ichbench report "$tmp"/again "$tmp"/lesions --out "$reports"/ctich-1.0.0__lesion-stage
# The second ladder: each rung against the one below, with its false lesions beside its Dice.
ichbench report "${ladder2[@]}" --out "$reports"/ctich-1.0.0__ladder2-resunet
