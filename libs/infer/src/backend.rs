//! The backend seam: where a [`crate::PlaneRunner`] runs the network.
//!
//! `Cpu` is tract. `Cuda` is compiled everywhere (cudarc with dynamic loading, so nothing links
//! against libcuda at build time); creating it probes the driver at run time and, when no usable
//! CUDA device exists, falls back to `Cpu` and keeps the reason so the caller can log it once.

use std::sync::OnceLock;

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
#[derive(Debug)]
pub(crate) struct Backend {
    kind: BackendKind,
    fallback_reason: Option<String>,
    /// For `auto`: which backend it picked and why (logged at info level, not as a fallback).
    choice: Option<String>,
}

impl Backend {
    pub(crate) fn new(requested: BackendKind) -> Backend {
        match requested {
            BackendKind::Cpu => Backend {
                kind: BackendKind::Cpu,
                fallback_reason: None,
                choice: None,
            },
            BackendKind::Auto => {
                let why = match cuda_device() {
                    Ok(name) => format!(
                        "CUDA device 0 ({name}) is usable, but this build has no CUDA kernels \
                         for the network yet"
                    ),
                    Err(e) => e,
                };
                Backend {
                    kind: BackendKind::Cpu,
                    fallback_reason: None,
                    choice: Some(format!("backend=auto picked the CPU (tract): {why}")),
                }
            }
            BackendKind::Cuda => {
                let reason = match cuda_device() {
                    Ok(name) => format!(
                        "CUDA device 0 ({name}) is usable, but this build has no CUDA kernels for \
                         the network yet; running it on the CPU (tract)"
                    ),
                    Err(e) => format!("CUDA backend unavailable ({e}); running on the CPU (tract)"),
                };
                Backend {
                    kind: BackendKind::Cpu,
                    fallback_reason: Some(reason),
                    choice: None,
                }
            }
        }
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
