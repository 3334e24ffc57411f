#!/usr/bin/env bash
# Fits srenhance's generic post-filter (models/srenhance/postfilter.lvpf, lv_livenas::postfilter)
# on the generic model's output at the element's operating point.
#
# Data: 2-s camera moves (scripts/pan_zoom.py, pseudo-random pan and zoom, fixed seed) over the
# srenhance training photos (scripts/fetch-train-data.sh's packages), cut together into one
# 1280x720 30 fps clip, so the codec sees cuts as in a live stream. Not used: the three photos
# of the evaluation pans (seeding, Kleiber, picosdeeuropa); friends and Blinds are the
# validation clip (the photo tiles' held-out pair, models/srenhance/MODEL_CARD.md). The ingest
# is srenhance-eval's: videoscale to 640x360, x264enc tune=zerolatency threads=1 at 500, 800
# and 1500 kbit/s, avdec_h264, then `srenhance training=false post-filter=false` (the generic
# model alone) to 1280x720. The filter is the least-squares fit over every 5th frame's luma of
# all three rates (srenhance-fit-filter).
#
# usage: scripts/fit-srenhance-postfilter.sh [OUT.lvpf]   (default models/srenhance/postfilter.lvpf)
# Needs: scripts/fetch-train-data.sh (photos and the venv with Pillow), the oracle ffmpeg
# (scripts/fetch-test-deps.sh), GStreamer with x264enc and avdec_h264.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUTF="${1:-models/srenhance/postfilter.lvpf}"
TRAIN="${LV_TRAIN:-$ROOT/.cache/train}"
VPY="$TRAIN/venv/bin/python"
FF="${LV_FFMPEG:-$ROOT/.cache/ffmpeg/ffmpeg}"
WORK="${LV_FIT_WORK:-$ROOT/.cache/postfilter}"
SWS="lanczos+accurate_rnd+full_chroma_int+bitexact"
mkdir -p "$WORK"
[ -x "$VPY" ] || VPY="$ROOT/.cache/eval-src/venv/bin/python"

X="$TRAIN/x"
B16="$X/lomiri-wallpapers-16.04/usr/share/backgrounds"
B20="$X/lomiri-wallpapers-20.04/usr/share/backgrounds"
MN="$X/mate-backgrounds/usr/share/backgrounds/mate"
TRAIN_PHOTOS=(
  "$B16/Bridge_by_Sander_Klootwijk.jpg" "$B16/Dragonfly_by_Bolly.jpg"
  "$B16/Picture_0B_by_freespace.jpg" "$B16/Picture_1A_by_freespace.jpg"
  "$B16/Wine_by_Jakkub_Mede.jpg" "$B16/aitzgorri_by_Aitzol_Berasategi.jpg"
  "$B16/analogpattern_by_Peter_Nerlich.jpg" "$B16/free_by_Peter_Nerlich.jpg"
  "$B16/greentock_by_Peter_Nerlich.jpg" "$B16/life_by_Aitzol_Berasategi.jpg"
  "$B16/sunset_by_Aitzol_Berasategi.jpg" "$B16/umang_by_Abhishek_Mudgal.jpg"
  "$B20/Fossa_by_Jasper_Roks.jpg" "$B20/Infinite-Sea_by_Aury88.jpg"
  "$B20/Painting-Colors_by__herobrine7gamer.jpg"
  "$MN/nature/Aqua.jpg" "$MN/nature/Dune.jpg" "$MN/nature/FreshFlower.jpg"
  "$MN/nature/Garden.jpg" "$MN/nature/GreenMeadow.jpg" "$MN/nature/LadyBird.jpg"
  "$MN/nature/RainDrops.jpg" "$MN/nature/Storm.jpg" "$MN/nature/TwoWings.jpg"
  "$MN/nature/Wood.jpg" "$MN/nature/YellowFlower.jpg"
  "$MN/abstract/Elephants.jpg" "$MN/desktop/GreenTraditional.jpg"
)
VAL_PHOTOS=("$B16/friends_by_Aitzol_Berasategi.jpg" "$MN/nature/Blinds.jpg")

# One clip of 2-s moves over the photos: zoom 1.0-1.15, centre drifting by up to 0.2 of the
# photo, drawn from a fixed seed.
moves() {  # out photos...
  local out="$1"; shift
  [ -s "$out" ] && return 0
  local i=0
  for p in "$@"; do
    [ -f "$p" ] || { echo "missing photo $p (run scripts/fetch-train-data.sh)" >&2; exit 1; }
    # shellcheck disable=SC2046
    "$VPY" scripts/pan_zoom.py "$p" 1280 720 60 $("$VPY" -c "
import random; r = random.Random($i * 7919 + 1)
z0 = 1.0 + 0.15 * r.random(); z1 = 1.0 + 0.15 * r.random()
c = [0.4 + 0.2 * r.random() for _ in range(2)]
d = [0.2 * (r.random() - 0.5) for _ in range(2)]
print(f'{z0:.3f} {z1:.3f} {c[0]:.3f} {c[0] + d[0]:.3f} {c[1]:.3f} {c[1] + d[1]:.3f}')")
    i=$((i + 1))
  done | "$FF" -v error -y -f rawvideo -pix_fmt rgb24 -s 1280x720 -r 30 -i - \
      -vf "scale=out_color_matrix=bt709:out_range=tv:flags=$SWS,format=yuv420p,setsar=1" \
      -fps_mode passthrough -fflags +bitexact -f yuv4mpegpipe "$out.tmp"
  mv "$out.tmp" "$out"
}
moves "$WORK/train_1280x720.y4m" "${TRAIN_PHOTOS[@]}"
moves "$WORK/val_1280x720.y4m" "${VAL_PHOTOS[@]}"

cargo build --release -p gst-plugin-srenhance
cargo build --release -p lv-tools --bin srenhance-fit-filter
export GST_PLUGIN_PATH="$ROOT/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
sr() {  # src.y4m kbps out.y4m: the generic model's output on srenhance-eval's ingest
  [ -s "$3" ] && return 0
  gst-launch-1.0 -q filesrc location="$1" ! y4mdec ! videoscale ! video/x-raw,width=640,height=360 ! \
    x264enc tune=zerolatency bitrate="$2" threads=1 ! h264parse ! avdec_h264 ! \
    srenhance training=false post-filter=false ! video/x-raw,width=1280,height=720 ! \
    y4menc ! filesink location="$3.tmp"
  mv "$3.tmp" "$3"
}
PAIRS=()
for k in 500 800 1500; do
  sr "$WORK/train_1280x720.y4m" "$k" "$WORK/train_sr_$k.y4m"
  PAIRS+=(--pair "$WORK/train_1280x720.y4m" "$WORK/train_sr_$k.y4m")
done
sr "$WORK/val_1280x720.y4m" 800 "$WORK/val_sr_800.y4m"
target/release/srenhance-fit-filter --out "$OUTF" --every 5 "${PAIRS[@]}" \
  --val "$WORK/val_1280x720.y4m" "$WORK/val_sr_800.y4m"
