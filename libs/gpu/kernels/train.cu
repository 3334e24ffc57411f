// The online training step of the refinement networks (lv_train): the backward pass of a 3x3
// convolution with zero padding (input gradient, weight and bias gradients), the ReLU mask, and
// Adam's update. One thread per output element; the weight and bias gradients loop over every
// pixel in row-major order and accumulate in f64 (deterministic: no atomics), which suits the
// small patches online training works on. Adam is compiled without FMA contraction and
// matches lv_train::Adam bit for bit; the gradients match within f32 rounding of other sums.

// dx[ci][y][x] = sum over co, ky, kx of w[co][ci][ky][kx] * dy[co][y + 1 - ky][x + 1 - kx].
extern "C" __global__ void lv_conv3x3_backward_data(const float* wt, const float* dy, float* dx,
                                                    int cin, int cout, int h, int w) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    int ci = blockIdx.z;
    if (x >= w || y >= h || ci >= cin) return;
    double acc = 0.0;
    for (int co = 0; co < cout; ++co) {
        const float* k = wt + ((long long)co * cin + ci) * 9;
        const float* g = dy + (long long)co * h * w;
        for (int ky = 0; ky < 3; ++ky) {
            int yy = y + 1 - ky;
            if (yy < 0 || yy >= h) continue;
            for (int kx = 0; kx < 3; ++kx) {
                int xx = x + 1 - kx;
                if (xx < 0 || xx >= w) continue;
                acc += (double)(k[ky * 3 + kx] * g[(long long)yy * w + xx]);
            }
        }
    }
    dx[((long long)ci * h + y) * w + x] = (float)acc;
}

// dw[co][ci][ky][kx] += sum over pixels of dy[co][y][x] * x[ci][y + ky - 1][x + kx - 1];
// one thread per weight (grid x: cin * 9, y: cout).
extern "C" __global__ void lv_conv3x3_backward_weight(const float* x, const float* dy, float* dw,
                                                      int cin, int cout, int h, int w) {
    int k = blockIdx.x * blockDim.x + threadIdx.x;
    int co = blockIdx.y * blockDim.y + threadIdx.y;
    if (k >= cin * 9 || co >= cout) return;
    int ci = k / 9, ky = (k % 9) / 3, kx = k % 3;
    const float* xc = x + (long long)ci * h * w;
    const float* g = dy + (long long)co * h * w;
    double acc = 0.0;
    for (int yy = 0; yy < h; ++yy) {
        int sy = yy + ky - 1;
        if (sy < 0 || sy >= h) continue;
        for (int xx = 0; xx < w; ++xx) {
            int sx = xx + kx - 1;
            if (sx < 0 || sx >= w) continue;
            acc += (double)(g[(long long)yy * w + xx] * xc[(long long)sy * w + sx]);
        }
    }
    dw[(long long)co * cin * 9 + k] += (float)acc;
}

// db[co] += sum of dy[co] (f64, row-major).
extern "C" __global__ void lv_conv_backward_bias(const float* dy, float* db, int cout, int hw) {
    int co = blockIdx.x * blockDim.x + threadIdx.x;
    if (co >= cout) return;
    double acc = 0.0;
    for (int i = 0; i < hw; ++i) acc += (double)dy[(long long)co * hw + i];
    db[co] += (float)acc;
}

// g[i] = act[i] > 0 ? g[i] : 0 (ReLU's backward, given the ReLU's output).
extern "C" __global__ void lv_relu_backward(const float* act, float* g, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n && !(act[i] > 0.0f)) g[i] = 0.0f;
}

// One Adam update; `step` = lr * sqrt(1 - beta2^t) / (1 - beta1^t) and `eps` = eps *
// sqrt(1 - beta2^t), computed on the host as lv_train::Adam does.
extern "C" __global__ void lv_adam_step(float* p, const float* g, float* m, float* v, int n,
                                        float beta1, float beta2, float step, float eps) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float gi = g[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
    v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    p[i] -= step * m[i] / (sqrtf(v[i]) + eps);
}
