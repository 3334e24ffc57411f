#!/usr/bin/env bash
# Session 23 (#14): would pasting the patches themselves into the output pay? A simulation,
# not the element: the ingest is ffmpeg (Lanczos to 640x360, x264 zerolatency 800 kbit/s),
# the "SR output" is its bicubic upscale, the streamer sends the worst 96x96 cell every 12
# frames as JPEG q95, and the server pastes a cached cell's 16x16 blocks where the decoded
# low-resolution block still matches the patch (within 1.5x its coding error at arrival).
# Prints the mean PSNR-Y gain over the upscale and the share of the picture pasted.
#   OUT=/tmp/paste bash docs/eval/2026-12-08-paste/run.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$HERE/../../.."
FF="${LV_FFMPEG:-$ROOT/.cache/ffmpeg/ffmpeg}"
PY="${PY:-$ROOT/.cache/train/venv/bin/python}"   # numpy + pillow (scripts/fetch-train-data.sh)
OUT="${OUT:-/tmp/paste}"
mkdir -p "$OUT"
for c in sr_cockatoo_1280x720_280f sr_trailer_1280x720_480f sr_heldout_cuts_1280x720_540f; do
  src="$ROOT/.cache/corpus/srenhance/$c.y4m"
  "$FF" -v error -y -i "$src" -frames:v 300 -vf scale=640:360:flags=lanczos -c:v libx264 \
    -preset veryfast -tune zerolatency -b:v 800k -maxrate 800k -bufsize 800k "$OUT/$c.mp4"
  "$FF" -v error -y -i "$OUT/$c.mp4" -f yuv4mpegpipe -pix_fmt yuv420p "$OUT/$c.lr.y4m"
  "$FF" -v error -y -i "$OUT/$c.mp4" -vf scale=1280:720:flags=bicubic -f yuv4mpegpipe \
    -pix_fmt yuv420p "$OUT/$c.up.y4m"
  (cd "$OUT" && PYTHONPATH="$HERE" "$PY" "$HERE/sim.py" "$c" 1.5)
done
