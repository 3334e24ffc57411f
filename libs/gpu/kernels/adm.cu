// libvmaf's integer ADM (lv_metrics::adm_int), one scale per launch sequence:
//
// - lv_adm_dwt_v_u8 / lv_adm_dwt_v_u16 (scale 0, the image) and lv_adm_dwt_v_s (scales 1..3,
//   the previous scale's approximation band): the wavelet's vertical pass, one thread per
//   sample of an output row: the low- and high-pass of its 4 source rows.
// - lv_adm_dwt_h: the horizontal pass, one thread per band sample: the a, h, v, d bands.
// - lv_adm_decouple: one thread per sample of the decoupling region: the angle test, the
//   restored detail (h, v, d) and the additive part's CSF turned into the masking filter's
//   sums (|csf| / 30 and the centre term |csf| / 15, over the three orientations).
// - lv_adm_cm: one thread per pooled sample: the masking threshold from the 3x3 neighbourhood
//   of those sums, and the restored detail's masked, rounded cubes.
// - lv_adm_den: one thread per pooled sample: the reference detail's cubes.
//
// The two pooling kernels add their integer terms to per-row sums (64-bit atomics: integer
// sums, so the result does not depend on the order threads finish in); the host finishes
// them in the CPU path's order (lv_metrics::adm_int::AdmPlan), where floats come in.
//
// The wavelet launches run the reference (blockIdx.z = 0) and the distorted plane (z = 1)
// together. Buffers, each plane's part after the other's:
//   tmp   [2][lo, hi][h_out][w_in]   the vertical pass's output rows
//   bands [2][a, h, v, d][h][w]      one scale's bands
//   mask  [rh, rv, rd, flt, ctr][h][w]   restored detail and masking sums (work region only)
//   rows  [pooled rows][h, v, d]     per-row sums
//
// Integer steps are the CPU path's reference transcription (libvmaf's C): 32-bit sums that
// wrap where libvmaf's do (done in unsigned arithmetic, where wrapping is defined), 16-bit
// stores truncated, 64-bit products where libvmaf widens. The few float steps (the angle test,
// the gain limit) use explicit round-to-nearest operations: FMA contraction would change them.
#include "lv_kernel.h"

__device__ __forceinline__ int lv_adm_lo(int k) {
    const int lo[4] = {15826, 27411, 7345, -4240};
    return lo[k];
}
__device__ __forceinline__ int lv_adm_hi(int k) {
    const int hi[4] = {-4240, -7345, 27411, -15826};
    return hi[k];
}

// Source index of tap k (0..3) of output i for an input of n samples: 2i-1..2i+2, the first
// output reflected (1, 0, 1, 2), the far end mirrored with the edge sample repeated.
__device__ __forceinline__ int lv_adm_tap(int i, int k, int n) {
    if (i == 0) return k == 0 ? 1 : k - 1;
    int x = 2 * i - 1 + k;
    return x >= n ? 2 * n - x - 1 : x;
}

// libvmaf's int32 arithmetic, wrapping as its sums do (signed overflow is undefined in C).
__device__ __forceinline__ int lv_wadd(int a, int b) { return (int)((unsigned)a + (unsigned)b); }
__device__ __forceinline__ int lv_wsub(int a, int b) { return (int)((unsigned)a - (unsigned)b); }
__device__ __forceinline__ int lv_wmul(int a, int b) { return (int)((unsigned)a * (unsigned)b); }
__device__ __forceinline__ int lv_wabs(int a) { return a < 0 ? (int)(0u - (unsigned)a) : a; }
__device__ __forceinline__ unsigned lv_uabs(int a) { return a < 0 ? 0u - (unsigned)a : (unsigned)a; }
// libvmaf's int16 stores.
__device__ __forceinline__ int lv_i16(int v) { return (int)(short)v; }

