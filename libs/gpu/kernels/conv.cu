// The layers of the refinement networks (lv_graph::net::RefineNet, ONNX layouts, one image,
// channels-first): 3x3 convolution with zero padding, bias and optional ReLU; space-to-depth
// and depth-to-space by 2 (DCR), and the residual add. One thread per output sample. Sums run
// over input channels, then kernel rows, then kernel columns, in f32.
#include "lv_kernel.h"

// `addend` (may be null): a tensor of y's shape added before the activation (the linear
// branch of RefineNet joins the last layer's output this way).
extern "C" __global__ void lv_conv3x3(const float* x, const float* wt, const float* bias,
                                      const float* addend, float* y, int cin, int cout, int h,
                                      int w, int relu) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    int i = blockIdx.y * blockDim.y + threadIdx.y;
    int co = blockIdx.z;
    if (j >= w || i >= h || co >= cout) return;
    float acc = bias[co];
    for (int ci = 0; ci < cin; ++ci) {
        const float* xc = x + (long long)ci * h * w;
        const float* k = wt + ((long long)co * cin + ci) * 9;
        for (int ky = 0; ky < 3; ++ky) {
            int yy = i + ky - 1;
            if (yy < 0 || yy >= h) continue;
            for (int kx = 0; kx < 3; ++kx) {
                int xx = j + kx - 1;
                if (xx < 0 || xx >= w) continue;
                acc += k[ky * 3 + kx] * xc[(long long)yy * w + xx];
            }
        }
    }
    long long o = ((long long)co * h + i) * w + j;
    if (addend) acc += addend[o];
    if (relu && acc < 0.0f) acc = 0.0f;
    y[o] = acc;
}

// [1, H, W] -> [4, H/2, W/2]: channel (dy * 2 + dx) holds the samples at (2i + dy, 2j + dx).
extern "C" __global__ void lv_space_to_depth2(const float* x, float* y, int h, int w) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    int i = blockIdx.y * blockDim.y + threadIdx.y;
    int hh = h / 2, hw = w / 2;
    if (j >= hw || i >= hh) return;
    for (int c = 0; c < 4; ++c) {
        int dy = c / 2, dx = c % 2;
        y[((long long)c * hh + i) * hw + j] = x[(long long)(2 * i + dy) * w + 2 * j + dx];
    }
}

// [4, H/2, W/2] -> [1, H, W] (the inverse of lv_space_to_depth2), plus `skip` (the residual).
extern "C" __global__ void lv_depth_to_space2_add(const float* x, const float* skip, float* y,
                                                  int h, int w) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    int i = blockIdx.y * blockDim.y + threadIdx.y;
    if (j >= w || i >= h) return;
    int c = (i % 2) * 2 + (j % 2);
    int hh = h / 2, hw = w / 2;
    long long o = (long long)i * w + j;
    y[o] = x[((long long)c * hh + i / 2) * hw + j / 2] + skip[o];
}
