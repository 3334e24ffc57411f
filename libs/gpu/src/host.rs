//! The kernels run on the CPU through the host emulation (kernels/host_shim.h), with the
//! launch geometry of [`crate::launch`]. Each wrapper checks the buffer sizes the kernel will
//! touch before the call, so no safe call reads or writes out of bounds.

use crate::adm::AdmRowSums;
use crate::launch::{self, Dims};
use lv_image::plane::{Plane, Samples};
use lv_metrics::adm_int::AdmPlan;
use std::os::raw::{c_int, c_uint};

macro_rules! dims_args {
    ($d:expr) => {
        (
            $d.grid.0, $d.grid.1, $d.grid.2, $d.block.0, $d.block.1, $d.block.2,
        )
    };
}

extern "C" {
    fn lv_host_sse_u8(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        a: *const u8,
        b: *const u8,
        w: c_int,
        h: c_int,
        sa: c_int,
        sb: c_int,
        total: *mut u64,
    );
    fn lv_host_sse_u16(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        a: *const u16,
        b: *const u16,
        w: c_int,
        h: c_int,
        sa: c_int,
        sb: c_int,
        total: *mut u64,
    );
    fn lv_host_motion_row_sad(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        prev: *const u16,
        cur: *const u16,
        w: c_int,
        h: c_int,
        stride: c_int,
        bpc: c_int,
        row_sad: *mut u32,
    );
    fn lv_host_conv3x3(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        x: *const f32,
        wt: *const f32,
        bias: *const f32,
        addend: *const f32,
        y: *mut f32,
        cin: c_int,
        cout: c_int,
        h: c_int,
        w: c_int,
        relu: c_int,
    );
    fn lv_host_space_to_depth2(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        x: *const f32,
        y: *mut f32,
        h: c_int,
        w: c_int,
    );
    fn lv_host_vif_stat_u8(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        r: *const u8,
        d: *const u8,
        w: c_int,
        h: c_int,
        stride: c_int,
        scale: c_int,
        bpc: c_int,
        table: *const u16,
        gain_limit: f64,
        sums: *mut u64,
    );
    fn lv_host_vif_stat_u16(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        r: *const u16,
        d: *const u16,
        w: c_int,
        h: c_int,
        stride: c_int,
        scale: c_int,
        bpc: c_int,
        table: *const u16,
        gain_limit: f64,
        sums: *mut u64,
    );
    fn lv_host_vif_subsample_u8(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        r: *const u8,
        d: *const u8,
        w: c_int,
        h: c_int,
        stride: c_int,
        scale: c_int,
        bpc: c_int,
        out_r: *mut u16,
        out_d: *mut u16,
    );
    fn lv_host_vif_subsample_u16(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        r: *const u16,
        d: *const u16,
        w: c_int,
        h: c_int,
        stride: c_int,
        scale: c_int,
        bpc: c_int,
        out_r: *mut u16,
        out_d: *mut u16,
    );
    fn lv_host_resample_h_u8(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        src: *const u8,
        stride: c_int,
        in_h: c_int,
        starts: *const c_int,
        w: *const i16,
        taps: c_int,
        out_w: c_int,
        shift: c_int,
        tmp: *mut i16,
    );
    fn lv_host_resample_h_u16(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        src: *const u16,
        stride: c_int,
        in_h: c_int,
        starts: *const c_int,
        w: *const i16,
        taps: c_int,
        out_w: c_int,
        shift: c_int,
        tmp: *mut i16,
    );
    fn lv_host_resample_v_u8(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        tmp: *const i16,
        out_w: c_int,
        out_h: c_int,
        starts: *const c_int,
        w: *const i16,
        taps: c_int,
        shift: c_int,
        dst: *mut u8,
        dst_stride: c_int,
    );
    fn lv_host_resample_v_u16(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        tmp: *const i16,
        out_w: c_int,
        out_h: c_int,
        starts: *const c_int,
        w: *const i16,
        taps: c_int,
        shift: c_int,
        max: c_int,
        dst: *mut u16,
        dst_stride: c_int,
    );
    fn lv_host_ssim_map(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        r: *const f32,
        d: *const f32,
        w: c_int,
        h: c_int,
        map: *mut f64,
    );
    fn lv_host_conv3x3_backward_data(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        wt: *const f32,
        dy: *const f32,
        dx: *mut f32,
        cin: c_int,
        cout: c_int,
        h: c_int,
        w: c_int,
    );
    fn lv_host_conv3x3_backward_weight(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        x: *const f32,
        dy: *const f32,
        dw: *mut f32,
        cin: c_int,
        cout: c_int,
        h: c_int,
        w: c_int,
    );
    fn lv_host_conv_backward_bias(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        dy: *const f32,
        db: *mut f32,
        cout: c_int,
        hw: c_int,
    );
    fn lv_host_relu_backward(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        act: *const f32,
        g: *mut f32,
        n: c_int,
    );
    fn lv_host_adam_step(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        p: *mut f32,
        g: *const f32,
        m: *mut f32,
        v: *mut f32,
        n: c_int,
        b1: f32,
        b2: f32,
        step: f32,
        eps: f32,
    );
    fn lv_host_filter_decimate(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        src: *const f32,
        w: c_int,
        h: c_int,
        k: *const f32,
        kw: c_int,
        step: c_int,
        dst: *mut f32,
        dw: c_int,
        dh: c_int,
    );
    fn lv_host_depth_to_space2_add(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        x: *const f32,
        skip: *const f32,
        y: *mut f32,
        h: c_int,
        w: c_int,
    );
    fn lv_host_adm_dwt_v_u8(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        r: *const u8,
        rs: c_int,
        d: *const u8,
        ds: c_int,
        w: c_int,
        h: c_int,
        bpc: c_int,
        tmp: *mut i32,
    );
    fn lv_host_adm_dwt_v_u16(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        r: *const u16,
        rs: c_int,
        d: *const u16,
        ds: c_int,
        w: c_int,
        h: c_int,
        bpc: c_int,
        tmp: *mut i32,
    );
    fn lv_host_adm_dwt_v_s(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        bands: *const i32,
        w: c_int,
        h: c_int,
        scale: c_int,
        tmp: *mut i32,
    );
    fn lv_host_adm_dwt_h(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        tmp: *const i32,
        w_in: c_int,
        ho: c_int,
        scale: c_int,
        bands: *mut i32,
    );
    fn lv_host_adm_decouple(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        bands: *const i32,
        w: c_int,
        h: c_int,
        l: c_int,
        r: c_int,
        t: c_int,
        b: c_int,
        scale: c_int,
        gain_limit: f64,
        cos_sq: f64,
        rf_h: c_uint,
        rf_v: c_uint,
        rf_d: c_uint,
        mask: *mut i32,
    );
    fn lv_host_adm_cm(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        mask: *const i32,
        w: c_int,
        h: c_int,
        l: c_int,
        r: c_int,
        t: c_int,
        b: c_int,
        scale: c_int,
        rf_h: c_uint,
        rf_v: c_uint,
        rf_d: c_uint,
        cub_h: c_int,
        cub_v: c_int,
        cub_d: c_int,
        rows: *mut u64,
    );
    fn lv_host_adm_den(
        gx: c_uint,
        gy: c_uint,
        gz: c_uint,
        bx: c_uint,
        by: c_uint,
        bz: c_uint,
        bands: *const i32,
        w: c_int,
        h: c_int,
        l: c_int,
        r: c_int,
        t: c_int,
        b: c_int,
        scale: c_int,
        sq: c_int,
        shift_cub: c_int,
        rows: *mut u64,
    );
}

