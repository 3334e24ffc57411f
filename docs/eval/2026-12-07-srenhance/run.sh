#!/usr/bin/env bash
# #14, session 14: one change against the element's defaults on three clips (debug build).
#   run.sh l1    training-loss=l1, 100 kbit/s of patches  -> l1/
#   run.sh p50   50 kbit/s of patches                      -> p50/
set -euo pipefail
cd "$(dirname "$0")/../../.."
C=.cache/corpus/srenhance
OUT=docs/eval/2026-12-07-srenhance
case "${1:?usage: run.sh l1|p50}" in
  l1) extra=(--patch-kbps 100 --sr-props training-loss=l1) ;;
  p50) extra=(--patch-kbps 50) ;;
  *) echo "usage: run.sh l1|p50" >&2; exit 2 ;;
esac
mkdir -p "$OUT"
target/debug/srenhance-eval --clip $C/sr_trailer_1280x720_480f.y4m \
    --clip $C/sr_cockatoo_1280x720_280f.y4m --clip $C/sr_cuts_1280x720.y4m \
    --variants bicubic,generic,adaptive --out "$OUT/$1" "${extra[@]}"
