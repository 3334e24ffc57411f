#!/usr/bin/env bash
# Session 22 (#13): two clips no model, clip or decision had seen (scripts/fetch-eval-clips.sh:
# heldout_flower, a phone photo with sensor noise; heldout_solvay, a scanned film photograph),
# under the hidden check's protocol (x264 CRF 20-35 and VP9, ratios 1.5x/2x/3x, bicubic client).
#   train: session 21's r32 pair again (SCALED and its codec-agnostic twin, CRF 20-35, ratios
#          1.25-3.2; docs/eval/2026-12-07-crf/run.sh), and r32 relabelled to the element's range
#   main:  the default and r32 against ffmpeg's Lanczos, every metric, both codecs
#   codec-aware: the shipped pair and the r32 pair at equal budget, x264 PSNR-Y
set -euo pipefail
cd "$(dirname "$0")/../../.."
source docs/eval/2026-12-07-noise/common.sh
R=docs/eval/2026-12-07-heldout
HELD=heldout_flower_1280x720_30f,heldout_solvay_1280x720_30f
P=(--clips "$HELD" --frames 30 --sizes 1.5,2,3 --crfs 20,25,30,35 --vp9-crfs 32,38,44,50
  --vp9-deadline realtime --vp9-cpu-used 8 --jobs 2 --anchors ffmpeg --no-crosscheck)
BASE=(--data .cache/train/tiles --exclude $X --init $M/dnnscale-refine-c16-skip.onnx --batch 16
  --patch 96 --lr 5e-4 --seed 2 --threads 1 --val-every 500 --steps 2000 --rate-control crf)
mkdir -p "$O"
case "$1" in
  train)
    $T "${BASE[@]}" --ratio-min 1.25 --ratio-max 3.2 --qp-min 20 --qp-max 35 --mode scaled \
      --out $O/r32-scaled.onnx --summary $O/r32-scaled.summary.json
    $T "${BASE[@]}" --ratio-min 1.25 --ratio-max 3.2 --mode agnostic \
      --out $O/r32-agnostic.onnx --summary $O/r32-agnostic.summary.json
    $T --data .cache/train/tiles --exclude $X --init $O/r32-scaled.onnx --steps 0 \
      --use-ratios 1.3:3.2 --out $O/r32.onnx ;;
  main)
    $E "${P[@]}" --model default=$M/dnnscale.onnx --model r32=$O/r32.onnx --out $R/main ;;
  codec-aware)
    $E "${P[@]}" --codecs x264 --metrics psnr --model scaled=$M/dnnscale-refine-scaled.onnx \
      --model agnostic=$M/dnnscale-refine-agnostic-low.onnx --model r32=$O/r32-scaled.onnx \
      --model r32-agnostic=$O/r32-agnostic.onnx --compare scaled:agnostic --compare r32:r32-agnostic \
      --out $R/codec-aware ;;
esac