fn int(v: usize) -> c_int {
    c_int::try_from(v).expect("size fits a C int")
}

/// The samples a `w`x`h` plane with `stride` occupies.
fn plane_len(w: usize, h: usize, stride: usize) -> usize {
    assert!(stride >= w, "stride {stride} < width {w}");
    if h == 0 {
        0
    } else {
        (h - 1) * stride + w
    }
}

/// `lv_sse_u8`: the sum of squared differences of two 8-bit planes.
pub fn sse_u8(a: &[u8], b: &[u8], w: usize, h: usize, sa: usize, sb: usize) -> u64 {
    assert!(a.len() >= plane_len(w, h, sa) && b.len() >= plane_len(w, h, sb));
    let d: Dims = launch::sse(w, h);
    let (gx, gy, gz, bx, by, bz) = dims_args!(d);
    let mut total = 0u64;
    // SAFETY: sizes checked above; the kernel reads rows 0..h, columns 0..w of each plane.
    unsafe {
        lv_host_sse_u8(
            gx,
            gy,
            gz,
            bx,
            by,
            bz,
            a.as_ptr(),
            b.as_ptr(),
            int(w),
            int(h),
            int(sa),
            int(sb),
            &mut total,
        )
    };
    total
}

/// `lv_sse_u16`: the same for 9..16-bit planes (strides in samples).
pub fn sse_u16(a: &[u16], b: &[u16], w: usize, h: usize, sa: usize, sb: usize) -> u64 {
    assert!(a.len() >= plane_len(w, h, sa) && b.len() >= plane_len(w, h, sb));
    let d = launch::sse(w, h);
    let (gx, gy, gz, bx, by, bz) = dims_args!(d);
    let mut total = 0u64;
    // SAFETY: as in `sse_u8`.
    unsafe {
        lv_host_sse_u16(
            gx,
            gy,
            gz,
            bx,
            by,
            bz,
            a.as_ptr(),
            b.as_ptr(),
            int(w),
            int(h),
            int(sa),
            int(sb),
            &mut total,
        )
    };
    total
}

