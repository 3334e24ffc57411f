//! RefineNet's forward pass composed of the kernels, on an [`Executor`]: the device ([`Gpu`]),
//! or the host emulation ([`HostEmulation`], which runs the same kernel sources on the CPU).
//! lv-infer's CUDA backend calls this; the layers come as plain slices so this crate needs
//! no graph crate. The same [`Executor`] runs the integer ADM ([`crate::adm`]).

use crate::adm::AdmRowSums;
use crate::device::Gpu;
use crate::host;
use lv_image::plane::{Plane, Samples};
use lv_image::resample::Resampler;
use lv_metrics::adm_int::AdmPlan;

/// One 3x3 convolution: `[cout][cin][3][3]` weights (ONNX layout) and `cout` biases.
#[derive(Clone, Copy, Debug)]
pub struct Conv<'a> {
    pub cin: usize,
    pub cout: usize,
    pub weight: &'a [f32],
    pub bias: &'a [f32],
}

/// `SpaceToDepth(2) → convs (ReLU between) [+ linear branch on SpaceToDepth(x)] →
/// DepthToSpace(2) → + x`, as lv_graph::net::RefineNet defines it.
#[derive(Clone, Debug)]
pub struct Refine<'a> {
    pub layers: Vec<Conv<'a>>,
    pub skip: Option<Conv<'a>>,
}

/// What runs the kernels.
pub trait Executor: Send + Sync {
    /// For log lines and `backend-in-use`-style reports.
    fn name(&self) -> String;
    #[allow(clippy::too_many_arguments)]
    fn conv3x3(
        &self,
        x: &[f32],
        c: &Conv,
        addend: Option<&[f32]>,
        h: usize,
        w: usize,
        relu: bool,
    ) -> Result<Vec<f32>, String>;
    fn space_to_depth2(&self, x: &[f32], h: usize, w: usize) -> Result<Vec<f32>, String>;
    fn depth_to_space2_add(
        &self,
        x: &[f32],
        skip: &[f32],
        h: usize,
        w: usize,
    ) -> Result<Vec<f32>, String>;
    /// The integer resampler with `r`'s tables on an 8-bit plane (`stride` apart); packed output.
    fn resample_plane_u8(
        &self,
        src: &[u8],
        stride: usize,
        r: &Resampler,
    ) -> Result<Vec<u8>, String>;
    /// libvmaf's integer ADM of one frame pair as integer row sums (see [`crate::adm`], which
    /// finishes them into the scores).
    fn adm_sums(&self, r: &Plane, d: &Plane, plan: &AdmPlan) -> Result<AdmRowSums, String>;
    /// libvmaf's integer VIF of one frame pair (one size and depth, any strides): per scale
    /// the four integer sums `lv_metrics::vif_int::num_den_from_sums` finishes.
    fn vif_sums(&self, r: &Plane, d: &Plane, gain_limit: f64) -> Result<[[i64; 4]; 4], String>;
    /// A 3x3 convolution's backward pass on `[cin, h, w]` input `x`: returns dL/dx and adds
    /// the weight and bias gradients to `dw` and `db` (`c`'s layout).
    #[allow(clippy::too_many_arguments)]
    fn conv3x3_backward(
        &self,
        x: &[f32],
        c: &Conv,
        dy: &[f32],
        h: usize,
        w: usize,
        dw: &mut [f32],
        db: &mut [f32],
    ) -> Result<Vec<f32>, String>;
    /// Zeroes the gradient `g` where the ReLU's output `act` is not positive.
    fn relu_backward(&self, act: &[f32], g: &mut [f32]) -> Result<(), String>;
    /// One Adam update with this step's bias-corrected `step` and `eps`
    /// (`lv_train::Adam::advance`); the slices change only on success.
    #[allow(clippy::too_many_arguments)]
    fn adam_update(
        &self,
        params: &mut [f32],
        grad: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        beta1: f32,
        beta2: f32,
        step: f32,
        eps: f32,
    ) -> Result<(), String>;
}