template <class T>
__device__ void lv_adm_dwt_v0(const T* ref, int ref_stride, const T* dis, int dis_stride, int w,
                              int h, int bpc, int* tmp) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    int i = blockIdx.y * blockDim.y + threadIdx.y;
    int ho = (h + 1) / 2;
    if (j >= w || i >= ho) return;
    const T* src = blockIdx.z == 0 ? ref : dis;
    int stride = blockIdx.z == 0 ? ref_stride : dis_stride;
    // The low-pass is centred by its DC gain times the rounding constant; at 16 bits the
    // int32 sums overflow in libvmaf and wrap here alike.
    unsigned round = 1u << (bpc - 1);
    unsigned centre = 46342u * round;
    unsigned l = 0, hs = 0;
    for (int k = 0; k < 4; ++k) {
        unsigned s = (unsigned)src[(long long)lv_adm_tap(i, k, h) * stride + j];
        l += (unsigned)lv_adm_lo(k) * s;
        hs += (unsigned)lv_adm_hi(k) * s;
    }
    long long n = (long long)ho * w;
    int* lo = tmp + blockIdx.z * 2 * n + (long long)i * w + j;
    lo[0] = lv_i16((int)(l - centre + round) >> bpc);
    lo[n] = lv_i16((int)(hs + round) >> bpc);
}

extern "C" __global__ void lv_adm_dwt_v_u8(const unsigned char* ref, int ref_stride,
                                           const unsigned char* dis, int dis_stride, int w, int h,
                                           int bpc, int* tmp) {
    lv_adm_dwt_v0(ref, ref_stride, dis, dis_stride, w, h, bpc, tmp);
}
extern "C" __global__ void lv_adm_dwt_v_u16(const unsigned short* ref, int ref_stride,
                                            const unsigned short* dis, int dis_stride, int w,
                                            int h, int bpc, int* tmp) {
    lv_adm_dwt_v0(ref, ref_stride, dis, dis_stride, w, h, bpc, tmp);
}

// Scales 1..3: `bands` holds the previous scale's bands (w x h each); the input is their a
// band. 64-bit sums with libvmaf's per-scale rounding (none at scale 1).
extern "C" __global__ void lv_adm_dwt_v_s(const int* bands, int w, int h, int scale, int* tmp) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    int i = blockIdx.y * blockDim.y + threadIdx.y;
    int ho = (h + 1) / 2;
    if (j >= w || i >= ho) return;
    const int* src = bands + blockIdx.z * 4LL * w * h;
    long long add = scale == 1 ? 0 : 32768;
    int sh = scale == 1 ? 0 : 16;
    long long l = 0, hs = 0;
    for (int k = 0; k < 4; ++k) {
        long long s = src[(long long)lv_adm_tap(i, k, h) * w + j];
        l += lv_adm_lo(k) * s;
        hs += lv_adm_hi(k) * s;
    }
    long long n = (long long)ho * w;
    int* lo = tmp + blockIdx.z * 2 * n + (long long)i * w + j;
    lo[0] = (int)((l + add) >> sh);
    lo[n] = (int)((hs + add) >> sh);
}