/// `lv_motion_row_sad`, rows summed in 64 bits: libvmaf's integer motion SAD of two frames.
pub fn motion_sad(prev: &[u16], cur: &[u16], w: usize, h: usize, stride: usize, bpc: u32) -> u64 {
    assert!(w >= 3 && h >= 3 && (8..=16).contains(&bpc));
    let n = plane_len(w, h, stride);
    assert!(prev.len() >= n && cur.len() >= n);
    let d = launch::per_sample(w, h, 1);
    let (gx, gy, gz, bx, by, bz) = dims_args!(d);
    let mut rows = vec![0u32; h];
    // SAFETY: sizes checked; the kernel writes row_sad[0..h].
    unsafe {
        lv_host_motion_row_sad(
            gx,
            gy,
            gz,
            bx,
            by,
            bz,
            prev.as_ptr(),
            cur.as_ptr(),
            int(w),
            int(h),
            int(stride),
            bpc as c_int,
            rows.as_mut_ptr(),
        )
    };
    rows.iter().map(|&r| r as u64).sum()
}

/// `lv_conv3x3`: `[cin, h, w]` → `[cout, h, w]`, weights `[cout][cin][3][3]`, zero padding.
#[allow(clippy::too_many_arguments)]
pub fn conv3x3(
    x: &[f32],
    wt: &[f32],
    bias: &[f32],
    addend: Option<&[f32]>,
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
    relu: bool,
) -> Vec<f32> {
    assert!(x.len() == cin * h * w && wt.len() == cout * cin * 9 && bias.len() == cout);
    let mut y = vec![0f32; cout * h * w];
    if let Some(a) = addend {
        assert_eq!(a.len(), y.len());
    }
    let d = launch::per_sample(w, h, cout);
    let (gx, gy, gz, bx, by, bz) = dims_args!(d);
    // SAFETY: sizes checked above.
    unsafe {
        lv_host_conv3x3(
            gx,
            gy,
            gz,
            bx,
            by,
            bz,
            x.as_ptr(),
            wt.as_ptr(),
            bias.as_ptr(),
            addend.map_or(std::ptr::null(), |a| a.as_ptr()),
            y.as_mut_ptr(),
            int(cin),
            int(cout),
            int(h),
            int(w),
            relu as c_int,
        )
    };
    y
}

/// `lv_space_to_depth2`: `[1, h, w]` → `[4, h/2, w/2]` (`h`, `w` even).
pub fn space_to_depth2(x: &[f32], h: usize, w: usize) -> Vec<f32> {
    assert!(h.is_multiple_of(2) && w.is_multiple_of(2) && x.len() == h * w);
    let mut y = vec![0f32; h * w];
    let d = launch::per_sample(w / 2, h / 2, 1);
    let (gx, gy, gz, bx, by, bz) = dims_args!(d);
    // SAFETY: sizes checked above.
    unsafe {
        lv_host_space_to_depth2(
            gx,
            gy,
            gz,
            bx,
            by,
            bz,
            x.as_ptr(),
            y.as_mut_ptr(),
            int(h),
            int(w),
        )
    };
    y
}

/// `lv_depth_to_space2_add`: `[4, h/2, w/2]` → `[1, h, w]`, plus `skip`.
pub fn depth_to_space2_add(x: &[f32], skip: &[f32], h: usize, w: usize) -> Vec<f32> {
    assert!(h.is_multiple_of(2) && w.is_multiple_of(2) && x.len() == h * w && skip.len() == h * w);
    let mut y = vec![0f32; h * w];
    let d = launch::per_sample(w, h, 1);
    let (gx, gy, gz, bx, by, bz) = dims_args!(d);
    // SAFETY: sizes checked above.
    unsafe {
        lv_host_depth_to_space2_add(
            gx,
            gy,
            gz,
            bx,
            by,
            bz,
            x.as_ptr(),
            skip.as_ptr(),
            y.as_mut_ptr(),
            int(h),
            int(w),
        )
    };
    y
}

/// Samples of one input plane: 8-bit, or 9..16-bit in `u16`.
#[derive(Clone, Copy, Debug)]
pub enum HostSamples<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
}

