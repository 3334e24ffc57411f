//! The backend seam: where a [`crate::PlaneRunner`] runs the network.
//!
//! `Cpu` is tract. `Cuda` is compiled everywhere (cudarc with dynamic loading, so nothing links
//! against libcuda at build time); creating it probes the driver at run time and, when no usable
//! CUDA device exists, falls back to `Cpu` and keeps the reason so the caller can log it once.

use lv_gpu::refine::{Executor, HostEmulation};
use std::sync::{Arc, OnceLock};

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

/// Directories the dynamic loader searches for `libcuda.so` on common Linux installs, plus
/// `LD_LIBRARY_PATH`.
fn libcuda_present() -> bool {
    if cfg!(not(target_os = "linux")) {
        // Only Linux is checked up front; elsewhere the guarded probe below decides.
        return true;
    }
    let mut dirs: Vec<std::path::PathBuf> = std::env::var_os("LD_LIBRARY_PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/lib/x86_64-linux-gnu",
        "/usr/local/cuda/lib64",
        "/usr/local/cuda/compat",
        "/usr/lib/wsl/lib",
    ] {
        dirs.push(d.into());
    }
    dirs.iter().any(|d| {
        std::fs::read_dir(d).is_ok_and(|it| {
            it.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("libcuda.so"))
        })
    })
}

/// Name of CUDA device 0, or why there is none. Probed once per process.
pub fn cuda_device() -> Result<String, String> {
    static PROBE: OnceLock<Result<String, String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            if !libcuda_present() {
                return Err("libcuda.so not found: no NVIDIA driver installed".into());
            }
            // cudarc's dynamic loading panics when the library or a symbol cannot be loaded;
            // that must not unwind into a GStreamer streaming thread.
            std::panic::catch_unwind(|| {
                let ctx = cudarc::driver::CudaContext::new(0)
                    .map_err(|e| format!("CUDA driver: {e:?}"))?;
                ctx.name().map_err(|e| format!("CUDA driver: {e:?}"))
            })
            .unwrap_or_else(|_| Err("loading the CUDA driver library failed".into()))
        })
        .clone()
}

/// What runs the kernels: CUDA device 0 (its modules compiled once per process), or, with
/// `LV_GPU_EMULATE=1`, the kernels' host emulation standing in for a device. The emulation
/// exists to test the seam and the elements above it on machines without a GPU (it is slow);
/// it is not a production path.
fn gpu_executor() -> Result<Arc<dyn Executor>, String> {
    if std::env::var_os("LV_GPU_EMULATE").is_some_and(|v| v == "1") {
        return Ok(Arc::new(HostEmulation));
    }
    static GPU: OnceLock<Result<Arc<lv_gpu::device::Gpu>, String>> = OnceLock::new();
    GPU.get_or_init(|| {
        cuda_device()?;
        lv_gpu::device::Gpu::open().map(Arc::new)
    })
    .clone()
    .map(|g| g as Arc<dyn Executor>)
}
