#!/usr/bin/env bash
# The vqmeter pair demo (the project's first main job): measure an x264-compressed natural clip
# against its source with vqmeter inside a gst-launch-1.0 pipeline; prints per-frame scores
# (element messages) and the pooled scores, and leaves libvmaf-layout results in
# out/vqmeter.json.   usage: examples/vqmeter-pair-demo.sh [--no-apt]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/fetch-test-deps.sh "$@"
cargo build --workspace
export GST_PLUGIN_PATH="$ROOT/target/debug${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
REF="$ROOT/.cache/corpus/test/bbb_320x180_30f.y4m"
DIST="$ROOT/.cache/corpus/test/bbb_320x180_30f_x264crf30.y4m"
mkdir -p out
gst-inspect-1.0 vqmeter >/dev/null
gst-launch-1.0 -m vqmeter name=m results-filename=out/vqmeter.json results-format=json \
    psnr=true ssim=true ms-ssim=true ! fakesink \
  filesrc location="$REF" ! y4mdec ! m.ref_sink \
  filesrc location="$DIST" ! y4mdec ! m.dist_sink 2>&1 |
  grep -E 'vqmeter-(frame|pooled)' | sed -E 's/, integer_.*//; s/^.*(vqmeter-)/\1/'
python3 - out/vqmeter.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"\n{len(d['frames'])} frames measured; pooled:")
for k in ("vmaf", "psnr_y", "psnr_cb", "psnr_cr", "float_ssim", "float_ms_ssim"):
    p = d["pooled_metrics"][k]
    print(f"  {k:14s} mean {p['mean']:.4f}  harmonic {p['harmonic_mean']:.4f}  min {p['min']:.4f}  max {p['max']:.4f}  1%low {p['low_1pct']:.4f}")
PY