// The horizontal pass over the vertical pass's rows (w_in wide, ho of them): a = low-pass of
// lo, v = high-pass of lo, h = low-pass of hi, d = high-pass of hi. Scale 0 in 32-bit (its
// int16 inputs cannot overflow) stored as int16; scales 1..3 in 64-bit.
extern "C" __global__ void lv_adm_dwt_h(const int* tmp, int w_in, int ho, int scale, int* bands) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    int i = blockIdx.y * blockDim.y + threadIdx.y;
    int wo = (w_in + 1) / 2;
    if (j >= wo || i >= ho) return;
    long long n_in = (long long)ho * w_in;
    const int* lo = tmp + blockIdx.z * 2 * n_in + (long long)i * w_in;
    const int* hi = lo + n_in;
    long long n = (long long)ho * wo;
    int* out = bands + blockIdx.z * 4 * n + (long long)i * wo + j;
    if (scale == 0) {
        int al = 0, ah = 0, bl = 0, bh = 0;
        for (int k = 0; k < 4; ++k) {
            int c = lv_adm_tap(j, k, w_in);
            al += lv_adm_lo(k) * lo[c];
            ah += lv_adm_hi(k) * lo[c];
            bl += lv_adm_lo(k) * hi[c];
            bh += lv_adm_hi(k) * hi[c];
        }
        out[0] = lv_i16((al + 32768) >> 16);
        out[n] = lv_i16((bl + 32768) >> 16);
        out[2 * n] = lv_i16((ah + 32768) >> 16);
        out[3 * n] = lv_i16((bh + 32768) >> 16);
    } else {
        long long add = scale == 2 ? 32768 : 16384;
        int sh = scale == 2 ? 16 : 15;
        long long al = 0, ah = 0, bl = 0, bh = 0;
        for (int k = 0; k < 4; ++k) {
            int c = lv_adm_tap(j, k, w_in);
            al += (long long)lv_adm_lo(k) * lo[c];
            ah += (long long)lv_adm_hi(k) * lo[c];
            bl += (long long)lv_adm_lo(k) * hi[c];
            bh += (long long)lv_adm_hi(k) * hi[c];
        }
        out[0] = (int)((al + add) >> sh);
        out[n] = (int)((bl + add) >> sh);
        out[2 * n] = (int)((ah + add) >> sh);
        out[3 * n] = (int)((bh + add) >> sh);
    }
}

// Whether the distorted detail (th, tv) points within 1 degree of the reference's (oh, ov):
// the exact dot products rounded to float once, then double, as libvmaf.
__device__ __forceinline__ bool lv_adm_angle(int oh, int ov, int th, int tv, double cos_sq) {
    long long dot = (long long)oh * th + (long long)ov * tv;
    long long om = (long long)oh * oh + (long long)ov * ov;
    long long tm = (long long)th * th + (long long)tv * tv;
    double ot = (double)(float)dot / 4096.0;
    double o2 = (double)(float)om / 4096.0;
    double t2 = (double)(float)tm / 4096.0;
    return ot >= 0.0 && __dmul_rn(ot, ot) >= __dmul_rn(__dmul_rn(cos_sq, o2), t2);
}

// The enhancement-gain limit: where the angles agree, the restored value becomes
// min(rst * limit, t) (max for negative o), truncated toward zero. It lies between 0 and t,
// so the conversion cannot overflow.
__device__ __forceinline__ int lv_adm_limit(int rst, long long k, int o, int t, bool angle,
                                            double gain_limit) {
    if (!angle || k == 0 || o == 0) return rst;
    double g = __dmul_rn((double)rst, gain_limit);
    double tf = (double)t;
    double v = o > 0 ? (g < tf ? g : tf) : (g > tf ? g : tf);
    return (int)v;
}

// Scale 0 restoration of distorted t by reference o (int16 bands): k = t / o in Q15 from the
// reciprocal 2^30 / |o|, clamped to [0, 1]; returns the restored value, `add` the additive
// part, both int16 as libvmaf stores them.
__device__ __forceinline__ int lv_adm_restore0(int o, int t, bool angle, double gain_limit,
                                               int* add) {
    int k = 32768;
    if (o != 0) {
        long long q = (long long)((1u << 30) / lv_uabs(o));
        if (o < 0) q = -q;
        k = (int)((q * t + 16384) >> 15);
    }
    k = k < 0 ? 0 : k > 32768 ? 32768 : k;
    int rst = lv_i16((k * o + 16384) >> 15);
    rst = lv_i16(lv_adm_limit(rst, k, o, t, angle, gain_limit));
    *add = lv_i16(t - rst);
    return rst;
}

