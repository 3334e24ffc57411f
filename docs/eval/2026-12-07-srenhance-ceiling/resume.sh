#!/usr/bin/env bash
# Session 15 (#14): Algorithm 1's resume threshold. The online model gains 0.01-0.27 dB over the
# generic one on fresh patches even with 10x the patches for free (this folder's report.md), so
# `thresh-online` = 0.3 dB (resume when the online model is less than 0.3 dB better) resumes
# training at every validation. Run A: (e) continuous and (f) adaptive at the defaults; run B:
# (f) with thresh-online=0 (resume when the online model no longer beats the generic one on
# new patches). 100 kbit/s of patches (the issue's check), equal uplink, release build.
# Usage: resume.sh [ab|c]
set -euo pipefail
cd "$(dirname "$0")/../../.."
C=.cache/corpus/srenhance
O=${OUT:-/tmp/sr}
CLIPS=(--clip $C/sr_trailer_1280x720_480f.y4m --clip $C/sr_pans_1920x1080_480f.y4m
  --clip $C/sr_cockatoo_1280x720_280f.y4m --clip $C/sr_cuts_1280x720.y4m)
if [ "${1:-ab}" = ab ]; then
  target/release/srenhance-eval "${CLIPS[@]}" --patch-kbps 100 --variants continuous,adaptive --out $O/resume-a
  target/release/srenhance-eval "${CLIPS[@]}" --patch-kbps 100 --variants adaptive \
    --adaptive-props "thresh-online=0" --out $O/resume-b
fi
# Run C: (f) suspending after the first saturated epoch (count-sat=0), and (e) beside it, on the
# four clips plus the 60-s pans (three 20-s scenes, the one clip long enough for several
# suspensions and resumptions).
if [ "${1:-ab}" = c ]; then
  target/release/srenhance-eval "${CLIPS[@]}" --clip $C/sr_pans_1280x720_1800f.y4m --patch-kbps 100 \
    --variants continuous,adaptive --adaptive-props "count-sat=0" --out $O/resume-c
  # and (f) with count-sat=1 (the default before session 15) on the 60-s pans, for run A's row
  target/release/srenhance-eval --clip $C/sr_pans_1280x720_1800f.y4m --patch-kbps 100 \
    --variants adaptive --adaptive-props "count-sat=1" --out $O/resume-d
  # and (f) with count-sat=0 and thresh-sat=0.2 (measured, not adopted)
  target/release/srenhance-eval "${CLIPS[@]}" --clip $C/sr_pans_1280x720_1800f.y4m --patch-kbps 100 \
    --variants adaptive --adaptive-props "count-sat=0 thresh-sat=0.2" --out $O/resume-e
fi
