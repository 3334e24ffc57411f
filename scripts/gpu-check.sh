#!/usr/bin/env bash
# The GPU path's check (issue #17), on any machine: every CUDA kernel compiled by NVRTC, every
# kernel's logic run on the CPU through the host emulation against the CPU path, the kernels on
# the GPU when there is one (LV_REQUIRE_GPU=1 makes a missing GPU an error), and the elements'
# CUDA fallback. Last line:
#   gpu-check: N kernels compiled by NVRTC, M host-emulation checks passed, GPU: <name or none>
#
# NVRTC comes from scripts/fetch-test-deps.sh (.cache/nvrtc/lib); machines that cannot reach the
# network (the lent GPU machines) need .cache/nvrtc and the test corpus carried in.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ ! -e .cache/nvrtc/lib/libnvrtc.so ] || [ ! -d .cache/corpus/test ]; then
  bash scripts/fetch-test-deps.sh
fi
export CARGO_PROFILE_DEV_DEBUG=0
export LV_CORPUS="$ROOT/.cache/corpus" LV_NVRTC_DIR="$ROOT/.cache/nvrtc/lib"
export LV_FFMPEG="${LV_FFMPEG:-$ROOT/.cache/ffmpeg/ffmpeg}"
export LD_LIBRARY_PATH="$LV_NVRTC_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

cargo test -p lv-gpu -- --nocapture --test-threads=1 2>&1 | tee "$log"
# The elements' fallback when CUDA is asked for and not usable (on a GPU: the elements on it,
# vqmeter's scores identical to the CPU's), and the elements through the emulated kernels.
cargo test -p gst-plugin-dnnscale --test dnnscale cuda_backend 2>&1 | tee -a "$log"
cargo test -p gst-plugin-dnnscale --test dnnscale backend_in_use 2>&1 | tee -a "$log"
cargo test -p gst-plugin-vqmeter --test vqmeter backend_in_use 2>&1 | tee -a "$log"
for p in dnnscale srenhance vqmeter; do
  cargo test -p gst-plugin-$p --test gpu_emulation 2>&1 | tee -a "$log"
done

# On a GPU: the kernels' speed beside the CPU path.
case "$(grep -o 'GPU: .*' "$log" | head -n 1)" in
  "GPU: none"*) ;;
  *)
    cargo bench -p lv-gpu --bench kernels 2>&1 | tee -a "$log"
    # The elements on the GPU beside the CPU: dnnscale 2160p→1080p and 1080p→540p, srenhance
    # 540p→1080p and 1080p→2160p with the trainer running (the clips come with fetch-eval-clips).
    [ -s .cache/corpus/bench/pan_seeding_1920x1080_60f.y4m ] || bash scripts/fetch-eval-clips.sh
    cargo build --release -p gst-plugin-dnnscale 2>&1 | tail -n 1
    LV_BENCH_GPU=1 LV_BENCH_FRAMES=${LV_BENCH_FRAMES:-90} LV_BENCH_REPS=1 \
      cargo bench -p lv-tools --bench dnnscale_speed 2>&1 | tee -a "$log"
    LV_BENCH_GPU=1 LV_BENCH_FRAMES=${LV_BENCH_FRAMES:-90} LV_BENCH_REPS=1 \
      cargo bench -p gst-plugin-srenhance --bench srenhance_speed 2>&1 | tee -a "$log"
    ;;
esac

kernels="$(grep -o 'NVRTC [0-9.]*: [0-9]* kernels compiled' "$log" | head -n 1 | awk '{print $3}')"
# The host-emulation binary's passed tests (cargo prints the binary's name, then its result).
host="$(awk '/Running tests\/host_emulation.rs/ {f = 1} f && /^test result: ok\./ {print $4; exit}' "$log")"
gpu="$(grep -o 'GPU: .*' "$log" | head -n 1 | cut -c6-)"
case "$gpu" in none*) gpu_name=none ;; *) gpu_name="$gpu" ;; esac
if [ -z "$kernels" ] || [ -z "$host" ] || [ -z "$gpu" ]; then
  echo "gpu-check: could not read the results (kernels='$kernels' host='$host' gpu='$gpu')" >&2
  exit 1
fi
echo "gpu-check: $kernels kernels compiled by NVRTC, $host host-emulation checks passed, GPU: $gpu_name"
