#!/usr/bin/env bash
# Session 17 (#13): the default against ffmpeg's Lanczos under the protocol of the issue's hidden
# check rather than EVAL.md's: x264 CRF 20-35 (EVAL.md uses 23-38), ratios 1.5x, 2x and 3x of every
# source (EVAL.md's 720p sources have 1.33x, 2x and 2.67x), eight clips, bicubic client.
#   main: x264 all metrics + VP9 (EVAL.md's VP9 settings)
set -euo pipefail
cd "$(dirname "$0")/../../.."
source docs/eval/2026-12-07-noise/common.sh
R=docs/eval/2026-12-07-hidden
HIDDEN=(--clips "$CLIPS" --frames 30 --sizes 1.5,2,3 --crfs 20,25,30,35 --vp9-crfs 32,38,44,50
  --vp9-deadline realtime --vp9-cpu-used 8 --jobs 2 --anchors ffmpeg --no-crosscheck)
case "${1:-main}" in
  main) $E "${HIDDEN[@]}" --model default=$M/dnnscale.onnx --out $R/${TAG:-main} ;;
  model) $E "${HIDDEN[@]}" --model default=$M/dnnscale.onnx --model "$2" --out $R/${TAG:-model} ;;
esac
# codec-aware: the shipped SCALED model against its codec-agnostic twin (equal budget), x264 PSNR-Y
if [ "${1:-}" = codec-aware ]; then
  $E "${HIDDEN[@]}" --codecs x264 --metrics psnr --model scaled=$M/dnnscale-refine-scaled.onnx \
    --model agnostic=$M/dnnscale-refine-agnostic-low.onnx --compare scaled:agnostic --out $R/codec-aware
fi
