// Sum of squared differences of two planes, the raw material of PSNR (lv_metrics::psnr).
// Each thread sums a span of LV_SSE_SPAN samples of one row in 64 bits and adds it once to
// the plane total: integer sums, so the result is exact whatever the order.
#include "lv_kernel.h"

#define LV_SSE_SPAN 64

extern "C" __global__ void lv_sse_u8(const unsigned char* a, const unsigned char* b, int w, int h,
                                     int stride_a, int stride_b, unsigned long long* total) {
    int x0 = (blockIdx.x * blockDim.x + threadIdx.x) * LV_SSE_SPAN;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (y >= h || x0 >= w) return;
    int x1 = x0 + LV_SSE_SPAN < w ? x0 + LV_SSE_SPAN : w;
    const unsigned char* ra = a + (long long)y * stride_a;
    const unsigned char* rb = b + (long long)y * stride_b;
    unsigned long long s = 0;
    for (int x = x0; x < x1; ++x) {
        int d = (int)ra[x] - (int)rb[x];
        s += (unsigned long long)(d * d);
    }
    atomicAdd(total, s);
}

// 9..16-bit samples; strides in samples.
extern "C" __global__ void lv_sse_u16(const unsigned short* a, const unsigned short* b, int w,
                                      int h, int stride_a, int stride_b,
                                      unsigned long long* total) {
    int x0 = (blockIdx.x * blockDim.x + threadIdx.x) * LV_SSE_SPAN;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (y >= h || x0 >= w) return;
    int x1 = x0 + LV_SSE_SPAN < w ? x0 + LV_SSE_SPAN : w;
    const unsigned short* ra = a + (long long)y * stride_a;
    const unsigned short* rb = b + (long long)y * stride_b;
    unsigned long long s = 0;
    for (int x = x0; x < x1; ++x) {
        long long d = (long long)ra[x] - (long long)rb[x];
        s += (unsigned long long)(d * d);
    }
    atomicAdd(total, s);
}
