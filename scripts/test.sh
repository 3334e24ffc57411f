#!/usr/bin/env bash
# Sets up (apt packages, oracle ffmpeg, natural clips) and runs every test of the workspace.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/fetch-test-deps.sh "$@"
export LV_FFMPEG="$ROOT/.cache/ffmpeg/ffmpeg" LV_CORPUS="$ROOT/.cache/corpus"
# NVRTC from the set-up (lv-gpu's tests compile every CUDA kernel with it; no GPU needed).
export LV_NVRTC_DIR="$ROOT/.cache/nvrtc/lib"
export LD_LIBRARY_PATH="$LV_NVRTC_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cargo build --workspace --all-targets
cargo test --workspace
