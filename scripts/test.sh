#!/usr/bin/env bash
# Sets up (apt packages, oracle ffmpeg, natural clips) and runs every test of the workspace.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/fetch-test-deps.sh "$@"
export LV_FFMPEG="$ROOT/.cache/ffmpeg/ffmpeg" LV_CORPUS="$ROOT/.cache/corpus"
cargo build --workspace --all-targets
cargo test --workspace
