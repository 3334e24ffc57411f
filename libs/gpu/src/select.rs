//! Which executor runs the kernels in this process: CUDA device 0, probed and opened once, or
//! the host emulation when a test asks for it. Shared by every element's backend seam
//! (lv-infer's networks, vqmeter's features) so a process opens the device once.

use crate::refine::{Executor, HostEmulation};
use std::sync::{Arc, OnceLock};

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
/// exists to test the seams and the elements above them on machines without a GPU (it is
/// slow); it is not a production path.
pub fn shared_executor() -> Result<Arc<dyn Executor>, String> {
    if std::env::var_os("LV_GPU_EMULATE").is_some_and(|v| v == "1") {
        return Ok(Arc::new(HostEmulation));
    }
    static GPU: OnceLock<Result<Arc<crate::device::Gpu>, String>> = OnceLock::new();
    GPU.get_or_init(|| {
        cuda_device()?;
        crate::device::Gpu::open().map(Arc::new)
    })
    .clone()
    .map(|g| g as Arc<dyn Executor>)
}
