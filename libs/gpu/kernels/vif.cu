// libvmaf's integer VIF (lv_metrics::vif_int), one scale per launch pair:
//
// - lv_vif_stat_*: one thread per pixel of the scale. It filters the means and second moments
//   with the scale's filter (vertical pass with libvmaf's rounding shifts, then horizontal),
//   forms the variances, covariance and the log-domain information terms exactly as the CPU
//   path does, and adds its four integer terms to the scale's sums (64-bit atomics: integer
//   sums, so the totals do not depend on the order threads finish in).
// - lv_vif_subsample_*: one thread per pixel of the next scale: the next filter's low-pass at
//   the kept (even) rows and columns, rounded to 16 bits.
//
// Whole values are kept in 64 bits here where the CPU path splits them into 16-bit halves to
// stay in 32-bit lanes; the two give the same results (shown in vif_int.rs's Shifts::join).
// Float steps use explicit round-to-nearest operations: FMA contraction would change them.
#include "lv_kernel.h"

__device__ __forceinline__ unsigned int lv_vif_tap(int filter, int k) {
    const unsigned int f0[17] = {489,  935,  1640, 2640, 3896, 5274, 6547, 7455, 7784,
                                 7455, 6547, 5274, 3896, 2640, 1640, 935,  489};
    const unsigned int f1[9] = {1244, 3663, 7925, 12590, 14692, 12590, 7925, 3663, 1244};
    const unsigned int f2[5] = {3571, 16004, 26386, 16004, 3571};
    const unsigned int f3[3] = {10904, 43728, 10904};
    switch (filter) {
        case 0: return f0[k];
        case 1: return f1[k];
        case 2: return f2[k];
        default: return f3[k];
    }
}

__device__ __forceinline__ int lv_vif_half(int filter) {
    return filter == 0 ? 8 : filter == 1 ? 4 : filter == 2 ? 2 : 1;
}

// log2(v) * 2048 from the table, from the 16 most significant bits of v (v >= 2^15).
__device__ __forceinline__ int lv_log2_fixed(const unsigned short* table, unsigned long long v) {
    int k = 48 - __clzll((long long)v);
    return (int)table[(unsigned short)(v >> k)] + 2048 * k;
}

template <class T>
__device__ void lv_vif_stat(const T* ref, const T* dis, int w, int h, int stride, int scale,
                            int bpc, const unsigned short* table, double gain_limit,
                            unsigned long long* sums) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    int i = blockIdx.y * blockDim.y + threadIdx.y;
    if (j >= w || i >= h) return;
    const int half = lv_vif_half(scale);
    const int fw = 2 * half + 1;
    // Rounding shifts of the vertical pass (scale 0 scales by the bit depth).
    unsigned int mu_shift = scale == 0 ? (unsigned)bpc : 16u;
    unsigned long long mu_round = 1ull << (mu_shift - 1);
    unsigned int sq_shift = scale == 0 ? 2u * (unsigned)(bpc - 8) : 16u;
    unsigned long long sq_round = sq_shift == 0 ? 0ull : 1ull << (sq_shift - 1);

    unsigned long long m1 = 0, m2 = 0, xx = 0, yy = 0, xy = 0;
    for (int kx = 0; kx < fw; ++kx) {
        int col = lv_mirror(j + kx - half, w);
        unsigned long long a1 = 0, a2 = 0, axx = 0, ayy = 0, axy = 0;
        for (int ky = 0; ky < fw; ++ky) {
            long long r = (long long)lv_mirror(i + ky - half, h) * stride + col;
            unsigned long long c = lv_vif_tap(scale, ky);
            unsigned long long x = ref[r], y = dis[r];
            a1 += c * x;
            a2 += c * y;
            axx += c * (x * x);
            ayy += c * (y * y);
            axy += c * (x * y);
        }
        unsigned long long c = lv_vif_tap(scale, kx);
        m1 += c * ((a1 + mu_round) >> mu_shift & 0xffffull);
        m2 += c * ((a2 + mu_round) >> mu_shift & 0xffffull);
        xx += c * ((axx + sq_round) >> sq_shift & 0xffffffffull);
        yy += c * ((ayy + sq_round) >> sq_shift & 0xffffffffull);
        xy += c * ((axy + sq_round) >> sq_shift & 0xffffffffull);
    }
    unsigned int mu1 = (unsigned int)m1, mu2 = (unsigned int)m2;
    unsigned int sxx = (unsigned int)((xx + 32768) >> 16);
    unsigned int syy = (unsigned int)((yy + 32768) >> 16);
    unsigned int sxy = (unsigned int)((xy + 32768) >> 16);

    const int sigma_nsq = 2 << 16;
    const unsigned int nsq = (unsigned int)sigma_nsq;
    const double eps = 65536.0 * 1.0e-10;
