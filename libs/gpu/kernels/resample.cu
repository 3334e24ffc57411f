// The integer resampler of lv_image::resample (swscale's pipeline, bit-exact with ffmpeg's
// `scale` for 8..14-bit samples), as the learned elements use it for luma and chroma: a
// horizontal pass of 14-bit weights into a 15-bit intermediate (int16), then a vertical pass of
// 12-bit weights with rounding and clamping. The tables (window starts, fixed weights) come
// from the CPU's AxisFilter, so both sides apply the very same filter. One thread per output.

extern "C" __global__ void lv_resample_h_u8(const unsigned char* src, int stride, int in_h,
                                            const int* starts, const short* weights, int taps,
                                            int out_w, int shift, short* tmp) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= out_w || y >= in_h) return;
    const unsigned char* row = src + (long long)y * stride + starts[x];
    const short* w = weights + (long long)x * taps;
    int acc = 0;
    for (int j = 0; j < taps; ++j) acc += (int)row[j] * (int)w[j];
    int v = acc >> shift;
    tmp[(long long)y * out_w + x] = (short)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
}

extern "C" __global__ void lv_resample_h_u16(const unsigned short* src, int stride, int in_h,
                                             const int* starts, const short* weights, int taps,
                                             int out_w, int shift, short* tmp) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= out_w || y >= in_h) return;
    const unsigned short* row = src + (long long)y * stride + starts[x];
    const short* w = weights + (long long)x * taps;
    int acc = 0;
    for (int j = 0; j < taps; ++j) acc += (int)row[j] * (int)w[j];
    int v = acc >> shift;
    tmp[(long long)y * out_w + x] = (short)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
}

__device__ __forceinline__ int lv_resample_v(const short* tmp, int width, int x, int y,
                                             const int* starts, const short* weights, int taps,
                                             int shift, int max) {
    const short* w = weights + (long long)y * taps;
    int acc = 1 << (shift - 1);
    for (int j = 0; j < taps; ++j)
        acc += (int)tmp[(long long)(starts[y] + j) * width + x] * (int)w[j];
    int v = acc >> shift;
    return v < 0 ? 0 : v > max ? max : v;
}

extern "C" __global__ void lv_resample_v_u8(const short* tmp, int out_w, int out_h,
                                            const int* starts, const short* weights, int taps,
                                            int shift, unsigned char* dst, int dst_stride) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= out_w || y >= out_h) return;
    dst[(long long)y * dst_stride + x] =
        (unsigned char)lv_resample_v(tmp, out_w, x, y, starts, weights, taps, shift, 255);
}

extern "C" __global__ void lv_resample_v_u16(const short* tmp, int out_w, int out_h,
                                             const int* starts, const short* weights, int taps,
                                             int shift, int max, unsigned short* dst,
                                             int dst_stride) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= out_w || y >= out_h) return;
    dst[(long long)y * dst_stride + x] =
        (unsigned short)lv_resample_v(tmp, out_w, x, y, starts, weights, taps, shift, max);
}