/// libvmaf's integer VIF of one frame through `lv_vif_stat_*` and `lv_vif_subsample_*`, scale
/// by scale, as the GPU backend launches them: per scale the four integer sums `[num_log,
/// den_log, num_non_log, den_non_log]` that `lv_metrics::vif_int::num_den_from_sums` turns
/// into libvmaf's numerator and denominator.
#[allow(clippy::too_many_arguments)]
pub fn vif_num_den(
    r: HostSamples,
    d: HostSamples,
    w: usize,
    h: usize,
    stride: usize,
    bpc: u32,
    gain_limit: f64,
    table: &[u16; 65536],
) -> [[i64; 4]; 4] {
    let n = plane_len(w, h, stride);
    match (r, d) {
        (HostSamples::U8(a), HostSamples::U8(b)) => {
            assert!(bpc == 8 && a.len() >= n && b.len() >= n)
        }
        (HostSamples::U16(a), HostSamples::U16(b)) => {
            assert!((9..=16).contains(&bpc) && a.len() >= n && b.len() >= n)
        }
        _ => panic!("reference and distorted samples must share a type"),
    }
    assert!(w >> 3 >= 2 && h >> 3 >= 2, "VIF needs 16x16 or more");
    let mut out = [[0i64; 4]; 4];
    let (mut cur_r, mut cur_d) = (Vec::<u16>::new(), Vec::<u16>::new());
    #[allow(clippy::needless_range_loop)] // the scale index drives sizes, kernels and `out`
    for s in 0..4 {
        let (ws, hs) = (w >> s, h >> s);
        let st = if s == 0 { stride } else { ws };
        let mut sums = [0u64; 4];
        let dims = launch::per_sample(ws, hs, 1);
        let (gx, gy, gz, bx, by, bz) = dims_args!(dims);
        let (wi, hi, si, sc, bi) = (int(ws), int(hs), int(st), s as c_int, bpc as c_int);
        // SAFETY: inputs hold `plane_len(ws, hs, st)` samples (checked above for scale 0; the
        // packed scales are built here at ws*hs); `sums` holds 4 counters; `table` 65536 entries.
        unsafe {
            match (s, r, d) {
                (0, HostSamples::U8(a), HostSamples::U8(b)) => lv_host_vif_stat_u8(
                    gx,
                    gy,
                    gz,
                    bx,
                    by,
                    bz,
                    a.as_ptr(),
                    b.as_ptr(),
                    wi,
                    hi,
                    si,
                    sc,
                    bi,
                    table.as_ptr(),
                    gain_limit,
                    sums.as_mut_ptr(),
                ),
                (0, HostSamples::U16(a), HostSamples::U16(b)) => lv_host_vif_stat_u16(
                    gx,
                    gy,
                    gz,
                    bx,
                    by,
                    bz,
                    a.as_ptr(),
                    b.as_ptr(),
                    wi,
                    hi,
                    si,
                    sc,
                    bi,
                    table.as_ptr(),
                    gain_limit,
                    sums.as_mut_ptr(),
                ),
                _ => lv_host_vif_stat_u16(
                    gx,
                    gy,
                    gz,
                    bx,
                    by,
                    bz,
                    cur_r.as_ptr(),
                    cur_d.as_ptr(),
                    wi,
                    hi,
                    si,
                    sc,
                    bi,
                    table.as_ptr(),
                    gain_limit,
                    sums.as_mut_ptr(),
                ),
            }
        }
        // Two's complement: the 64-bit atomics added the signed terms as unsigned.
        out[s] = sums.map(|v| v as i64);
        if s == 3 {
            break;
        }
        let (wo, ho) = (ws / 2, hs / 2);
        let (mut nr, mut nd) = (vec![0u16; wo * ho], vec![0u16; wo * ho]);
        let dims = launch::per_sample(wo, ho, 1);
        let (gx, gy, gz, bx, by, bz) = dims_args!(dims);
        // SAFETY: as above; the outputs hold wo*ho samples.
        unsafe {
            match (s, r, d) {
                (0, HostSamples::U8(a), HostSamples::U8(b)) => lv_host_vif_subsample_u8(
                    gx,
                    gy,
                    gz,
                    bx,
                    by,
                    bz,
                    a.as_ptr(),
                    b.as_ptr(),
                    wi,
                    hi,
                    si,
                    sc,
                    bi,
                    nr.as_mut_ptr(),
                    nd.as_mut_ptr(),
                ),
                (0, HostSamples::U16(a), HostSamples::U16(b)) => lv_host_vif_subsample_u16(
                    gx,
                    gy,
                    gz,
                    bx,
                    by,
                    bz,
                    a.as_ptr(),
                    b.as_ptr(),
                    wi,
                    hi,
                    si,
                    sc,
                    bi,
                    nr.as_mut_ptr(),
                    nd.as_mut_ptr(),
                ),
                _ => lv_host_vif_subsample_u16(
                    gx,
                    gy,
                    gz,
                    bx,
                    by,
                    bz,
                    cur_r.as_ptr(),
                    cur_d.as_ptr(),
                    wi,
                    hi,
                    si,
                    sc,
                    bi,
                    nr.as_mut_ptr(),
                    nd.as_mut_ptr(),
                ),
            }
        }
        (cur_r, cur_d) = (nr, nd);
    }
    out
}

