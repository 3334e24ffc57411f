// The kernel sources compiled for the CPU through host_shim.h, and one C entry point per
// kernel that runs a launch of it (grid and block as the GPU launch would use them).
#include "host_shim.h"

#include "adm.cu"
#include "conv.cu"
#include "motion.cu"
#include "psnr.cu"
#include "resample.cu"
#include "ssim.cu"
#include "train.cu"
#include "vif.cu"

#define LV_DIMS unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz
#define LV_GRID dim3{gx, gy, gz}, dim3{bx, by, bz}

extern "C" {
void lv_host_sse_u8(LV_DIMS, const unsigned char* a, const unsigned char* b, int w, int h,
                    int sa, int sb, unsigned long long* total) {
    lv_emu::launch(lv_sse_u8, LV_GRID, a, b, w, h, sa, sb, total);
}
void lv_host_sse_u16(LV_DIMS, const unsigned short* a, const unsigned short* b, int w, int h,
                     int sa, int sb, unsigned long long* total) {
    lv_emu::launch(lv_sse_u16, LV_GRID, a, b, w, h, sa, sb, total);
}
void lv_host_motion_row_sad(LV_DIMS, const unsigned short* prev, const unsigned short* cur,
                            int w, int h, int stride, int bpc, unsigned int* row_sad) {
    lv_emu::launch(lv_motion_row_sad, LV_GRID, prev, cur, w, h, stride, bpc, row_sad);
}
void lv_host_conv3x3(LV_DIMS, const float* x, const float* wt, const float* bias,
                     const float* addend, float* y, int cin, int cout, int h, int w, int relu) {
    lv_emu::launch(lv_conv3x3, LV_GRID, x, wt, bias, addend, y, cin, cout, h, w, relu);
}
void lv_host_space_to_depth2(LV_DIMS, const float* x, float* y, int h, int w) {
    lv_emu::launch(lv_space_to_depth2, LV_GRID, x, y, h, w);
}
void lv_host_vif_stat_u8(LV_DIMS, const unsigned char* r, const unsigned char* d, int w, int h,
                         int stride, int scale, int bpc, const unsigned short* table,
                         double gain_limit, unsigned long long* sums) {
    lv_emu::launch(lv_vif_stat_u8, LV_GRID, r, d, w, h, stride, scale, bpc, table, gain_limit, sums);
}
void lv_host_vif_stat_u16(LV_DIMS, const unsigned short* r, const unsigned short* d, int w, int h,
                          int stride, int scale, int bpc, const unsigned short* table,
                          double gain_limit, unsigned long long* sums) {
    lv_emu::launch(lv_vif_stat_u16, LV_GRID, r, d, w, h, stride, scale, bpc, table, gain_limit, sums);
}
void lv_host_vif_subsample_u8(LV_DIMS, const unsigned char* r, const unsigned char* d, int w, int h,
                              int stride, int scale, int bpc, unsigned short* out_r,
                              unsigned short* out_d) {
    lv_emu::launch(lv_vif_subsample_u8, LV_GRID, r, d, w, h, stride, scale, bpc, out_r, out_d);
}
void lv_host_vif_subsample_u16(LV_DIMS, const unsigned short* r, const unsigned short* d, int w,
                               int h, int stride, int scale, int bpc, unsigned short* out_r,
                               unsigned short* out_d) {
    lv_emu::launch(lv_vif_subsample_u16, LV_GRID, r, d, w, h, stride, scale, bpc, out_r, out_d);
}
void lv_host_resample_h_u8(LV_DIMS, const unsigned char* src, int stride, int in_h, const int* st,
                           const short* w, int taps, int out_w, int shift, short* tmp) {
    lv_emu::launch(lv_resample_h_u8, LV_GRID, src, stride, in_h, st, w, taps, out_w, shift, tmp);
}
void lv_host_resample_h_u16(LV_DIMS, const unsigned short* src, int stride, int in_h,
                            const int* st, const short* w, int taps, int out_w, int shift,
                            short* tmp) {
    lv_emu::launch(lv_resample_h_u16, LV_GRID, src, stride, in_h, st, w, taps, out_w, shift, tmp);
}
void lv_host_resample_v_u8(LV_DIMS, const short* tmp, int out_w, int out_h, const int* st,
                           const short* w, int taps, int shift, unsigned char* dst, int ds) {
    lv_emu::launch(lv_resample_v_u8, LV_GRID, tmp, out_w, out_h, st, w, taps, shift, dst, ds);
}
void lv_host_resample_v_u16(LV_DIMS, const short* tmp, int out_w, int out_h, const int* st,
                            const short* w, int taps, int shift, int max, unsigned short* dst,
                            int ds) {
    lv_emu::launch(lv_resample_v_u16, LV_GRID, tmp, out_w, out_h, st, w, taps, shift, max, dst, ds);
}
void lv_host_ssim_map(LV_DIMS, const float* r, const float* d, int w, int h, double* map) {
    lv_emu::launch(lv_ssim_map, LV_GRID, r, d, w, h, map);
}
void lv_host_conv3x3_backward_data(LV_DIMS, const float* wt, const float* dy, float* dx, int cin,
                                   int cout, int h, int w) {
    lv_emu::launch(lv_conv3x3_backward_data, LV_GRID, wt, dy, dx, cin, cout, h, w);
}
void lv_host_conv3x3_backward_weight(LV_DIMS, const float* x, const float* dy, float* dw, int cin,
                                     int cout, int h, int w) {
    lv_emu::launch(lv_conv3x3_backward_weight, LV_GRID, x, dy, dw, cin, cout, h, w);
}
void lv_host_conv_backward_bias(LV_DIMS, const float* dy, float* db, int cout, int hw) {
    lv_emu::launch(lv_conv_backward_bias, LV_GRID, dy, db, cout, hw);
}
void lv_host_relu_backward(LV_DIMS, const float* act, float* g, int n) {
    lv_emu::launch(lv_relu_backward, LV_GRID, act, g, n);
}
void lv_host_adam_step(LV_DIMS, float* p, const float* g, float* m, float* v, int n, float b1,
                       float b2, float step, float eps) {
    lv_emu::launch(lv_adam_step, LV_GRID, p, g, m, v, n, b1, b2, step, eps);
}
void lv_host_filter_decimate(LV_DIMS, const float* src, int w, int h, const float* k, int kw,
                             int step, float* dst, int dw, int dh) {
    lv_emu::launch(lv_filter_decimate, LV_GRID, src, w, h, k, kw, step, dst, dw, dh);
}
void lv_host_adm_dwt_v_u8(LV_DIMS, const unsigned char* r, int rs, const unsigned char* d, int ds,
                          int w, int h, int bpc, int* tmp) {
    lv_emu::launch(lv_adm_dwt_v_u8, LV_GRID, r, rs, d, ds, w, h, bpc, tmp);
}
void lv_host_adm_dwt_v_u16(LV_DIMS, const unsigned short* r, int rs, const unsigned short* d,
                           int ds, int w, int h, int bpc, int* tmp) {
    lv_emu::launch(lv_adm_dwt_v_u16, LV_GRID, r, rs, d, ds, w, h, bpc, tmp);
}
void lv_host_adm_dwt_v_s(LV_DIMS, const int* bands, int w, int h, int scale, int* tmp) {
    lv_emu::launch(lv_adm_dwt_v_s, LV_GRID, bands, w, h, scale, tmp);
}
void lv_host_adm_dwt_h(LV_DIMS, const int* tmp, int w_in, int ho, int scale, int* bands) {
    lv_emu::launch(lv_adm_dwt_h, LV_GRID, tmp, w_in, ho, scale, bands);
}
void lv_host_adm_decouple(LV_DIMS, const int* bands, int w, int h, int l, int r, int t, int b,
                          int scale, double gain_limit, double cos_sq, unsigned rf_h,
                          unsigned rf_v, unsigned rf_d, int* mask) {
    lv_emu::launch(lv_adm_decouple, LV_GRID, bands, w, h, l, r, t, b, scale, gain_limit, cos_sq,
                   rf_h, rf_v, rf_d, mask);
}
void lv_host_adm_cm(LV_DIMS, const int* mask, int w, int h, int l, int r, int t, int b, int scale,
                    unsigned rf_h, unsigned rf_v, unsigned rf_d, int cub_h, int cub_v, int cub_d,
                    unsigned long long* rows) {
    lv_emu::launch(lv_adm_cm, LV_GRID, mask, w, h, l, r, t, b, scale, rf_h, rf_v, rf_d, cub_h,
                   cub_v, cub_d, rows);
}
void lv_host_adm_den(LV_DIMS, const int* bands, int w, int h, int l, int r, int t, int b,
                     int scale, int sq, int shift_cub, unsigned long long* rows) {
    lv_emu::launch(lv_adm_den, LV_GRID, bands, w, h, l, r, t, b, scale, sq, shift_cub, rows);
}
void lv_host_depth_to_space2_add(LV_DIMS, const float* x, const float* skip, float* y, int h,
                                 int w) {
    lv_emu::launch(lv_depth_to_space2_add, LV_GRID, x, skip, y, h, w);
}
}
