#!/usr/bin/env bash
# Downscale a clip with dnnscale and encode it with x264 into an MP4.
#   usage: examples/dnnscale-x264-mp4.sh IN OUT.mp4 [WIDTH HEIGHT]   (default 960x540)
# IN: anything decodebin reads (y4m, mp4, ...). Environment: LV_PLUGIN_DIR (default
# target/release, where `cargo build --release -p gst-plugin-dnnscale` puts the plugin),
# DNNSCALE_MODEL (an ONNX model path; unset: the embedded default), DNNSCALE_THREADS.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GST_PLUGIN_PATH="${LV_PLUGIN_DIR:-$ROOT/target/release}${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
# set -u alone would only say "$1: unbound variable".
[ $# -ge 2 ] || { grep -m1 -o 'usage: .*' "${BASH_SOURCE[0]}" >&2; exit 2; }
IN="$1" OUT="$2" W="${3:-960}" H="${4:-540}"
[ -f "$IN" ] || { echo "dnnscale-x264-mp4: $IN: no such file" >&2; exit 2; }
PROPS=(threads="${DNNSCALE_THREADS:-0}")
[ -n "${DNNSCALE_MODEL:-}" ] && PROPS+=(model="$DNNSCALE_MODEL")
# videoconvert only acts when the decoder's format is not one dnnscale takes.
gst-launch-1.0 -q filesrc location="$IN" ! decodebin ! videoconvert \
  ! dnnscale "${PROPS[@]}" ! "video/x-raw,width=$W,height=$H" \
  ! x264enc speed-preset=faster bitrate=2000 ! h264parse ! mp4mux ! filesink location="$OUT"
