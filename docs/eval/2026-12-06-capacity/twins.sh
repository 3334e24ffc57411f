#!/usr/bin/env bash
set -euo pipefail
cd /work/main
T=target/release/dnnscale-train
X=lomiri16_seeding,lomiri20_kleiber,lomiri16_picosdeeuropa
COMMON_T=(--data .cache/train/tiles --exclude $X --init ${INIT:-/tmp/tr/t24.onnx} --batch 16 --patch 96
  --lr 5e-4 --seed 2 --threads 1 --ratio-min 1.25 --ratio-max 2.2 --rate-control crf --qp-min 18 --qp-max 40)
TAG=${TAG:-24}
for m in agnostic scaled; do
  $T "${COMMON_T[@]}" --val-every 500 --steps ${STEPS:-2000} --mode $m \
    --out /tmp/tr/tw$TAG-$m.onnx --summary /tmp/tr/tw$TAG-$m.summary.json > /tmp/tr/tw$TAG-$m.log 2>&1
done
