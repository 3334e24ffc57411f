// libvmaf's float SSIM (lv_metrics::ssim, after its decimation step): one thread per pixel of
// the SSIM map ((w - 10) x (h - 10)). It recomputes the 11 horizontal Gaussian sums each of its
// vertical taps needs, for the means and the three second moments, in the CPU path's order:
// f32 products summed in f64, rounded to f32 per pass. It writes the map's four terms (l*c*s,
// l, c, s, in f64); the caller sums them in row-major order, as the CPU path does, so the
// means are identical. Compiled without FMA contraction (see kernels.rs): contraction would
// change the f32 and f64 expressions below.

__device__ __forceinline__ float lv_ssim_tap(int k) {
    const float g[11] = {0.001028f, 0.007599f, 0.036001f, 0.109361f, 0.213006f, 0.266012f,
                         0.213006f, 0.109361f, 0.036001f, 0.007599f, 0.001028f};
    return g[k];
}

// The horizontal pass of moment m (0: r, 1: d, 2: r*r, 3: d*d, 4: r*d) at row y, column x.
__device__ __forceinline__ float lv_ssim_h(const float* r, const float* d, int w, int x, int y,
                                           int m) {
    double acc = 0.0;
    for (int u = 0; u < 11; ++u) {
        long long i = (long long)y * w + x + u;
        float a = r[i], b = d[i];
        float v = m == 0 ? a : m == 1 ? b : m == 2 ? a * a : m == 3 ? b * b : a * b;
        acc += (double)(v * lv_ssim_tap(u));
    }
    return (float)acc;
}

extern "C" __global__ void lv_ssim_map(const float* r, const float* d, int w, int h,
                                       double* map) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int dw = w - 10, dh = h - 10;
    if (x >= dw || y >= dh) return;
    float st[5];
    for (int m = 0; m < 5; ++m) {
        double acc = 0.0;
        for (int v = 0; v < 11; ++v) acc += (double)(lv_ssim_h(r, d, w, x, y + v, m) * lv_ssim_tap(v));
        st[m] = (float)acc;
    }
    const float k1 = 0.01f, k2 = 0.03f;
    const float c1 = (k1 * 255.0f) * (k1 * 255.0f);
    const float c2 = (k2 * 255.0f) * (k2 * 255.0f);
    const float c3 = c2 / 2.0f;
    float m1 = st[0], m2 = st[1];
    float var_r = st[2] - m1 * m1;
    float var_d = st[3] - m2 * m2;
    if (0.0f > var_r) var_r = 0.0f;
    if (0.0f > var_d) var_d = 0.0f;
    float cov = st[4] - m1 * m2;
    float sd = sqrtf(var_r * var_d);
    double l = (2.0 * (double)m1 * (double)m2 + (double)c1) / (double)(m1 * m1 + m2 * m2 + c1);
    double c = (2.0 * (double)sd + (double)c2) / (double)(var_r + var_d + c2);
    if (cov < 0.0f && sd <= 0.0f) cov = 0.0f;
    double s = (double)((cov + c3) / (sd + c3));
    long long o = (long long)y * dw + x, n = (long long)dw * dh;
    map[o] = l * c * s;
    map[n + o] = l;
    map[2 * n + o] = c;
    map[3 * n + o] = s;
}

// libvmaf's reflection at the borders for the SSIM family's filters (lv_metrics::ssim::reflect).
__device__ __forceinline__ int lv_ssim_reflect(int i, int n) {
    int r = i < 0 ? -1 - i : i >= n ? n - (i - n) - 1 : i;
    return r < 0 ? 0 : r > n - 1 ? n - 1 : r;
}

// A kw x kw filter sampled every `step` pixels (lv_metrics::ssim::filter_pixel at
// (x * step, y * step)): SSIM's box decimation (step = kw = factor) and MS-SSIM's 9x9
// low-pass pyramid step (step 2). f32 products summed in f64, rows then columns, as the CPU.
extern "C" __global__ void lv_filter_decimate(const float* src, int w, int h, const float* k,
                                              int kw, int step, float* dst, int dw, int dh) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= dw || y >= dh) return;
    int c = kw / 2, sx = x * step, sy = y * step;
    double sum = 0.0;
    for (int v = 0; v < kw; ++v) {
        long long row = (long long)lv_ssim_reflect(sy + v - c, h) * w;
        for (int u = 0; u < kw; ++u)
            sum += (double)(src[row + lv_ssim_reflect(sx + u - c, w)] * k[v * kw + u]);
    }
    dst[(long long)y * dw + x] = (float)sum;
}
