#!/usr/bin/env bash
# A DASH ABR ladder: one decode, a tee into three dnnscale branches (1280x720, 960x540,
# 640x360 by default), one x264 encoder each, and dashsink writing the MPD and the segments.
#   usage: examples/dnnscale-dash-ladder.sh IN OUTDIR [W1xH1 W2xH2 W3xH3]
# Environment: LV_PLUGIN_DIR (default target/release), DNNSCALE_MODEL (ONNX path; unset: the
# embedded default), DNNSCALE_THREADS (per branch; default 0 = all cores), SEGMENT_SECONDS (2).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GST_PLUGIN_PATH="${LV_PLUGIN_DIR:-$ROOT/target/release}${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
IN="$1" OUTDIR="$2"
SIZES=("${3:-1280x720}" "${4:-960x540}" "${5:-640x360}")
SEG="${SEGMENT_SECONDS:-2}"
mkdir -p "$OUTDIR"
PROPS=(threads="${DNNSCALE_THREADS:-0}")
[ -n "${DNNSCALE_MODEL:-}" ] && PROPS+=(model="$DNNSCALE_MODEL")
BRANCHES=()
for i in 0 1 2; do
  W="${SIZES[$i]%x*}" H="${SIZES[$i]#*x}"
  # A key frame every segment so dashsink can cut every representation at the same times.
  BRANCHES+=(t. ! queue ! dnnscale "${PROPS[@]}" ! "video/x-raw,width=$W,height=$H"
             ! x264enc speed-preset=faster bitrate=$((W * H / 400)) key-int-max=$((SEG * 30))
             ! h264parse ! "d.video_$i")
done
gst-launch-1.0 -q filesrc location="$IN" ! decodebin ! videoconvert ! tee name=t "${BRANCHES[@]}" \
  dashsink name=d mpd-root-path="$OUTDIR" mpd-filename=ladder.mpd target-duration="$SEG"
