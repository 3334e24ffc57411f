#!/usr/bin/env bash
# Compare a derivative against its source with vqmeter; prints pooled scores and writes
# libvmaf-layout results.   usage: examples/vqmeter-compare.sh REF.y4m DIST.y4m [out.json]
# Environment: LV_PLUGIN_DIR (default target/release, where
# `cargo build --release -p gst-plugin-vqmeter` puts the plugin).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GST_PLUGIN_PATH="${LV_PLUGIN_DIR:-$ROOT/target/release}${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
# set -u alone would only say "$1: unbound variable".
[ $# -ge 2 ] || { grep -m1 -o 'usage: .*' "${BASH_SOURCE[0]}" >&2; exit 2; }
for f in "$1" "$2"; do
  [ -f "$f" ] || { echo "vqmeter-compare: $f: no such file" >&2; exit 2; }
done
OUT="${3:-vqmeter.json}"
gst-launch-1.0 -m vqmeter name=m results-filename="$OUT" psnr=true ssim=true \
    model-filename=vmaf_v0.6.1,vmaf_v0.6.1neg frame-message=false ! fakesink \
  filesrc location="$1" ! decodebin ! videoconvert ! m.ref_sink \
  filesrc location="$2" ! decodebin ! videoconvert ! m.dist_sink | grep vqmeter-pooled
