#!/usr/bin/env bash
# Session 15 (#13): codec-aware against codec-agnostic at equal budget, x264, PSNR-Y, eight clips:
# the shipped pair (2000-step continuations of one agnostic model), the noise-trained pair
# (train.sh) and the from-scratch pair (scratch.sh).
set -euo pipefail
cd "$(dirname "$0")/../../.."
source docs/eval/2026-12-07-noise/common.sh
$E "${EVAL8[@]}" --codecs x264 --metrics psnr \
  --model scaled=$M/dnnscale-refine-scaled.onnx --model agnostic=$M/dnnscale-refine-agnostic-low.onnx \
  --model n4=$O/n4-scaled.onnx --model n4-agnostic=$O/n4-agnostic.onnx \
  --model fs=$O/fs-scaled.onnx --model fs-agnostic=$O/fs-agnostic.onnx \
  --compare scaled:agnostic --compare n4:n4-agnostic --compare fs:fs-agnostic --out $O/eval-ca