// Scales 1..3 (32-bit bands): the reciprocal of |o| >= 2^15 comes from its top 15 bits,
// rounded, with a matching extra shift; libvmaf forms that shift's rounding constant in an
// int, where 1 << 31 wraps to -2^31.
__device__ __forceinline__ int lv_adm_restore_n(int o, int t, bool angle, double gain_limit,
                                                int* add) {
    long long k = 32768;
    if (o != 0) {
        unsigned ab = lv_uabs(o), msb = ab, shift = 0;
        if (ab >= 32768u) {
            shift = 17u - (unsigned)__clz((int)ab);
            msb = (ab + (1u << (shift - 1))) >> shift;
        }
        long long q = (long long)((1u << 30) / msb);
        long long round = (long long)(int)(1u << (14 + shift));
        k = ((q * t) * (o < 0 ? -1 : 1) + round) >> (15 + shift);
    }
    k = k < 0 ? 0 : k > 32768 ? 32768 : k;
    int rst = (int)((k * o + 16384) >> 15);
    rst = lv_adm_limit(rst, k, o, t, angle, gain_limit);
    *add = lv_wsub(t, rst);
    return rst;
}

// Scale 0 CSF of additive value a with weight rf (Q21 for h and v, Q23 for d, with libvmaf's
// shifts and not-quite-half rounding), stored as int16; adds |csf| / 30 to *flt and |csf| / 15
// to *ctr.
__device__ __forceinline__ void lv_adm_mask0(int a, int rf, int theta, int* flt, int* ctr) {
    int round = theta == 2 ? 65535 : 16384;
    int shift = theta == 2 ? 17 : 15;
    int c = lv_i16(lv_wadd(lv_wmul(rf, a), round) >> shift);
    int ac = c < 0 ? -c : c;
    *flt = lv_wadd(*flt, lv_i16((4369 * ac + 2048) >> 12));
    *ctr = lv_wadd(*ctr, lv_i16((8738 * ac + 2048) >> 12));
}

// CSF at scales 1..3: weight rq in Q32, the result in Q4 (rounded shift by 28).
__device__ __forceinline__ int lv_adm_csf_n(int a, unsigned rq) {
    return (int)(((long long)rq * a + (1LL << 27)) >> 28);
}

// Scales 1..3: |csf| / 30 and / 15 in Q32, where libvmaf's rounding constant 1 << 31 is
// stored in an int32 and so subtracts 2^31.
__device__ __forceinline__ void lv_adm_mask_n(int a, unsigned rq, int* flt, int* ctr) {
    long long ac = (long long)lv_wabs(lv_adm_csf_n(a, rq));
    *flt = lv_wadd(*flt, (int)((143165577LL * ac - (1LL << 31)) >> 32));
    *ctr = lv_wadd(*ctr, (int)((286331153LL * ac - (1LL << 31)) >> 32));
}

// Decoupling over the region [l, r) x [t, b) of w x h bands; rf_* are the scale's CSF weights
// (see lv_adm_mask0 / lv_adm_mask_n).
extern "C" __global__ void lv_adm_decouple(const int* bands, int w, int h, int l, int r, int t,
                                           int b, int scale, double gain_limit, double cos_sq,
                                           unsigned rf_h, unsigned rf_v, unsigned rf_d,
                                           int* mask) {
    int j = l + (int)(blockIdx.x * blockDim.x + threadIdx.x);
    int i = t + (int)(blockIdx.y * blockDim.y + threadIdx.y);
    if (j >= r || i >= b) return;
    long long n = (long long)w * h, x = (long long)i * w + j;
    const int* o = bands + n + x;          // reference h, v, d
    const int* d = bands + 4 * n + n + x;  // distorted h, v, d
    bool angle = lv_adm_angle(o[0], o[n], d[0], d[n], cos_sq);
    unsigned rf[3] = {rf_h, rf_v, rf_d};
    int flt = 0, ctr = 0;
    for (int k = 0; k < 3; ++k) {
        int add;
        if (scale == 0) {
            mask[k * n + x] = lv_adm_restore0(o[k * n], d[k * n], angle, gain_limit, &add);
            lv_adm_mask0(add, (int)rf[k], k, &flt, &ctr);
        } else {
            mask[k * n + x] = lv_adm_restore_n(o[k * n], d[k * n], angle, gain_limit, &add);
            lv_adm_mask_n(add, rf[k], &flt, &ctr);
        }
    }
    mask[3 * n + x] = flt;
    mask[4 * n + x] = ctr;
}

