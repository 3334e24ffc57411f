//! The backend seam: where a [`crate::PlaneRunner`] runs the network.
//!
//! `Cpu` is tract. `Cuda` is compiled everywhere (cudarc with dynamic loading, so nothing links
//! against libcuda at build time); creating it probes the driver at run time and, when no usable
//! CUDA device exists, falls back to `Cpu` and keeps the reason so the caller can log it once.

use lv_gpu::refine::Executor;
pub use lv_gpu::select::cuda_device;
use lv_gpu::select::shared_executor as gpu_executor;
use std::sync::Arc;

/// The backend a caller asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BackendKind {
    #[default]
    Cpu,
    Cuda,
    /// The GPU when one works for the network, else the CPU; the choice is reported either way.
    Auto,
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Cuda => "cuda",
            BackendKind::Auto => "auto",
        })
    }
}

/// The backend a runner ended up with.
pub(crate) struct Backend {
    kind: BackendKind,
    fallback_reason: Option<String>,
    /// Which backend a `cuda` or `auto` request got and why (logged at info level).
    choice: Option<String>,
    /// What runs the kernels when `kind` is `Cuda`.
    exec: Option<Arc<dyn Executor>>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("kind", &self.kind)
            .field("executor", &self.exec.as_ref().map(|e| e.name()))
            .finish()
    }
}

impl Backend {
    /// `refine_graph`: the model is lv-train's RefineNet export, the graph the CUDA kernels run.
    pub(crate) fn new(requested: BackendKind, refine_graph: bool) -> Backend {
        let cpu = |fallback_reason, choice| Backend {
            kind: BackendKind::Cpu,
            fallback_reason,
            choice,
            exec: None,
        };
        if requested == BackendKind::Cpu {
            return cpu(None, None);
        }
        // The device first: without one, that is the reason to report, whatever the graph.
        let gpu = gpu_executor().and_then(|exec| {
            if refine_graph {
                Ok(exec)
            } else {
                Err(format!(
                    "{} is usable, but the CUDA kernels run lv-train's RefineNet graphs only, \
                     and this model is another graph",
                    exec.name()
                ))
            }
        });
        match (requested, gpu) {
            (_, Ok(exec)) => Backend {
                kind: BackendKind::Cuda,
                fallback_reason: None,
                choice: Some(format!(
                    "backend={requested}: the network runs on {}",
                    exec.name()
                )),
                exec: Some(exec),
            },
            (BackendKind::Auto, Err(why)) => {
                cpu(None, Some(format!("backend=auto picked the CPU: {why}")))
            }
            (_, Err(why)) => cpu(
                Some(format!(
                    "CUDA backend unavailable ({why}); running on the CPU"
                )),
                None,
            ),
        }
    }

    pub(crate) fn executor(&self) -> Option<&Arc<dyn Executor>> {
        self.exec.as_ref()
    }

    pub(crate) fn kind(&self) -> BackendKind {
        self.kind
    }

    pub(crate) fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    pub(crate) fn choice(&self) -> Option<&str> {
        self.choice.as_deref()
    }
}
