#!/usr/bin/env bash
# The srenhance (LiveNAS) evaluation as recorded in models/srenhance/EVAL.md: methods (a)-(f) of
# issue #4 on natural clips with scene changes, through the real elements (lv-tools'
# srenhance-eval). Results, per-frame scores and plots land in docs/eval/srenhance/.
#
# Clips (built here from the sources of scripts/fetch-eval-clips.sh, pinned public downloads):
#   sr_trailer_1280x720_480f.y4m  Big Buck Bunny trailer (moviepy 2.2.1 sdist), 22 s to 42 s,
#                                 24 fps: camera cuts at 24.7, 36.0, 37.5 and 41.2 s
#   sr_pans_1280x720_1800f.y4m    three 20-s camera pans over three different photos
#                                 (lomiri wallpapers; the generic model never saw them), 30 fps:
#                                 scene changes at 20 and 40 s (long enough for Algorithm 1)
#   sr_pans_1920x1080_480f.y4m    the same three photos, 16/3-s pans at 1080p (540p ingest):
#                                 scene changes at 5.3 and 10.7 s
#
# Usage: scripts/run-srenhance-eval.sh [extra srenhance-eval options]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/fetch-eval-clips.sh >/dev/null
SRC="${EVAL_SRC:-$ROOT/.cache/eval-src}"
OUT="${LV_CORPUS:-$ROOT/.cache/corpus}/srenhance"
FF="${LV_FFMPEG:-$ROOT/.cache/ffmpeg/ffmpeg}"
VPY="$SRC/venv/bin/python"
SWS="lanczos+accurate_rnd+full_chroma_int+bitexact"
mkdir -p "$OUT"

TRAILER="$SRC/x/moviepy/moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4"
T="$OUT/sr_trailer_1280x720_480f.y4m"
if [ ! -s "$T" ]; then
  "$FF" -v error -y -i "$TRAILER" -an -vf "trim=start_frame=528:end_frame=1008,setpts=PTS-STARTPTS,format=yuv420p" \
    -fps_mode passthrough -fflags +bitexact -f yuv4mpegpipe "$T.tmp"
  mv "$T.tmp" "$T"
fi
pans() {  # out W H frames-per-photo
  local out="$1" w="$2" h="$3" n="$4"
  [ -s "$out" ] && return 0
  local B16="$SRC/x/lomiri-wallpapers-16.04/usr/share/backgrounds"
  local B20="$SRC/x/lomiri-wallpapers-20.04/usr/share/backgrounds"
  { "$VPY" scripts/pan_zoom.py "$B16/seeding_by_Clements_Engelhardt.jpg" "$w" "$h" "$n" 1.00 1.10 0.40 0.60 0.50 0.48
    "$VPY" scripts/pan_zoom.py "$B20/Kleiber_by_Lukas_Baubkus.jpg" "$w" "$h" "$n" 1.05 1.00 0.55 0.40 0.50 0.50
    "$VPY" scripts/pan_zoom.py "$B16/picosdeeuropa_by_Aitzol_Berasategi.jpg" "$w" "$h" "$n" 1.00 1.12 0.35 0.55 0.55 0.50
  } | "$FF" -v error -y -f rawvideo -pix_fmt rgb24 -s "${w}x${h}" -r 30 -i - \
      -vf "scale=out_color_matrix=bt709:out_range=tv:flags=$SWS,format=yuv420p,setsar=1" \
      -fps_mode passthrough -fflags +bitexact -f yuv4mpegpipe "$out.tmp"
  mv "$out.tmp" "$out"
}
P="$OUT/sr_pans_1280x720_1800f.y4m"
pans "$P" 1280 720 600
P1080="$OUT/sr_pans_1920x1080_480f.y4m"
pans "$P1080" 1920 1080 160

# The dev profile (opt-level 2, CI's build: no debug info): srenhance's network runs on
# lv-infer's native engine and trains with lv-train, both at opt-level 2 there, and the non-live
# pipelines pace training by stream time, so the scores do not depend on the profile; a release
# build of tract costs ~35 min of this machine's 2 cores for nothing here.
export CARGO_PROFILE_DEV_DEBUG=0
cargo build -p gst-plugin-srenhance -p lv-tools
target/debug/srenhance-eval --clip "$T" --clip "$P" --clip "$P1080" --out docs/eval/srenhance "$@"
