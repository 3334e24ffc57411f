//! vqmeter's integer VMAF features on the kernels: lv-metrics' [`Accelerator`] over an
//! [`Executor`] (the device, or the host emulation in tests). VIF and ADM are the two
//! extractors that take nearly all of VMAF's time (motion and the fusion stay on the CPU);
//! their integer sums come back from the kernels and are finished by lv-metrics' own code, so
//! the scores are the CPU path's to the bit.

use crate::adm::AdmKernels;
use crate::refine::Executor;
use lv_image::plane::Plane;
use lv_metrics::accel::Accelerator;
use lv_metrics::adm_int::{AdmScores, IntegerAdmOptions};
use lv_metrics::vif_int::{num_den_from_sums, IntegerVifNumDen, IntegerVifOptions};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One ADM plan per (size, depth, options) seen; a stream has one, a caps change adds one.
type AdmKey = (usize, usize, u32, IntegerAdmOptions);

pub struct GpuFeatures {
    exec: Arc<dyn Executor>,
    adm: Mutex<Vec<(AdmKey, Arc<AdmKernels>)>>,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Calls the kernels answered.
    taken: AtomicU64,
}

impl GpuFeatures {
    pub fn new(exec: Arc<dyn Executor>) -> Self {
        GpuFeatures {
            exec,
            adm: Mutex::new(Vec::new()),
            failures: AtomicU64::new(0),
            last_error: Mutex::new(None),
            taken: AtomicU64::new(0),
        }
    }

    /// How many calls failed (their frames were measured on the CPU) and the last reason.
    pub fn failures(&self) -> (u64, Option<String>) {
        let last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        (self.failures.load(Ordering::Relaxed), last.clone())
    }

    /// How many extractor calls (one feature of one frame) the kernels answered.
    pub fn taken(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }

    fn note<T>(&self, r: Result<T, String>) -> Result<T, String> {
        if r.is_ok() {
            self.taken.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(e) = &r {
            self.failures.fetch_add(1, Ordering::Relaxed);
            *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.clone());
        }
        r
    }

    /// The plan for this size and option set, or why the kernels do not take it.
    fn adm_kernels(&self, p: &Plane, opts: IntegerAdmOptions) -> Result<Arc<AdmKernels>, String> {
        let key = (p.width, p.height, p.bpc, opts);
        let mut cache = self.adm.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, k)) = cache.iter().find(|(k, _)| *k == key) {
            return Ok(k.clone());
        }
        let k =
            Arc::new(AdmKernels::new(p.width, p.height, p.bpc, opts).map_err(|e| e.to_string())?);
        cache.push((key, k.clone()));
        Ok(k)
    }
}

impl Accelerator for GpuFeatures {
    fn name(&self) -> String {
        self.exec.name()
    }

    fn integer_vif(
        &self,
        reference: &Plane,
        distorted: &Plane,
        opts: IntegerVifOptions,
    ) -> Option<Result<IntegerVifNumDen, String>> {
        let sums = self
            .exec
            .vif_sums(reference, distorted, opts.enhn_gain_limit)
            .map(|sums| {
                let mut nd = IntegerVifNumDen::default();
                for (s, &[num_log, den_log, num_non_log, den_non_log]) in sums.iter().enumerate() {
                    (nd.num[s], nd.den[s]) =
                        num_den_from_sums(num_log, den_log, num_non_log, den_non_log);
                }
                nd
            });
        Some(self.note(sums))
    }

    fn integer_adm(
        &self,
        reference: &Plane,
        distorted: &Plane,
        opts: IntegerAdmOptions,
    ) -> Option<Result<AdmScores, String>> {
        // An option the kernels do not cover (AIM) is the CPU's, not a failure.
        let k = self.adm_kernels(reference, opts).ok()?;
        let scores = k
            .compute(&*self.exec, reference, distorted)
            .map_err(|e| e.to_string());
        Some(self.note(scores))
    }
}
