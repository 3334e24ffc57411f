#!/usr/bin/env bash
# Session 15 (#13): codec-aware against codec-agnostic at equal budget, both from scratch (the
# shipped pair are both continuations of one agnostic model, so their margin is only what 2000
# SCALED steps add). C=16, one hidden layer, linear skip, 14000 steps each, lr 2e-3, seed 1,
# ratios 1.25-3.2 (the element's range), SCALED with x264 CRF 18-40. One thread each, in parallel.
set -euo pipefail
cd "$(dirname "$0")/../../.."
source docs/eval/2026-12-07-noise/common.sh
COMMON=(--data .cache/train/tiles --exclude $X --linear-skip --channels 16 --layers 1 --batch 16
  --patch 96 --lr 2e-3 --seed 1 --threads 1 --val-every 2000 --steps ${STEPS:-14000}
  --ratio-min 1.25 --ratio-max 3.2 --rate-control crf --qp-min 18 --qp-max 40)
for m in scaled agnostic; do
  $T "${COMMON[@]}" --mode $m --out $O/fs-$m.onnx --summary $O/fs-$m.summary.json > $O/fs-$m.log 2>&1 &
done
wait
