#!/usr/bin/env bash
# Session 15 (#13): the noise-trained SCALED model against the shipped default and ffmpeg's
# Lanczos on the seven clips of EVAL.md plus the held-out screencast (x264 + VP9, all metrics),
# then the codec-aware comparison of the noise-trained twins (x264, PSNR-Y).
set -euo pipefail
cd "$(dirname "$0")/../../.."
source docs/eval/2026-12-07-noise/common.sh
TAG=${TAG:-n4}
case "${1:-main}" in
  main) $E "${EVAL8[@]}" --model default=$M/dnnscale.onnx --model $TAG=$O/$TAG-scaled.onnx \
          --compare $TAG:default --out $O/eval-$TAG-main ;;
  codec-aware) $E "${EVAL8[@]}" --codecs x264 --metrics psnr \
          --model $TAG=$O/$TAG-scaled.onnx --model $TAG-agnostic=$O/$TAG-agnostic.onnx \
          --model scaled=$M/dnnscale-refine-scaled.onnx --model agnostic=$M/dnnscale-refine-agnostic-low.onnx \
          --compare $TAG:$TAG-agnostic --compare scaled:agnostic --out $O/eval-$TAG-ca ;;
esac