/// libvmaf's integer ADM of one frame through the `lv_adm_*` kernels, scale by scale, as the
/// GPU backend launches them: per scale the integer row sums that
/// [`crate::adm::scores_from_row_sums`] finishes into `lv_metrics::adm_int::IntegerAdm`'s
/// scores. The planes may have different strides; their size and depth must be the plan's.
pub fn adm_sums(r: &Plane, d: &Plane, plan: &AdmPlan) -> AdmRowSums {
    let (w, h, bpc) = (plan.width(), plan.height(), plan.bpc());
    for p in [r, d] {
        assert!(p.width == w && p.height == h && p.bpc == bpc);
        let n = plane_len(w, h, p.stride);
        match p.samples {
            Samples::U8(v) => assert!(bpc == 8 && v.len() >= n),
            Samples::U16(v) => assert!(bpc > 8 && v.len() >= n),
        }
    }
    let gain = plan.options().enhn_gain_limit;
    let cos_sq = plan.cos_1deg_sq();
    let mut out = AdmRowSums::default();
    // The previous scale's bands, [ref, dis][a, h, v, d][h][w].
    let mut bands = Vec::<i32>::new();
    for s in 0..4 {
        let c = plan.scale(s);
        let (wi, hi, wo, ho) = (c.w_in, c.h_in, c.w, c.h);
        assert!(
            wo == wi.div_ceil(2) && ho == hi.div_ceil(2) && (s == 0 || bands.len() == 8 * wi * hi)
        );
        // The vertical pass: [ref, dis][lo, hi][ho][wi].
        let mut tmp = vec![0i32; 4 * ho * wi];
        let (gx, gy, gz, bx, by, bz) = dims_args!(launch::per_sample(wi, ho, 2));
        let (wic, hic, sc) = (int(wi), int(hi), s as c_int);
        // SAFETY: the planes hold `plane_len(w, h, stride)` samples (checked above) and every
        // tap lies inside them (rows mirrored into 0..h); the previous scale's bands hold
        // 2 x 4 x wi x hi values (checked); `tmp` holds 2 x 2 x ho x wi.
        unsafe {
            match (s, r.samples, d.samples) {
                (0, Samples::U8(a), Samples::U8(b)) => lv_host_adm_dwt_v_u8(
                    gx,
                    gy,
                    gz,
                    bx,
                    by,
                    bz,
                    a.as_ptr(),
                    int(r.stride),
                    b.as_ptr(),
                    int(d.stride),
                    wic,
                    hic,
                    bpc as c_int,
                    tmp.as_mut_ptr(),
                ),
                (0, Samples::U16(a), Samples::U16(b)) => lv_host_adm_dwt_v_u16(
                    gx,
                    gy,
                    gz,
                    bx,
                    by,
                    bz,
                    a.as_ptr(),
                    int(r.stride),
                    b.as_ptr(),
                    int(d.stride),
                    wic,
                    hic,
                    bpc as c_int,
                    tmp.as_mut_ptr(),
                ),
                (0, _, _) => panic!("reference and distorted samples must share a type"),
                _ => lv_host_adm_dwt_v_s(
                    gx,
                    gy,
                    gz,
                    bx,
                    by,
                    bz,
                    bands.as_ptr(),
                    wic,
                    hic,
                    sc,
                    tmp.as_mut_ptr(),
                ),
            }
        }
        // The horizontal pass: this scale's bands.
        bands = vec![0i32; 8 * wo * ho];
        let (gx, gy, gz, bx, by, bz) = dims_args!(launch::per_sample(wo, ho, 2));
        // SAFETY: `tmp` holds 2 x 2 x ho x wi values, `bands` 2 x 4 x wo x ho.
        unsafe {
            lv_host_adm_dwt_h(
                gx,
                gy,
                gz,
                bx,
                by,
                bz,
                tmp.as_ptr(),
                wic,
                int(ho),
                sc,
                bands.as_mut_ptr(),
            )
        };
        let (woc, hoc) = (int(wo), int(ho));
        let rf = c.rf_fixed;
        // Decoupling over the work region: [rh, rv, rd, flt, ctr][ho][wo].
        let [l, rr, t, b] = c.work;
        assert!(l < rr && rr <= wo && t < b && b <= ho);
        let mut mask = vec![0i32; 5 * wo * ho];
        let (gx, gy, gz, bx, by, bz) = dims_args!(launch::per_sample(rr - l, b - t, 1));
        // SAFETY: the region lies inside the wo x ho bands (checked); `mask` holds 5 x wo x ho.
        unsafe {
            lv_host_adm_decouple(
                gx,
                gy,
                gz,
                bx,
                by,
                bz,
                bands.as_ptr(),
                woc,
                hoc,
                int(l),
                int(rr),
                int(t),
                int(b),
                sc,
                gain,
                cos_sq,
                rf[0],
                rf[1],
                rf[2],
                mask.as_mut_ptr(),
            )
        };
        // Masking and the cubes over the pooling region, summed per row.
        let [pl, pr, pt, pb] = c.pool;
        assert!(pl < pr && pr <= wo && pt < pb && pb <= ho);
        let rows = pb - pt;
        let (mut num, mut den) = (vec![0u64; 3 * rows], vec![0u64; 3 * rows]);
        let (gx, gy, gz, bx, by, bz) = dims_args!(launch::per_sample(pr - pl, rows, 1));
        let (plc, prc, ptc, pbc) = (int(pl), int(pr), int(pt), int(pb));
        let cub = c.cm_cube_shift.map(|v| v as c_int);
        // SAFETY: the region and its 3x3 neighbourhood (folded at the edges) lie inside the
        // bands; `num` and `den` hold 3 counters per pooled row.
        unsafe {
            lv_host_adm_cm(
                gx,
                gy,
                gz,
                bx,
                by,
                bz,
                mask.as_ptr(),
                woc,
                hoc,
                plc,
                prc,
                ptc,
                pbc,
                sc,
                rf[0],
                rf[1],
                rf[2],
                cub[0],
                cub[1],
                cub[2],
                num.as_mut_ptr(),
            );
            lv_host_adm_den(
                gx,
                gy,
                gz,
                bx,
                by,
                bz,
                bands.as_ptr(),
                woc,
                hoc,
                plc,
                prc,
                ptc,
                pbc,
                sc,
                c.den_square_shift as c_int,
                c.den_cube_shift as c_int,
                den.as_mut_ptr(),
            );
        }
        out.push_scale(s, &num, &den);
    }
    out
}

