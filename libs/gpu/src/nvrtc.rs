//! Run-time compilation of the kernel sources with NVRTC (cudarc, dynamic loading).
//!
//! NVRTC needs no GPU: PyPI's `nvidia-cuda-nvrtc-cu12` wheel carries `libnvrtc.so.12`, which
//! `scripts/fetch-test-deps.sh` unpacks to `.cache/nvrtc/lib` with a `libnvrtc.so` link (the
//! name cudarc looks for first); the tests and `scripts/gpu-check.sh` put that directory on
//! `LD_LIBRARY_PATH`. cudarc panics when the library is missing, so every call here first asks
//! whether it loads, and never lets a panic out.

use crate::kernels::{KernelSource, HEADERS};
use cudarc::nvrtc::{CompileOptions, Ptx};

#[derive(Debug, thiserror::Error)]
pub enum NvrtcError {
    #[error("NVRTC is not available (libnvrtc.so not found on the library path; run scripts/fetch-test-deps.sh and add .cache/nvrtc/lib to LD_LIBRARY_PATH)")]
    Missing,
    #[error("NVRTC failed on {name}: {message}")]
    Compile { name: String, message: String },
}

/// `true` when libnvrtc can be loaded.
pub fn available() -> bool {
    std::panic::catch_unwind(|| unsafe { cudarc::nvrtc::sys::is_culib_present() }).unwrap_or(false)
}

/// NVRTC's version (major, minor).
pub fn version() -> Result<(i32, i32), NvrtcError> {
    if !available() {
        return Err(NvrtcError::Missing);
    }
    std::panic::catch_unwind(|| {
        let (mut major, mut minor) = (0, 0);
        // SAFETY: two valid out-pointers; the library is loaded (checked above).
        let r = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) };
        (r == cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS).then_some((major, minor))
    })
    .ok()
    .flatten()
    .ok_or(NvrtcError::Missing)
}

/// The source with its `#include "…"` of the crate's headers replaced by their text (NVRTC
/// sees one translation unit; no include path on disk is needed).
pub fn preprocessed(src: &KernelSource) -> String {
    let mut out = String::with_capacity(src.source.len() + 1024);
    for line in src.source.lines() {
        let header = line
            .trim()
            .strip_prefix("#include \"")
            .and_then(|l| l.strip_suffix('"'))
            .and_then(|name| HEADERS.iter().find(|(n, _)| *n == name));
        match header {
            Some((_, text)) => out.push_str(text),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Compiles one source to PTX for the virtual architecture `arch` (e.g. `compute_90`).
pub fn compile(src: &KernelSource, arch: &'static str) -> Result<Ptx, NvrtcError> {
    if !available() {
        return Err(NvrtcError::Missing);
    }
    let code = preprocessed(src);
    let opts = CompileOptions {
        arch: Some(arch),
        name: Some(src.name.to_string()),
        fmad: Some(!src.exact_float),
        ..Default::default()
    };
    match std::panic::catch_unwind(move || cudarc::nvrtc::compile_ptx_with_opts(code, opts)) {
        Ok(Ok(ptx)) => Ok(ptx),
        Ok(Err(e)) => Err(NvrtcError::Compile {
            name: src.name.into(),
            message: match e {
                cudarc::nvrtc::CompileError::CompileError { log, .. } => {
                    log.to_string_lossy().into_owned()
                }
                other => format!("{other:?}"),
            },
        }),
        Err(_) => Err(NvrtcError::Compile {
            name: src.name.into(),
            message: "NVRTC call panicked".into(),
        }),
    }
}
