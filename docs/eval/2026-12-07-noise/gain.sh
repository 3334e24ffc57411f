#!/usr/bin/env bash
# Session 15 (#13): the shipped default with its correction of the Lanczos picture scaled by
# 0.5 and 0.75 (dnnscale-train --steps 0 --residual-gain G), against the default and Lanczos,
# on the eight clips (x264 + VP9, VMAF NEG and PSNR-Y).
set -euo pipefail
cd "$(dirname "$0")/../../.."
source docs/eval/2026-12-07-noise/common.sh
for g in 0.5 0.75; do
  $T --data .cache/train/tiles --exclude $X --init $M/dnnscale.onnx --steps 0 --use-ratios 1.3:3.2 \
    --residual-gain $g --out $O/g$g.onnx > /dev/null
done
$E "${EVAL8[@]}" --metrics vmaf_neg,psnr \
  --model default=$M/dnnscale.onnx --model g0.5=$O/g0.5.onnx --model g0.75=$O/g0.75.onnx \
  --compare g0.5:default --compare g0.75:default --out $O/eval-gain
