//! libvmaf's integer ADM of one frame composed of the `lv_adm_*` kernels (kernels/adm.cu), on an
//! [`Executor`]: the device, or the host emulation. The kernels do every integer step (the
//! 4-scale wavelet, decoupling with the angle test, the CSF, contrast masking, the cubes) and
//! sum each pooled row in integers; the rows are finished here in the CPU path's order by
//! [`lv_metrics::adm_int::AdmPlan`], so the scores are [`IntegerAdm`]'s to the bit.
//!
//! Options: every [`IntegerAdmOptions`] the CPU path takes (the per-scale CSF weights, the
//! noise floor and the gain limit are constants of the launches), except AIM
//! ([`IntegerAdmOptions::aim`], libvmaf's `integer_aim` / `integer_adm3`), which is
//! [`AdmGpuError::Unsupported`]: no kernel computes it yet. VMAF v0.6.1 (the defaults) and
//! v0.6.1neg (`enhn_gain_limit` 1.0) need no more.
//!
//! [`IntegerAdm`]: lv_metrics::adm_int::IntegerAdm

use crate::refine::Executor;
use lv_image::plane::Plane;
use lv_metrics::adm_int::{AdmError, AdmPlan, AdmScores, IntegerAdmOptions};

/// Integer per-row sums of one frame, per scale, one entry per row of the scale's pooling
/// region (top to bottom), each over the h, v and d bands: what the kernels return.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdmRowSums {
    /// The restored detail's masked, rounded cubes (the numerator).
    pub num: [Vec<[i64; 3]>; 4],
    /// The reference detail's cubes (the denominator).
    pub den: [Vec<[u64; 3]>; 4],
}

impl AdmRowSums {
    /// From the kernels' `[rows][3]` 64-bit counters; the numerator's, added as two's
    /// complement, read back as signed.
    pub(crate) fn push_scale(&mut self, s: usize, num: &[u64], den: &[u64]) {
        self.num[s] = num
            .chunks_exact(3)
            .map(|c| [c[0] as i64, c[1] as i64, c[2] as i64])
            .collect();
        self.den[s] = den.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
    }
}

/// Why the kernels cannot score a frame.
#[derive(Debug, thiserror::Error)]
pub enum AdmGpuError {
    /// An option no kernel implements (the CPU path does).
    #[error("integer ADM: {0} is unsupported on the GPU path (lv_metrics::adm_int::IntegerAdm computes it on the CPU)")]
    Unsupported(&'static str),
    /// The size, depth or options are out of libvmaf's ranges (as `IntegerAdm::new` says).
    #[error(transparent)]
    Options(#[from] AdmError),
    /// The executor failed (a CUDA error).
    #[error("integer ADM on {executor}: {message}")]
    Run { executor: String, message: String },
}

/// The integer ADM of one frame size, bit depth and option set through the kernels.
pub struct AdmKernels {
    plan: AdmPlan,
}

impl AdmKernels {
    /// The same checks as [`lv_metrics::adm_int::IntegerAdm::new`], and AIM refused.
    pub fn new(
        width: usize,
        height: usize,
        bpc: u32,
        opts: IntegerAdmOptions,
    ) -> Result<AdmKernels, AdmGpuError> {
        if opts.aim {
            return Err(AdmGpuError::Unsupported(
                "AIM (adm_skip_aim off: integer_aim, integer_adm3)",
            ));
        }
        Ok(AdmKernels {
            plan: AdmPlan::new(width, height, bpc, opts)?,
        })
    }

    pub fn plan(&self) -> &AdmPlan {
        &self.plan
    }

    /// Scores one frame pair (luma planes) on `exec`: [`IntegerAdm::compute`]'s values
    /// (`adm2`, per-scale `scale`, `num`, `den`; `aim` and `adm3` 0).
    ///
    /// Panics if a plane's size or bit depth differ from the ones given to `new`.
    ///
    /// [`IntegerAdm::compute`]: lv_metrics::adm_int::IntegerAdm::compute
    pub fn compute(
        &self,
        exec: &dyn Executor,
        reference: &Plane,
        distorted: &Plane,
    ) -> Result<AdmScores, AdmGpuError> {
        let p = &self.plan;
        for q in [reference, distorted] {
            assert!(
                q.width == p.width() && q.height == p.height() && q.bpc == p.bpc(),
                "adm: plane is {}x{} at {} bits, expected {}x{} at {} bits",
                q.width,
                q.height,
                q.bpc,
                p.width(),
                p.height(),
                p.bpc()
            );
        }
        let sums = exec
            .adm_sums(reference, distorted, p)
            .map_err(|message| AdmGpuError::Run {
                executor: exec.name(),
                message,
            })?;
        Ok(scores_from_row_sums(p, &sums))
    }
}

/// The frame's scores from the kernels' row sums, in the CPU path's order.
pub fn scores_from_row_sums(plan: &AdmPlan, sums: &AdmRowSums) -> AdmScores {
    let num = std::array::from_fn(|s| plan.num_from_row_sums(s, &sums.num[s]));
    let den = std::array::from_fn(|s| plan.den_from_row_sums(s, &sums.den[s]));
    plan.scores(num, den)
}