/// What both executors' VIF needs of a plane pair: one size, depth and sample container, and
/// at least 16x16 (four scales).
pub(crate) fn check_vif_planes(r: &Plane, d: &Plane) -> Result<(), String> {
    let (w, h, bpc) = (r.width, r.height, r.bpc);
    let same_container = std::mem::discriminant(&r.samples) == std::mem::discriminant(&d.samples);
    if (d.width, d.height, d.bpc) != (w, h, bpc) || !same_container || w < 16 || h < 16 {
        return Err(format!(
            "VIF planes {w}x{h}@{bpc} and {}x{}@{} (16x16 or more, one size, depth and \
             sample container)",
            d.width, d.height, d.bpc
        ));
    }
    Ok(())
}

/// The log2 table the VIF kernels look up, built once per process (lv-metrics' own).
pub fn vif_table() -> &'static [u16; 65536] {
    static TABLE: std::sync::OnceLock<Box<[u16; 65536]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(lv_metrics::vif_int::log2_table)
}

/// The kernels on the CPU through the host emulation: for tests of everything above the
/// kernels (lv-infer's backend seam, the elements) on machines without a GPU. Slow.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostEmulation;

impl Executor for HostEmulation {
    fn name(&self) -> String {
        "the CUDA kernels' host emulation".into()
    }
    fn conv3x3(
        &self,
        x: &[f32],
        c: &Conv,
        addend: Option<&[f32]>,
        h: usize,
        w: usize,
        relu: bool,
    ) -> Result<Vec<f32>, String> {
        Ok(host::conv3x3(
            x, c.weight, c.bias, addend, c.cin, c.cout, h, w, relu,
        ))
    }
    fn space_to_depth2(&self, x: &[f32], h: usize, w: usize) -> Result<Vec<f32>, String> {
        Ok(host::space_to_depth2(x, h, w))
    }
    fn depth_to_space2_add(
        &self,
        x: &[f32],
        skip: &[f32],
        h: usize,
        w: usize,
    ) -> Result<Vec<f32>, String> {
        Ok(host::depth_to_space2_add(x, skip, h, w))
    }
    fn resample_plane_u8(
        &self,
        src: &[u8],
        stride: usize,
        r: &Resampler,
    ) -> Result<Vec<u8>, String> {
        let out = host::resample(host::HostSamples::U8(src), stride, 8, r);
        Ok(out.into_iter().map(|v| v as u8).collect())
    }
    fn adm_sums(&self, r: &Plane, d: &Plane, plan: &AdmPlan) -> Result<AdmRowSums, String> {
        Ok(host::adm_sums(r, d, plan))
    }
    fn conv3x3_backward(
        &self,
        x: &[f32],
        c: &Conv,
        dy: &[f32],
        h: usize,
        w: usize,
        dw: &mut [f32],
        db: &mut [f32],
    ) -> Result<Vec<f32>, String> {
        Ok(host::conv3x3_backward(
            x, c.weight, dy, c.cin, c.cout, h, w, dw, db,
        ))
    }
    fn relu_backward(&self, act: &[f32], g: &mut [f32]) -> Result<(), String> {
        host::relu_backward(act, g);
        Ok(())
    }
    fn adam_update(
        &self,
        params: &mut [f32],
        grad: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        beta1: f32,
        beta2: f32,
        step: f32,
        eps: f32,
    ) -> Result<(), String> {
        host::adam_update(params, grad, m, v, beta1, beta2, step, eps);
        Ok(())
    }
    fn vif_sums(&self, r: &Plane, d: &Plane, gain_limit: f64) -> Result<[[i64; 4]; 4], String> {
        check_vif_planes(r, d)?;
        let (w, h, bpc) = (r.width, r.height, r.bpc);
        // The emulated launches take one stride for both planes: pack them when they differ.
        let (rb, db);
        let (r, d) = if r.stride == d.stride {
            (*r, *d)
        } else {
            rb = lv_image::plane::OwnedPlane::copy_from(r, None);
            db = lv_image::plane::OwnedPlane::copy_from(d, None);
            (rb.view(), db.view())
        };
        fn samples<'a>(p: &Plane<'a>) -> host::HostSamples<'a> {
            match p.samples {
                Samples::U8(x) => host::HostSamples::U8(x),
                Samples::U16(x) => host::HostSamples::U16(x),
            }
        }
        Ok(host::vif_num_den(
            samples(&r),
            samples(&d),
            w,
            h,
            r.stride,
            bpc,
            gain_limit,
            vif_table(),
        ))
    }
}

