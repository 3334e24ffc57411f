//! The kernels run on the CPU through the host emulation (kernels/host_shim.h), with the
//! launch geometry of [`crate::launch`]. Each wrapper checks the buffer sizes the kernel will
//! touch before the call, so no safe call reads or writes out of bounds.

use crate::launch::{self, Dims};
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
    assert!(h % 2 == 0 && w % 2 == 0 && x.len() == h * w);
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
    assert!(h % 2 == 0 && w % 2 == 0 && x.len() == h * w && skip.len() == h * w);
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
