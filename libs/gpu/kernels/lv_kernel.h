// Shared by every kernel source, for NVRTC and for the host emulation alike. NVRTC has no
// standard headers, so the sources use only built-in types.
#pragma once

// Mirror index `i` (at most one filter half-width outside) into 0..n without repeating the
// edge sample, as libvmaf pads (needs n >= 3).
__device__ __forceinline__ int lv_mirror(int i, int n) {
    if (i < 0) return -i;
    if (i >= n) return 2 * n - i - 2;
    return i;
}
