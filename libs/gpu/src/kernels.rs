//! The kernel sources, as NVRTC compiles them, and the entry points each one defines.

/// One CUDA C source file of `kernels/`.
#[derive(Clone, Copy, Debug)]
pub struct KernelSource {
    /// File name, also the NVRTC program name (it appears in compiler messages).
    pub name: &'static str,
    pub source: &'static str,
    /// The `extern "C" __global__` functions it defines.
    pub entries: &'static [&'static str],
    /// Compile without FMA contraction (`--fmad=false`): the float results must equal the
    /// CPU path's, which never contracts.
    pub exact_float: bool,
}

/// Headers the sources include, by the name they use.
pub const HEADERS: &[(&str, &str)] = &[("lv_kernel.h", include_str!("../kernels/lv_kernel.h"))];

/// Every kernel source of the crate.
pub const SOURCES: &[KernelSource] = &[
    KernelSource {
        name: "psnr.cu",
        source: include_str!("../kernels/psnr.cu"),
        entries: &["lv_sse_u8", "lv_sse_u16"],
        exact_float: false,
    },
    KernelSource {
        name: "motion.cu",
        source: include_str!("../kernels/motion.cu"),
        entries: &["lv_motion_row_sad"],
        exact_float: false,
    },
    KernelSource {
        name: "vif.cu",
        source: include_str!("../kernels/vif.cu"),
        entries: &[
            "lv_vif_stat_u8",
            "lv_vif_stat_u16",
            "lv_vif_subsample_u8",
            "lv_vif_subsample_u16",
        ],
        exact_float: true,
    },
    KernelSource {
        name: "adm.cu",
        source: include_str!("../kernels/adm.cu"),
        entries: &[
            "lv_adm_dwt_v_u8",
            "lv_adm_dwt_v_u16",
            "lv_adm_dwt_v_s",
            "lv_adm_dwt_h",
            "lv_adm_decouple",
            "lv_adm_cm",
            "lv_adm_den",
        ],
        exact_float: true,
    },
    KernelSource {
        name: "resample.cu",
        source: include_str!("../kernels/resample.cu"),
        entries: &[
            "lv_resample_h_u8",
            "lv_resample_h_u16",
            "lv_resample_v_u8",
            "lv_resample_v_u16",
        ],
        exact_float: false,
    },
    KernelSource {
        name: "conv.cu",
        source: include_str!("../kernels/conv.cu"),
        entries: &["lv_conv3x3", "lv_space_to_depth2", "lv_depth_to_space2_add"],
        exact_float: false,
    },
    KernelSource {
        name: "train.cu",
        source: include_str!("../kernels/train.cu"),
        entries: &[
            "lv_conv3x3_backward_data",
            "lv_conv3x3_backward_weight",
            "lv_conv_backward_bias",
            "lv_relu_backward",
            "lv_adam_step",
        ],
        exact_float: true,
    },
    KernelSource {
        name: "ssim.cu",
        source: include_str!("../kernels/ssim.cu"),
        entries: &["lv_ssim_map", "lv_filter_decimate"],
        exact_float: true,
    },
];

/// The number of kernels (entry points) over all sources.
pub fn kernel_count() -> usize {
    SOURCES.iter().map(|s| s.entries.len()).sum()
}
