#!/usr/bin/env bash
# VMAF v0.6.1 speed per instruction-set path, one thread, 1080p: vqmeter's portable, AVX2
# and AVX-512 kernels (LV_METRICS_ISA) against libvmaf's own C, AVX2 and AVX-512 code
# (the `vmaf` tool's --cpumask), all on this machine in one run. This is how a machine
# with only AVX+FMA (libvmaf's C path, our portable path) is measured on one that has
# AVX-512.
#
# libvmaf is built from source: VMAF_SRC must name a libvmaf source tree (the `libvmaf`
# and `model` folders of Netflix/vmaf at tag v3.0.0; github.com is not reachable from
# these machines, so it comes from a mirror). Needs meson, ninja (PyPI) and nasm (apt).
#
#   VMAF_SRC=/tmp/vmafsrc bash docs/eval/2026-12-06-vqmeter/isa-paths.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
: "${VMAF_SRC:?set VMAF_SRC to a libvmaf v3.0.0 source tree}"
export LV_CORPUS=${LV_CORPUS:-$PWD/.cache/corpus}
B=$LV_CORPUS/bench
R=$B/bbb_1920x1080_60f.y4m
D=$B/bbb_1920x1080_60f_x264crf28.y4m
[ -s "$R" ] && [ -s "$D" ] || bash scripts/fetch-test-deps.sh --bench
VENV=${VENV:-/tmp/mesonenv}
[ -x "$VENV/bin/meson" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q meson ninja; }
command -v nasm >/dev/null || apt-get install -y -q nasm
BUILD=$VMAF_SRC/libvmaf/build-simd
if [ ! -x "$BUILD/tools/vmaf" ]; then
  (cd "$VMAF_SRC/libvmaf" && PATH=$VENV/bin:$PATH meson setup "$BUILD" --buildtype=release \
    -Denable_tests=false -Denable_docs=false -Dbuilt_in_models=true >/dev/null &&
    PATH=$VENV/bin:$PATH ninja -C "$BUILD" >/dev/null)
fi
cargo build -q --release -p lv-metrics --example profile_vmaf
libvmaf_fps() { # cpumask: the instruction sets libvmaf may not use
  "$BUILD/tools/vmaf" -r "$R" -d "$D" --threads 1 --cpumask "$1" -m version=vmaf_v0.6.1 \
    --json -o /tmp/isa-paths-$1.json -q >/dev/null 2>&1
  python3 -c "import json; print(json.load(open('/tmp/isa-paths-$1.json'))['fps'])"
}
ours_fps() {
  LV_METRICS_ISA=$1 target/release/examples/profile_vmaf | sed -n 's/^meter (1 thread) \([0-9.]*\) fps/\1/p'
}
printf '%-10s %10s %10s %7s\n' path vqmeter libvmaf ratio
# cpumask bits: 8 AVX2, 16 AVX-512, 32 AVX-512 ICL.
for p in "portable 56" "avx2 48" "avx512 0"; do
  set -- $p
  a=$(ours_fps "$1")
  b=$(libvmaf_fps "$2")
  printf '%-10s %9.2ff %9.2ff %6.2fx\n' "$1" "$a" "$b" "$(python3 -c "print($a/$b)")"
done
echo "(frames per second, one thread; libvmaf's figure includes reading the two y4m files)"
