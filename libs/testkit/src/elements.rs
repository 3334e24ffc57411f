//! What the plugins' elements promise their users, checked both in-process (the plugin's own
//! tests) and as a user sees it (`gst-inspect-1.0`, the workspace tests): one list, so the two
//! checks cannot drift apart.

/// The properties `vqmeter` documents (README, `gst-inspect-1.0 vqmeter`).
pub const VQMETER_PROPERTIES: &[&str] = &[
    "model-filename",
    "psnr",
    "ssim",
    "ms-ssim",
    "pool-method",
    "threads",
    "subsample",
    "frame-message",
    "results-filename",
    "results-format",
    "segment-duration",
    "threading",
    "backend",
    "backend-in-use",
    "cambi",
    "cambi-window-size",
    "cambi-topk",
    "cambi-tvi-threshold",
    "cambi-vis-lum-threshold",
    "cambi-max-log-contrast",
    "cambi-enc-width",
    "cambi-enc-height",
    "cambi-enc-bitdepth",
    "cambi-full-ref",
    "cambi-src-width",
    "cambi-src-height",
    "cambi-eotf",
    "cambi-high-res-speedup",
    "cambi-max-val",
];
