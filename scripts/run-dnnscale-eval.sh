#!/usr/bin/env bash
# The dnnscale evaluation as recorded in models/dnnscale/EVAL.md: the Netflix/SCALED protocol on
# the five bench clips (scripts/fetch-eval-clips.sh), then the codec-aware vs codec-agnostic
# comparison, then the speed bench. Results and RD plots land in docs/eval/; intermediate files
# are cached in target/dnnscale-eval (a rerun only computes what changed, e.g. a new model).
#
# Settings chosen for the 2-core machine the evaluation ran on (see EVAL.md): 30 frames per
# clip; x264 -preset medium CRF 23/28/33/38; VP9 -deadline realtime -cpu-used 8 CRF 32/38/44/50
# (the good-quality modes cost 4x more encode time); VMAF is measured for ffmpeg's Lanczos and the
# models, PSNR only for videoscale's Lanczos (VMAF + VMAF NEG cost ~0.8 s per 1080p frame).
#
# Usage: scripts/run-dnnscale-eval.sh [main|codec-aware|bench|all]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WHAT="${1:-all}"
M=models/dnnscale
cargo build --release -p lv-tools --bin dnnscale-eval
cargo build --release -p gst-plugin-dnnscale
E=target/release/dnnscale-eval
COMMON=(--frames 30 --crfs 23,28,33,38 --vp9-crfs 32,38,44,50 --vp9-deadline realtime --vp9-cpu-used 8 --jobs 2)

main() {
  "$E" "${COMMON[@]}" --videoscale-metrics psnr --model "$M/dnnscale.onnx" --out docs/eval/main
}
codec_aware() {
  # PSNR is the goal metric of this comparison and x264 the codec the SCALED training used.
  "$E" "${COMMON[@]}" --codecs x264 --metrics psnr \
    --model "$M/dnnscale-scaled.onnx" --model "$M/dnnscale-agnostic-cont.onnx" \
    --compare dnnscale-scaled:dnnscale-agnostic-cont --out docs/eval/codec-aware
}
bench() {
  cargo bench -p lv-tools --bench dnnscale_speed | tee docs/eval/speed.md
}
case "$WHAT" in
  main) main ;;
  codec-aware) codec_aware ;;
  bench) bench ;;
  all) main; codec_aware; bench ;;
  *) echo "usage: $0 [main|codec-aware|bench|all]" >&2; exit 2 ;;
esac
