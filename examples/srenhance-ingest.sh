#!/usr/bin/env bash
# LiveNAS in one gst-launch pipeline (issue #4): the streamer's srpatch sends training patches
# beside a half-size x264 stream; srenhance upscales the decoded stream back to the source
# size with a network it trains online from those patches.
#   usage: examples/srenhance-ingest.sh HR.y4m OUT.y4m [BITRATE_KBPS]   (default 800)
# Environment: LV_PLUGIN_DIR (default target/release, where
# `cargo build --release -p gst-plugin-srenhance` puts the plugin), PATCH_KBPS (srpatch's
# patch rate, default 100), SRPATCH_PROPS / SRENHANCE_PROPS (extra properties).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GST_PLUGIN_PATH="${LV_PLUGIN_DIR:-$ROOT/target/release}${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
# set -u alone would only say "$1: unbound variable".
[ $# -ge 2 ] || { grep -m1 -o 'usage: .*' "${BASH_SOURCE[0]}" >&2; exit 2; }
IN="$1" OUT="$2" KBPS="${3:-800}"
[ -f "$IN" ] || { echo "srenhance-ingest: $IN: no such file" >&2; exit 2; }
# W and H from the y4m stream header (W1920 H1080 ...); the ingest size is W/2 x H/2 rounded
# down to even (x264 needs even 4:2:0 sizes), srenhance upscales to W x H whatever the ratio.
read -r W H < <(head -c 512 "$IN" | head -n 1 | tr ' ' '\n' | sed -n 's/^\([WH]\)\([0-9]*\)$/\1 \2/p' \
  | awk '$1=="W"{w=$2} $1=="H"{h=$2} END{print w, h}')
[ -n "$W" ] && [ -n "$H" ] || { echo "srenhance-ingest: $IN is not a y4m file" >&2; exit 2; }
# shellcheck disable=SC2086
gst-launch-1.0 -q filesrc location="$IN" ! y4mdec \
  ! srpatch name=p patch-kbps="${PATCH_KBPS:-100}" ${SRPATCH_PROPS:-} \
  ! videoscale ! "video/x-raw,width=$(((W / 2) & ~1)),height=$(((H / 2) & ~1))" \
  ! x264enc tune=zerolatency bitrate="$KBPS" ! h264parse ! avdec_h264 ! queue ! sr.sink \
  p.patch_src ! queue ! sr.patch_sink \
  srenhance name=sr ${SRENHANCE_PROPS:-} ! "video/x-raw,width=$W,height=$H" \
  ! y4menc ! filesink location="$OUT"
