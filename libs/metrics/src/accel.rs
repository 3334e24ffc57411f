//! The seam through which a [`crate::meter::Meter`] hands some extractors' work to another
//! engine (lv-gpu's CUDA kernels) without knowing which: the accelerator returns the very
//! values the CPU extractor would (the integer features bit for bit), or declines, or fails;
//! in the last two cases the CPU path measures the frame, so a failing device never costs a
//! frame. lv-metrics cannot depend on lv-gpu (lv-gpu takes its tables and finishing steps from
//! here), so the trait lives here and lv-gpu implements it.

use crate::adm_int::{AdmScores, IntegerAdmOptions};
use crate::vif_int::{IntegerVifNumDen, IntegerVifOptions};
use lv_image::plane::Plane;

/// Another engine for some extractors. `None`: not taken (an option or a size it does not
/// cover); `Some(Err)`: it failed on this frame. Either way the CPU extractor runs instead, and
/// an implementation keeps count of its failures for its owner to report.
pub trait Accelerator: Send + Sync {
    /// For log lines and the elements' `backend-in-use`.
    fn name(&self) -> String;
    /// libvmaf's `integer_vif` numerators and denominators of one luma pair.
    fn integer_vif(
        &self,
        reference: &Plane,
        distorted: &Plane,
        opts: IntegerVifOptions,
    ) -> Option<Result<IntegerVifNumDen, String>>;
    /// libvmaf's `integer_adm` scores of one luma pair.
    fn integer_adm(
        &self,
        reference: &Plane,
        distorted: &Plane,
        opts: IntegerAdmOptions,
    ) -> Option<Result<AdmScores, String>>;
}
