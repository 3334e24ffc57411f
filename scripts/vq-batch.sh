#!/usr/bin/env bash
# Chunked VMAF/PSNR/SSIM measurement of one pair on a Dask cluster (scripts/vq_batch.py).
#
#   bash scripts/vq-batch.sh measure REF DIST --chunk-frames N --workers W --out OUT.json \
#        [--address ADDR] [--format json|csv|xml] [--model M] [--psnr] [--ssim] [--ms-ssim] \
#        [--retries R] [--threads-per-chunk T] [--chunk-timeout S]
#   bash scripts/vq-batch.sh setup      # only installs what it needs
#
# First use sets up, idempotently: Dask from PyPI in a virtual environment
# (.cache/vq-batch/venv) and the worker binary (cargo build --release, target/release/
# vqmeter-chunk). VQ_BATCH_WORKER names another worker binary (the tests use their own
# build). Inputs: anything decodebin reads (y4m, MP4, MKV, WebM) at a fixed frame rate; on
# a cluster of several machines every worker must see REF and DIST at the same path.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.cache/vq-batch/venv"
PY_DEPS=("dask==2025.11.0" "distributed==2025.11.0" "tqdm==4.67.1")

setup() {
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import distributed, tqdm" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "${PY_DEPS[@]}"
  fi
}

worker() {
  if [ -n "${VQ_BATCH_WORKER:-}" ]; then
    echo "$VQ_BATCH_WORKER"
    return
  fi
  local bin="$ROOT/target/release/vqmeter-chunk"
  if [ ! -x "$bin" ]; then
    (cd "$ROOT" && cargo build -q --release -p gst-plugin-vqmeter --bin vqmeter-chunk) >&2
  fi
  echo "$bin"
}

case "${1:-}" in
  setup) setup ;;
  measure)
    setup
    bin="$(worker)"
    exec "$VENV/bin/python" "$ROOT/scripts/vq_batch.py" "$@" --worker-bin "$bin"
    ;;
  *)
    sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
