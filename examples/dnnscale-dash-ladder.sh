#!/usr/bin/env bash
# A DASH ABR ladder in fragmented MP4, as browsers' Media Source Extensions play it: one decode,
# a tee into three dnnscale branches (1280x720, 960x540, 640x360 by default), one x264 encoder
# each, mp4mux writing a fragmented MP4 per rendition, then examples/dash/package.py cutting
# them into an initialization segment and media segments and writing the MPD.
#   usage: examples/dnnscale-dash-ladder.sh IN OUTDIR [W1xH1 W2xH2 W3xH3]
# Writes OUTDIR/ladder.mpd, OUTDIR/video_N_init.mp4 and OUTDIR/video_N_K.m4s (video_0 is the
# first size given). Environment: LV_PLUGIN_DIR (default target/release), DNNSCALE_MODEL (ONNX
# path; unset: the embedded default), DNNSCALE_THREADS (per branch; default 0 = all cores),
# SEGMENT_SECONDS (2), FPS (the input's frame rate; default: read from the decoded stream),
# X264_PRESET (faster).
#
# Not dashsink: on GStreamer 1.22 its muxer=mp4 stalls after the first segment (splitmuxsink
# reuses one mp4mux for every file) and its MPD names no initialization segment; its default,
# MPEG-TS, is not a format DASH players take without transmuxing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GST_PLUGIN_PATH="${LV_PLUGIN_DIR:-$ROOT/target/release}${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
# set -u alone would only say "$1: unbound variable".
[ $# -ge 2 ] || { grep -m1 -o 'usage: .*' "${BASH_SOURCE[0]}" >&2; exit 2; }
IN="$1" OUTDIR="$2"
[ -f "$IN" ] || { echo "dnnscale-dash-ladder: $IN: no such file" >&2; exit 2; }
SIZES=("${3:-1280x720}" "${4:-960x540}" "${5:-640x360}")
SEG="${SEGMENT_SECONDS:-2}"
mkdir -p "$OUTDIR"
FPS="${FPS:-}"
if [ -z "$FPS" ]; then
  # Its output is captured: on failure, pass on gst-launch's own reason.
  if ! caps="$(gst-launch-1.0 -v filesrc location="$IN" ! decodebin ! video/x-raw ! fakesink num-buffers=1 2>&1)"; then
    echo "dnnscale-dash-ladder: cannot decode $IN: $(sed -n '/^ERROR/{s/.*: //p;q}' <<<"$caps")" >&2; exit 1
  fi
  FPS="$(grep -o -m1 'framerate=(fraction)[0-9]*/[0-9]*' <<<"$caps" | head -n1 | cut -d')' -f2 || true)"
fi
case "$FPS" in
  */*) NUM="${FPS%/*}" DEN="${FPS#*/}" ;;
  *) NUM="$FPS" DEN=1 ;;
esac
if ! [[ "$NUM" =~ ^[0-9]+$ && "$DEN" =~ ^[0-9]+$ ]] || [ "$NUM" = 0 ] || [ "$DEN" = 0 ]; then
  echo "cannot tell the frame rate of $IN (got '${FPS}'); set FPS=N or FPS=N/D" >&2; exit 1
fi
# Key frames exactly every segment, counted in frames, and no scene-cut key frames: every
# rendition then has its segment boundaries on the same frames, which is what lets a player
# switch between them.
GOP=$(( (SEG * NUM + DEN / 2) / DEN ))
PROPS=(threads="${DNNSCALE_THREADS:-0}")
[ -n "${DNNSCALE_MODEL:-}" ] && PROPS+=(model="$DNNSCALE_MODEL")
WORK="$OUTDIR/.fmp4"
mkdir -p "$WORK"
BRANCHES=() REPS=()
for i in 0 1 2; do
  W="${SIZES[$i]%x*}" H="${SIZES[$i]#*x}"
  # fragment-duration above the GOP: mp4mux then closes each fragment at a key frame only.
  BRANCHES+=(t. ! queue ! dnnscale "${PROPS[@]}" ! "video/x-raw,width=$W,height=$H"
             ! x264enc speed-preset="${X264_PRESET:-faster}" bitrate=$((W * H / 400))
               key-int-max="$GOP" option-string="scenecut=0"
             ! h264parse ! mp4mux fragment-duration=$((SEG * 2000))
             ! filesink location="$WORK/video_$i.mp4")
  REPS+=("video_$i=$WORK/video_$i.mp4")
done
gst-launch-1.0 -q filesrc location="$IN" ! decodebin ! videoconvert ! tee name=t "${BRANCHES[@]}"
rm -f "$OUTDIR"/video_*_*.m4s "$OUTDIR"/video_*_init.mp4
python3 "$ROOT/examples/dash/package.py" "$OUTDIR" ladder.mpd "${REPS[@]}"
rm -rf "$WORK"
