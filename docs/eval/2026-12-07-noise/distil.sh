#!/usr/bin/env bash
# Session 15 (#13): LoResNet's teacher -> student distillation, run for the first time.
# Teacher: C=32, two hidden layers, linear skip (5184 MAC per output pixel, 5.8x the default):
# 4000 agnostic steps from scratch (lr 2e-3, ratios 1.25-3.2), then 2000 SCALED steps with the
# shipped recipe (x264 CRF 18-40, ratios 1.25-2.2, lr 5e-4). Student: the default's architecture
# (C=16, one hidden layer), from the same start as the shipped SCALED model
# (dnnscale-refine-c16-skip), 2000 distillation steps at the same lr and ratios: the shipped
# SCALED continuation's budget, with the teacher in place of x264.
set -euo pipefail
cd "$(dirname "$0")/../../.."
source docs/eval/2026-12-07-noise/common.sh
D=(--data .cache/train/tiles --exclude $X --batch 16 --patch 96 --threads ${THREADS:-1} --val-every 1000)
$T "${D[@]}" --linear-skip --channels 32 --layers 2 --lr 2e-3 --seed 1 --steps 4000 \
  --ratio-min 1.25 --ratio-max 3.2 --mode agnostic --out $O/t32-agnostic.onnx \
  --summary $O/t32-agnostic.summary.json > $O/t32-agnostic.log 2>&1
$T "${D[@]}" --init $O/t32-agnostic.onnx --lr 5e-4 --seed 2 --steps 2000 --ratio-min 1.25 --ratio-max 2.2 \
  --mode scaled --rate-control crf --qp-min 18 --qp-max 40 --out $O/t32-scaled.onnx \
  --summary $O/t32-scaled.summary.json > $O/t32-scaled.log 2>&1
$T "${D[@]}" --init models/dnnscale/dnnscale-refine-c16-skip.onnx --lr 5e-4 --seed 2 --steps 2000 \
  --ratio-min 1.25 --ratio-max 2.2 --teacher $O/t32-scaled.onnx --out $O/s16-distil.onnx \
  --summary $O/s16-distil.summary.json > $O/s16-distil.log 2>&1
# evaluation: the teacher and the student against the default and Lanczos, eight clips, both codecs
$E "${EVAL8[@]}" --metrics vmaf_neg,psnr \
  --model default=$M/dnnscale.onnx --model teacher=$O/t32-scaled.onnx --model student=$O/s16-distil.onnx \
  --compare student:default --compare teacher:default --out $O/eval-distil