impl Executor for Gpu {
    fn name(&self) -> String {
        format!("CUDA device 0 ({})", Gpu::name(self))
    }
    fn conv3x3(
        &self,
        x: &[f32],
        c: &Conv,
        addend: Option<&[f32]>,
        h: usize,
        w: usize,
        relu: bool,
    ) -> Result<Vec<f32>, String> {
        self.conv3x3_add(x, c.weight, c.bias, addend, c.cin, c.cout, h, w, relu)
    }
    fn space_to_depth2(&self, x: &[f32], h: usize, w: usize) -> Result<Vec<f32>, String> {
        self.s2d(x, h, w)
    }
    fn depth_to_space2_add(
        &self,
        x: &[f32],
        skip: &[f32],
        h: usize,
        w: usize,
    ) -> Result<Vec<f32>, String> {
        self.d2s_add(x, skip, h, w)
    }
    fn resample_plane_u8(
        &self,
        src: &[u8],
        stride: usize,
        r: &Resampler,
    ) -> Result<Vec<u8>, String> {
        let (hf, vf) = r.taps();
        let (w, h) = (hf.in_len(), vf.in_len());
        if stride == w {
            return self.resample_u8(&src[..w * h], r);
        }
        let packed: Vec<u8> = (0..h)
            .flat_map(|y| src[y * stride..y * stride + w].to_vec())
            .collect();
        self.resample_u8(&packed, r)
    }
    fn adm_sums(&self, r: &Plane, d: &Plane, plan: &AdmPlan) -> Result<AdmRowSums, String> {
        self.adm_row_sums(r, d, plan)
    }
    fn vif_sums(&self, r: &Plane, d: &Plane, gain_limit: f64) -> Result<[[i64; 4]; 4], String> {
        Gpu::vif_sums(self, r, d, gain_limit)
    }
    fn conv3x3_backward(
        &self,
        x: &[f32],
        c: &Conv,
        dy: &[f32],
        h: usize,
        w: usize,
        dw: &mut [f32],
        db: &mut [f32],
    ) -> Result<Vec<f32>, String> {
        Gpu::conv3x3_backward(self, x, c.weight, dy, c.cin, c.cout, h, w, dw, db)
    }
    fn relu_backward(&self, act: &[f32], g: &mut [f32]) -> Result<(), String> {
        Gpu::relu_backward(self, act, g)
    }
    fn adam_update(
        &self,
        params: &mut [f32],
        grad: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        beta1: f32,
        beta2: f32,
        step: f32,
        eps: f32,
    ) -> Result<(), String> {
        Gpu::adam_update(self, params, grad, m, v, beta1, beta2, step, eps)
    }
}

/// The network's output for one `[1, h, w]` image (`h`, `w` even).
pub fn forward(
    exec: &dyn Executor,
    net: &Refine,
    x: &[f32],
    h: usize,
    w: usize,
) -> Result<Vec<f32>, String> {
    assert!(
        h.is_multiple_of(2) && w.is_multiple_of(2) && x.len() == h * w && !net.layers.is_empty()
    );
    let (lh, lw) = (h / 2, w / 2);
    let s2d = exec.space_to_depth2(x, h, w)?;
    let skip = match &net.skip {
        Some(s) => Some(exec.conv3x3(&s2d, s, None, lh, lw, false)?),
        None => None,
    };
    let last = net.layers.len() - 1;
    let mut a = s2d;
    for (k, l) in net.layers.iter().enumerate() {
        let addend = if k == last { skip.as_deref() } else { None };
        a = exec.conv3x3(&a, l, addend, lh, lw, k < last)?;
    }
    exec.depth_to_space2_add(&a, x, h, w)
}
