// libvmaf's integer motion (lv_metrics::motion_int): the 5-tap Q16 Gaussian of the
// difference of two reference frames, vertical pass rounded by the bit depth, horizontal
// pass rounded to 16 bits, |.| summed per row in 32 bits (wrapping, as libvmaf's row sum),
// the rows then summed in 64 bits by the caller. One thread per output sample; each
// recomputes the five vertical values it needs (cheap next to the memory traffic).
#include "lv_kernel.h"

__device__ __forceinline__ long long lv_motion_vertical(const unsigned short* prev,
                                                       const unsigned short* cur, int x, int y,
                                                       int h, int stride, int bpc) {
    const long long f[5] = {3571, 16004, 26386, 16004, 3571};
    long long acc = 0;
    for (int k = 0; k < 5; ++k) {
        long long r = (long long)lv_mirror(y - 2 + k, h) * stride + x;
        acc += f[k] * ((long long)prev[r] - (long long)cur[r]);
    }
    return (acc + (1LL << (bpc - 1))) >> bpc;
}

extern "C" __global__ void lv_motion_row_sad(const unsigned short* prev, const unsigned short* cur,
                                             int w, int h, int stride, int bpc,
                                             unsigned int* row_sad) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h) return;
    const long long f[5] = {3571, 16004, 26386, 16004, 3571};
    long long acc = 0;
    for (int k = 0; k < 5; ++k) {
        acc += f[k] * lv_motion_vertical(prev, cur, lv_mirror(x - 2 + k, w), y, h, stride, bpc);
    }
    long long v = (acc + (1LL << 15)) >> 16;
    atomicAdd(row_sad + y, (unsigned int)(v < 0 ? -v : v));
}
