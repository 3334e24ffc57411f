#!/usr/bin/env bash
# Session 15 (#13): the shipped pair's recipe with 192-px crops in batches of 8 (the same pixels per
# step ×2): x264 then codes each sample as a 87-154 px tile with more context for its intra
# prediction and rate control than the 96-px crops' 44-77 px tiles. SCALED and agnostic twins.
set -euo pipefail
cd "$(dirname "$0")/../../.."
source docs/eval/2026-12-07-noise/common.sh
COMMON=(--data .cache/train/tiles --exclude $X --init models/dnnscale/dnnscale-refine-c16-skip.onnx
  --batch 8 --patch 192 --lr 5e-4 --seed 2 --threads 1 --val-every 500 --steps ${STEPS:-2000}
  --ratio-min 1.25 --ratio-max 2.2 --rate-control crf --qp-min 18 --qp-max 40)
for m in scaled agnostic; do
  $T "${COMMON[@]}" --mode $m --out $O/p192-$m.onnx --summary $O/p192-$m.summary.json > $O/p192-$m.log 2>&1 &
done
wait
# evaluation: x264, PSNR-Y, the eight clips
$E "${EVAL8[@]}" --codecs x264 --metrics psnr --model p192=$O/p192-scaled.onnx --model p192-agnostic=$O/p192-agnostic.onnx \
  --compare p192:p192-agnostic --out $O/eval-p192