/// One axis of a resampler as the kernels take it: window starts and fixed-point weights.
pub(crate) struct AxisTables {
    pub(crate) starts: Vec<c_int>,
    pub(crate) weights: Vec<i16>,
    pub(crate) taps: usize,
}

impl AxisTables {
    /// The same tables for the host emulation and the device launch.
    pub(crate) fn of(f: &lv_image::resample::AxisFilter) -> AxisTables {
        let n = f.out_len();
        let starts = (0..n).map(|o| int(f.start(o))).collect();
        let weights = (0..n).flat_map(|o| f.fixed_weights(o).to_vec()).collect();
        AxisTables {
            starts,
            weights,
            taps: f.taps(),
        }
    }
}

/// `lv_resample_h_*` then `lv_resample_v_*`: the integer resampler of `lv_image::resample`
/// for 8..14-bit samples with the tables of `r` (`Resampler::taps`); the output packed, as
/// `u16` for every depth.
pub fn resample(
    src: HostSamples,
    stride: usize,
    bpc: u32,
    r: &lv_image::resample::Resampler,
) -> Vec<u16> {
    let (hf, vf) = r.taps();
    let (in_w, in_h, out_w, out_h) = (hf.in_len(), vf.in_len(), hf.out_len(), vf.out_len());
    let n = plane_len(in_w, in_h, stride);
    match src {
        HostSamples::U8(s) => assert!(bpc == 8 && s.len() >= n),
        HostSamples::U16(s) => assert!((9..=14).contains(&bpc) && s.len() >= n),
    }
    let (h, v) = (AxisTables::of(hf), AxisTables::of(vf));
    // Every window lies inside the source (the tables fold the edges).
    for o in 0..out_w {
        assert!(h.starts[o] as usize + h.taps <= in_w);
    }
    for o in 0..out_h {
        assert!(v.starts[o] as usize + v.taps <= in_h);
    }
    let mut tmp = vec![0i16; in_h * out_w];
    let d = launch::per_sample(out_w, in_h, 1);
    let (gx, gy, gz, bx, by, bz) = dims_args!(d);
    let (st, ih, taps, ow, sh) = (
        int(stride),
        int(in_h),
        int(h.taps),
        int(out_w),
        bpc as c_int - 1,
    );
    // SAFETY: windows checked inside the source; `tmp` holds in_h x out_w.
    unsafe {
        match src {
            HostSamples::U8(s) => lv_host_resample_h_u8(
                gx,
                gy,
                gz,
                bx,
                by,
                bz,
                s.as_ptr(),
                st,
                ih,
                h.starts.as_ptr(),
                h.weights.as_ptr(),
                taps,
                ow,
                sh,
                tmp.as_mut_ptr(),
            ),
            HostSamples::U16(s) => lv_host_resample_h_u16(
                gx,
                gy,
                gz,
                bx,
                by,
                bz,
                s.as_ptr(),
                st,
                ih,
                h.starts.as_ptr(),
                h.weights.as_ptr(),
                taps,
                ow,
                sh,
                tmp.as_mut_ptr(),
            ),
        }
    }
    let d = launch::per_sample(out_w, out_h, 1);
    let (gx, gy, gz, bx, by, bz) = dims_args!(d);
    let (oh, vt, vsh) = (int(out_h), int(v.taps), 27 - bpc as c_int);
    // SAFETY: windows checked inside `tmp`'s rows; the outputs hold out_w x out_h.
    unsafe {
        if bpc == 8 {
            let mut out = vec![0u8; out_w * out_h];
            lv_host_resample_v_u8(
                gx,
                gy,
                gz,
                bx,
                by,
                bz,
                tmp.as_ptr(),
                ow,
                oh,
                v.starts.as_ptr(),
                v.weights.as_ptr(),
                vt,
                vsh,
                out.as_mut_ptr(),
                ow,
            );
            out.into_iter().map(u16::from).collect()
        } else {
            let mut out = vec![0u16; out_w * out_h];
            lv_host_resample_v_u16(
                gx,
                gy,
                gz,
                bx,
                by,
                bz,
                tmp.as_ptr(),
                ow,
                oh,
                v.starts.as_ptr(),
                v.weights.as_ptr(),
                vt,
                vsh,
                (1 << bpc) - 1,
                out.as_mut_ptr(),
                ow,
            );
            out
        }
    }
}

