#!/usr/bin/env bash
# Session 13's srenhance tries (models/srenhance/EVAL.md, "Session 13"): one change at a time
# against the session-9 defaults, at the 100 kbit/s of patches. Reports in the folders
# beside this script. Run from the repository root after scripts/run-srenhance-eval.sh has built
# the clips (.cache/corpus/srenhance) and the tools.
set -euo pipefail
C=.cache/corpus/srenhance
OUT=docs/eval/2026-12-06-srenhance
sub() {  # name, extra srenhance-eval options: the three clips where (f) lost most
  local n="$1"; shift
  target/debug/srenhance-eval --clip $C/sr_trailer_1280x720_480f.y4m \
    --clip $C/sr_cockatoo_1280x720_280f.y4m --clip $C/sr_cuts_1280x720.y4m \
    --patch-kbps 100 --variants bicubic,generic,adaptive --out "$OUT/$n" "$@"
}
# 5x the training steps, on all five clips
EVAL_OUT="$OUT/s100" bash scripts/run-srenhance-eval.sh --patch-kbps 100 \
  --variants bicubic,generic,adaptive --steps-per-second 100
sub q85 --patch-props jpeg-quality=85
# A generic model of twice the capacity (C = 16, one hidden layer), same recipe as the shipped one
target/debug/srenhance-train --data .cache/train/tiles --out /tmp/c16l1.onnx --steps 8000 \
  --batch 16 --crop 48 --channels 16 --layers 1 --lr 3e-3 --val-every 4000
sub c16l1 --sr-props model=/tmp/c16l1.onnx
sub biases --sr-props adapt-params=biases
sub last --sr-props adapt-params=last-layer
# VMAF beside PSNR (srenhance-eval reports it from this session on), defaults
sub vmaf