#define LV_PROD(a, b) ((unsigned int)(((unsigned long long)(a) * (unsigned long long)(b) + (1ull << 31)) >> 32))
    int sigma1_sq = (int)(sxx - LV_PROD(mu1, mu1));
    int sigma2_sq = (int)(syy - LV_PROD(mu2, mu2));
    if (sigma2_sq < 0) sigma2_sq = 0;
    int sigma12 = (int)(sxy - LV_PROD(mu1, mu2));
#undef LV_PROD
    bool is_log = sigma1_sq >= sigma_nsq;
    bool has_num = is_log && sigma12 > 0 && sigma2_sq > 0;

    long long num_log = 0, den_log = 0, num_non_log = 0, den_non_log = 0;
    if (is_log) {
        den_log = lv_log2_fixed(table, (unsigned long long)(nsq + (unsigned int)sigma1_sq)) - 2048 * 17;
        if (has_num) {
            double g = __ddiv_rn((double)sigma12, __dadd_rn((double)sigma1_sq, eps));
            double sv = __dsub_rn((double)sigma2_sq, __dmul_rn(g, (double)sigma12));
            unsigned int sv_sq = sv > 0.0 ? (unsigned int)(long long)floor(sv) : 0u;
            if (!(g < gain_limit)) g = gain_limit;
            unsigned int numer1 = sv_sq + nsq;
            long long numer1_tmp =
                (long long)floor(__dmul_rn(__dmul_rn(g, g), (double)sigma1_sq)) + (long long)numer1;
            num_log = lv_log2_fixed(table, (unsigned long long)numer1_tmp) -
                      lv_log2_fixed(table, (unsigned long long)numer1);
        }
    } else {
        num_non_log = sigma2_sq;
        den_non_log = 1;
    }
    if (num_log) atomicAdd(sums + 0, (unsigned long long)num_log);
    if (den_log) atomicAdd(sums + 1, (unsigned long long)den_log);
    if (num_non_log) atomicAdd(sums + 2, (unsigned long long)num_non_log);
    if (den_non_log) atomicAdd(sums + 3, (unsigned long long)den_non_log);
}

template <class T>
__device__ void lv_vif_subsample(const T* ref, const T* dis, int w, int h, int stride, int scale,
                                 int bpc, unsigned short* out_ref, unsigned short* out_dis) {
    int jo = blockIdx.x * blockDim.x + threadIdx.x;
    int io = blockIdx.y * blockDim.y + threadIdx.y;
    int wo = w / 2, ho = h / 2;
    if (jo >= wo || io >= ho) return;
    const int filter = scale + 1;
    const int half = lv_vif_half(filter);
    const int fw = 2 * half + 1;
    unsigned int mu_shift = scale == 0 ? (unsigned)bpc : 16u;
    unsigned int mu_round = 1u << (mu_shift - 1);
    unsigned int sr = 0, sd = 0;
    for (int kx = 0; kx < fw; ++kx) {
        int col = lv_mirror(2 * jo + kx - half, w);
        unsigned int vr = 0, vd = 0;
        for (int ky = 0; ky < fw; ++ky) {
            long long r = (long long)lv_mirror(2 * io + ky - half, h) * stride + col;
            unsigned int c = lv_vif_tap(filter, ky);
            vr += c * (unsigned int)ref[r];
            vd += c * (unsigned int)dis[r];
        }
        unsigned int c = lv_vif_tap(filter, kx);
        sr += c * (unsigned int)(unsigned short)((vr + mu_round) >> mu_shift);
        sd += c * (unsigned int)(unsigned short)((vd + mu_round) >> mu_shift);
    }
    out_ref[(long long)io * wo + jo] = (unsigned short)((sr + 32768u) >> 16);
    out_dis[(long long)io * wo + jo] = (unsigned short)((sd + 32768u) >> 16);
}

extern "C" __global__ void lv_vif_stat_u8(const unsigned char* ref, const unsigned char* dis, int w,
                                          int h, int stride, int scale, int bpc,
                                          const unsigned short* table, double gain_limit,
                                          unsigned long long* sums) {
    lv_vif_stat(ref, dis, w, h, stride, scale, bpc, table, gain_limit, sums);
}
extern "C" __global__ void lv_vif_stat_u16(const unsigned short* ref, const unsigned short* dis,
                                           int w, int h, int stride, int scale, int bpc,
                                           const unsigned short* table, double gain_limit,
                                           unsigned long long* sums) {
    lv_vif_stat(ref, dis, w, h, stride, scale, bpc, table, gain_limit, sums);
}
extern "C" __global__ void lv_vif_subsample_u8(const unsigned char* ref, const unsigned char* dis,
                                               int w, int h, int stride, int scale, int bpc,
                                               unsigned short* out_ref, unsigned short* out_dis) {
    lv_vif_subsample(ref, dis, w, h, stride, scale, bpc, out_ref, out_dis);
}
extern "C" __global__ void lv_vif_subsample_u16(const unsigned short* ref,
                                                const unsigned short* dis, int w, int h,
                                                int stride, int scale, int bpc,
                                                unsigned short* out_ref, unsigned short* out_dis) {
    lv_vif_subsample(ref, dis, w, h, stride, scale, bpc, out_ref, out_dis);
}
