// Host emulation of the CUDA C subset the kernels use, so that the very sources NVRTC compiles
// also build as C++ for the CPU and run in the tests (issue #17: every kernel's logic checked
// without a GPU). A launch runs the grid's threads one after another, in block order; this is
// exact for kernels whose threads only meet through atomics (all of ours so far), and it cannot
// emulate __syncthreads or shared memory, which therefore no kernel may use until the shim
// grows a fiber per thread. No maintained crate or library does this for CUDA C sources.
#pragma once

#include <cmath>

using std::floor;
inline float sqrtf(float x) { return std::sqrt(x); }

struct dim3 {
    unsigned int x, y, z;
};

namespace lv_emu {
inline thread_local dim3 block_idx, thread_idx, block_dim, grid_dim;
}

#define blockIdx ::lv_emu::block_idx
#define threadIdx ::lv_emu::thread_idx
#define blockDim ::lv_emu::block_dim
#define gridDim ::lv_emu::grid_dim
#define __global__
#define __device__
#define __forceinline__ inline

// Threads run one at a time, so read-modify-write is atomic.
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
    unsigned long long old = *a;
    *a = old + v;
    return old;
}
inline unsigned int atomicAdd(unsigned int* a, unsigned int v) {
    unsigned int old = *a;
    *a = old + v;
    return old;
}

// Device intrinsics the kernels use, with their CUDA semantics on the host: count of leading
// zeros (64 and 32 bits), and IEEE double operations rounded to nearest (C++ without contraction, see build.rs).
inline int __clzll(long long v) {
    return v == 0 ? 64 : __builtin_clzll((unsigned long long)v);
}
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz((unsigned)v); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }

namespace lv_emu {
template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, A... args) {
    grid_dim = grid;
    block_dim = block;
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                block_idx = dim3{bx, by, bz};
                for (unsigned tz = 0; tz < block.z; ++tz)
                    for (unsigned ty = 0; ty < block.y; ++ty)
                        for (unsigned tx = 0; tx < block.x; ++tx) {
                            thread_idx = dim3{tx, ty, tz};
                            kernel(args...);
                        }
            }
}
}  // namespace lv_emu