/// `lv_ssim_map` on packed `f32` planes in the 8-bit range (after libvmaf's decimation), its
/// map then averaged in row-major order: the means (SSIM, l, c, s) as libvmaf's float SSIM
/// reports them (`f32`).
pub fn ssim_means(r: &[f32], d: &[f32], w: usize, h: usize) -> [f32; 4] {
    assert!(w >= 11 && h >= 11 && r.len() == w * h && d.len() == w * h);
    let (dw, dh) = (w - 10, h - 10);
    let n = dw * dh;
    let mut map = vec![0f64; 4 * n];
    let dims = launch::per_sample(dw, dh, 1);
    let (gx, gy, gz, bx, by, bz) = dims_args!(dims);
    // SAFETY: sizes checked; the map holds 4 x dw x dh.
    unsafe {
        lv_host_ssim_map(
            gx,
            gy,
            gz,
            bx,
            by,
            bz,
            r.as_ptr(),
            d.as_ptr(),
            int(w),
            int(h),
            map.as_mut_ptr(),
        )
    };
    std::array::from_fn(|k| (map[k * n..(k + 1) * n].iter().sum::<f64>() / n as f64) as f32)
}

/// The backward pass of `lv_conv3x3` for one image (`x`: its input `[cin, h, w]`, `dy`: the
/// gradient of its output `[cout, h, w]`): accumulates into `dw` and `db`, returns `dx`.
#[allow(clippy::too_many_arguments)]
pub fn conv3x3_backward(
    x: &[f32],
    wt: &[f32],
    dy: &[f32],
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
    dw: &mut [f32],
    db: &mut [f32],
) -> Vec<f32> {
    assert!(x.len() == cin * h * w && dy.len() == cout * h * w && wt.len() == cout * cin * 9);
    assert!(dw.len() == wt.len() && db.len() == cout);
    let mut dx = vec![0f32; cin * h * w];
    let (ci, co, hi, wi) = (int(cin), int(cout), int(h), int(w));
    let d = launch::per_sample(w, h, cin);
    let (gx, gy, gz, bx, by, bz) = dims_args!(d);
    // SAFETY: sizes checked above for this and the next two launches.
    unsafe {
        lv_host_conv3x3_backward_data(
            gx,
            gy,
            gz,
            bx,
            by,
            bz,
            wt.as_ptr(),
            dy.as_ptr(),
            dx.as_mut_ptr(),
            ci,
            co,
            hi,
            wi,
        )
    };
    let d = launch::weights(cin, cout);
    let (gx, gy, gz, bx, by, bz) = dims_args!(d);
    unsafe {
        lv_host_conv3x3_backward_weight(
            gx,
            gy,
            gz,
            bx,
            by,
            bz,
            x.as_ptr(),
            dy.as_ptr(),
            dw.as_mut_ptr(),
            ci,
            co,
            hi,
            wi,
        )
    };
    let d = launch::linear(cout);
    let (gx, gy, gz, bx, by, bz) = dims_args!(d);
    unsafe {
        lv_host_conv_backward_bias(
            gx,
            gy,
            gz,
            bx,
            by,
            bz,
            dy.as_ptr(),
            db.as_mut_ptr(),
            co,
            int(h * w),
        )
    };
    dx
}

