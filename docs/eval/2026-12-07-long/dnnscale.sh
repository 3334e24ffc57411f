#!/usr/bin/env bash
# Session 16 (#13): is the default under-trained? The shipped pair's recipe (models/dnnscale/
# MODEL_CARD.md) with a 5x longer codec-agnostic stage: C=16, one hidden layer, linear skip,
# 60000 steps instead of 12000 (lr 2e-3, seed 1), then 2000 SCALED steps (x264 CRF 18-40,
# projection surrogate, ratios 1.25-2.2, seed 2) and its codec-agnostic twin, relabelled to the
# element's ratio range 1.3-3.2 like the default.
#   train: the three runs      main: 8-clip eval against the default     codec-aware: the twins
set -euo pipefail
cd "$(dirname "$0")/../../.."
source docs/eval/2026-12-07-noise/common.sh
case "${1:-train}" in
  train)
    $T --data .cache/train/tiles --exclude $X --linear-skip --channels 16 --layers 1 --batch 16 \
      --patch 96 --lr 2e-3 --seed 1 --threads ${THREADS:-2} --mode agnostic --val-every 5000 \
      --steps ${STEPS:-60000} --out $O/long.onnx --summary $O/long.summary.json > $O/long.log 2>&1
    COMMON=(--data .cache/train/tiles --exclude $X --init $O/long.onnx --batch 16 --patch 96
      --lr 5e-4 --seed 2 --threads 1 --val-every 500 --steps 2000 --ratio-min 1.25 --ratio-max 2.2
      --rate-control crf --qp-min 18 --qp-max 40)
    for m in scaled agnostic; do
      $T "${COMMON[@]}" --mode $m --out $O/long-$m-raw.onnx --summary $O/long-$m.summary.json \
        > $O/long-$m.log 2>&1 &
    done
    wait
    for m in scaled agnostic; do
      $T --data .cache/train/tiles --exclude $X --init $O/long-$m-raw.onnx --steps 0 \
        --use-ratios 1.3:3.2 --out $O/long-$m.onnx > /dev/null
    done ;;
  main) $E "${EVAL8[@]}" --model default=$M/dnnscale.onnx --model long=$O/long-scaled.onnx \
          --compare long:default --out $O/eval-long-main ;;
  codec-aware) $E "${EVAL8[@]}" --codecs x264 --metrics psnr \
          --model long=$O/long-scaled.onnx --model long-agnostic=$O/long-agnostic.onnx \
          --compare long:long-agnostic --out $O/eval-long-ca ;;
esac