// Contrast masking and the numerator's cubes over the pooling region [l, r) x [t, b): the
// threshold is the 3x3 sum of the masking filter (reflected at the top / left edge, repeated
// at the bottom / right) less the centre, plus the centre term; the restored detail in the
// CSF's fixed point less the threshold, clipped at 0, is cubed with libvmaf's roundings
// (square shifts 29/29/30 at scale 0, 30 above; cube shifts cub_*). Sums per row into rows.
extern "C" __global__ void lv_adm_cm(const int* mask, int w, int h, int l, int r, int t, int b,
                                     int scale, unsigned rf_h, unsigned rf_v, unsigned rf_d,
                                     int cub_h, int cub_v, int cub_d, unsigned long long* rows) {
    int j = l + (int)(blockIdx.x * blockDim.x + threadIdx.x);
    int i = t + (int)(blockIdx.y * blockDim.y + threadIdx.y);
    if (j >= r || i >= b) return;
    long long n = (long long)w * h, x = (long long)i * w + j;
    const int* flt = mask + 3 * n;
    const int* ctr = mask + 4 * n;
    int ys[3] = {i == 0 ? 1 : i - 1, i, i == h - 1 ? h - 1 : i + 1};
    int xs[3] = {j == 0 ? 1 : j - 1, j, j == w - 1 ? w - 1 : j + 1};
    int thr = 0;
    for (int a = 0; a < 3; ++a)
        for (int c = 0; c < 3; ++c) thr = lv_wadd(thr, flt[(long long)ys[a] * w + xs[c]]);
    thr = lv_wadd(lv_wsub(thr, flt[x]), ctr[x]);
    unsigned rf[3] = {rf_h, rf_v, rf_d};
    int cub[3] = {cub_h, cub_v, cub_d};
    for (int k = 0; k < 3; ++k) {
        int v = mask[k * n + x];
        int xv, th, sq;
        if (scale == 0) {
            xv = lv_wmul(v, (int)rf[k]);
            th = (int)((unsigned)thr << (k == 2 ? 12 : 10));
            sq = k == 2 ? 30 : 29;
        } else {
            xv = lv_adm_csf_n(v, rf[k]);
            th = thr;
            sq = 30;
        }
        int ev = lv_wsub(lv_wabs(xv), th);
        long long e = ev > 0 ? ev : 0;
        long long e_sq = (long long)(int)(((unsigned long long)(e * e) + (1ull << (sq - 1))) >> sq);
        long long term = (e_sq * e + (1LL << (cub[k] - 1))) >> cub[k];
        // Two's complement: the host reads the row sums back as signed.
        if (term) atomicAdd(rows + (long long)(i - t) * 3 + k, (unsigned long long)term);
    }
}

// The denominator's cubes of the reference detail over the pooling region: |x|^3 at scale 0
// (int16 bands), libvmaf's rounded cubes above (the square rounded with 1 << sq, not half).
// Sums per row into rows.
extern "C" __global__ void lv_adm_den(const int* bands, int w, int h, int l, int r, int t, int b,
                                      int scale, int sq, int shift_cub, unsigned long long* rows) {
    int j = l + (int)(blockIdx.x * blockDim.x + threadIdx.x);
    int i = t + (int)(blockIdx.y * blockDim.y + threadIdx.y);
    if (j >= r || i >= b) return;
    long long n = (long long)w * h, x = (long long)i * w + j;
    for (int k = 0; k < 3; ++k) {
        unsigned long long a = lv_uabs(bands[(1 + k) * n + x]);
        unsigned long long term;
        if (scale == 0) {
            a = (unsigned short)a;
            term = a * a * a;
        } else {
            term = ((((a * a) + (1ull << sq)) >> sq) * a + (1ull << (shift_cub - 1))) >> shift_cub;
        }
        if (term) atomicAdd(rows + (long long)(i - t) * 3 + k, term);
    }
}