/// `lv_relu_backward`: zeroes `g` where the ReLU's output `act` is not positive.
pub fn relu_backward(act: &[f32], g: &mut [f32]) {
    assert_eq!(act.len(), g.len());
    let d = launch::linear(g.len());
    let (gx, gy, gz, bx, by, bz) = dims_args!(d);
    // SAFETY: equal lengths checked.
    unsafe {
        lv_host_relu_backward(
            gx,
            gy,
            gz,
            bx,
            by,
            bz,
            act.as_ptr(),
            g.as_mut_ptr(),
            int(g.len()),
        )
    };
}

/// Adam's state on the kernels' side, with lv_train::Adam's hyper-parameters.
pub struct AdamState {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub t: u64,
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

impl AdamState {
    pub fn new(n: usize) -> Self {
        AdamState {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            t: 0,
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    /// `lv_adam_step` over `params` with the bias-corrected step computed as lv_train's Adam does.
    pub fn step(&mut self, params: &mut [f32], grad: &[f32], lr: f32) {
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let (step, eps) = lv_train::adam::bias_corrected(b1, b2, self.eps, self.t, lr);
        adam_update(params, grad, &mut self.m, &mut self.v, b1, b2, step, eps);
    }
}

/// `lv_adam_step`: one Adam update with this step's bias-corrected `step` and `eps`
/// (`lv_train::Adam::advance`).
#[allow(clippy::too_many_arguments)]
pub fn adam_update(
    params: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    beta1: f32,
    beta2: f32,
    step: f32,
    eps: f32,
) {
    let n = params.len();
    assert!(grad.len() == n && m.len() == n && v.len() == n);
    let d = launch::linear(n);
    let (gx, gy, gz, bx, by, bz) = dims_args!(d);
    // SAFETY: all four arrays hold n values (checked).
    unsafe {
        lv_host_adam_step(
            gx,
            gy,
            gz,
            bx,
            by,
            bz,
            params.as_mut_ptr(),
            grad.as_ptr(),
            m.as_mut_ptr(),
            v.as_mut_ptr(),
            int(n),
            beta1,
            beta2,
            step,
            eps,
        )
    };
}

/// `lv_filter_decimate`: the `kw x kw` filter `k` at every `step`-th pixel of `src` (`w x h`),
/// reflected at the borders; `(w / step + (w & 1)) x (h / step + (h & 1))` outputs, as
/// libvmaf's SSIM decimation and MS-SSIM pyramid size them.
pub fn filter_decimate(
    src: &[f32],
    w: usize,
    h: usize,
    k: &[f32],
    kw: usize,
    step: usize,
) -> (Vec<f32>, usize, usize) {
    assert!(src.len() == w * h && k.len() == kw * kw && step >= 1 && kw >= 1);
    let (dw, dh) = (w / step + (w & 1), h / step + (h & 1));
    let mut dst = vec![0f32; dw * dh];
    let d = launch::per_sample(dw, dh, 1);
    let (gx, gy, gz, bx, by, bz) = dims_args!(d);
    // SAFETY: sizes checked; reflection keeps every read inside `src`.
    unsafe {
        lv_host_filter_decimate(
            gx,
            gy,
            gz,
            bx,
            by,
            bz,
            src.as_ptr(),
            int(w),
            int(h),
            k.as_ptr(),
            int(kw),
            int(step),
            dst.as_mut_ptr(),
            int(dw),
            int(dh),
        )
    };
    (dst, dw, dh)
}
