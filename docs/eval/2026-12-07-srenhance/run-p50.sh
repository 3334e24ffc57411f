#!/usr/bin/env bash
set -euo pipefail
cd /work/main
C=.cache/corpus/srenhance
OUT=docs/eval/2026-12-07-srenhance
mkdir -p $OUT
target/debug/srenhance-eval --clip $C/sr_trailer_1280x720_480f.y4m \
    --clip $C/sr_cockatoo_1280x720_280f.y4m --clip $C/sr_cuts_1280x720.y4m \
    --patch-kbps 50 --variants bicubic,generic,adaptive --out "$OUT/p50"
