#!/usr/bin/env bash
# Session 15 (#14): Algorithm 1's resume threshold. The online model gains 0.01-0.27 dB over the
# generic one on fresh patches even with 10x the patches for free (this folder's report.md), so
# `thresh-online` = 0.3 dB (resume when the online model is less than 0.3 dB better) resumes
# training at every validation. Run A: (e) continuous and (f) adaptive at the defaults; run B:
# (f) with thresh-online=0 (resume when the online model no longer beats the generic one on
# new patches). 100 kbit/s of patches (the issue's check), equal uplink, release build.
set -euo pipefail
cd "$(dirname "$0")/../../.."
C=.cache/corpus/srenhance
O=${OUT:-/tmp/sr}
CLIPS=(--clip $C/sr_trailer_1280x720_480f.y4m --clip $C/sr_pans_1920x1080_480f.y4m
  --clip $C/sr_cockatoo_1280x720_280f.y4m --clip $C/sr_cuts_1280x720.y4m)
target/release/srenhance-eval "${CLIPS[@]}" --patch-kbps 100 --variants continuous,adaptive --out $O/resume-a
target/release/srenhance-eval "${CLIPS[@]}" --patch-kbps 100 --variants adaptive \
  --adaptive-props "thresh-online=0" --out $O/resume-b
