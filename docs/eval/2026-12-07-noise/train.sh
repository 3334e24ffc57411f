#!/usr/bin/env bash
# Session 15 (#13): the shipped pair's recipe (from dnnscale-refine-c16-skip, seed 2, ratios
# 1.25-2.2, x264 CRF 18-40 in the loop, 2000 steps) with camera-like noise on half the crops
# (--noise 4: sigma uniform up to 4 8-bit levels, half of it low-passed). SCALED and agnostic
# twins run side by side, one thread each.
set -euo pipefail
cd "$(dirname "$0")/../../.."
source docs/eval/2026-12-07-noise/common.sh
NOISE=${NOISE:-4}
TAG=${TAG:-n4}
COMMON=(--data .cache/train/tiles --exclude $X --init models/dnnscale/dnnscale-refine-c16-skip.onnx
  --batch 16 --patch 96 --lr 5e-4 --seed 2 --threads 1 --val-every 500 --steps ${STEPS:-2000}
  --ratio-min 1.25 --ratio-max 2.2 --rate-control crf --qp-min 18 --qp-max 40 --noise "$NOISE")
for m in scaled agnostic; do
  $T "${COMMON[@]}" --mode $m --out $O/$TAG-$m.onnx --summary $O/$TAG-$m.summary.json \
    > $O/$TAG-$m.log 2>&1 &
done
wait
