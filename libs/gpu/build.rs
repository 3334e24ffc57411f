// Builds the host emulation of the CUDA kernels (kernels/host.cpp: the .cu sources through
// kernels/host_shim.h) into a static library the crate links, so tests run every kernel's
// code on the CPU. The GPU path does not use this: NVRTC compiles the same sources at run time.
fn main() {
    // The whole folder: every source it holds is included by host.cpp (a directory is
    // scanned for changes to any file in it).
    println!("cargo:rerun-if-changed=kernels");
    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .file("kernels/host.cpp")
        .include("kernels")
        .opt_level(2)
        // Same float semantics as NVRTC's defaults (no fast-math, FMA contraction aside).
        .flag_if_supported("-ffp-contract=off")
        .warnings(true)
        .compile("lv_gpu_host");
}
