//! Embeds the generic model when `models/srenhance/srenhance.onnx` exists at build time
//! (cfg `srenhance_embedded_model`); without it the crate still builds and the element reports
//! a clear error when started with no `model` property. The generic post-filter
//! (`models/srenhance/postfilter.lvpf`) is embedded the same way when it exists.
fn main() {
    gst_plugin_version_helper::info();
    let manifest = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let model = manifest.join("../models/srenhance/srenhance.onnx");
    println!("cargo:rustc-check-cfg=cfg(srenhance_embedded_model)");
    // A missing file counts as changed, so this also re-checks until the model lands.
    println!("cargo:rerun-if-changed={}", model.display());
    if model.is_file() {
        println!("cargo:rustc-cfg=srenhance_embedded_model");
    }
    // The generic post-filter beside it (lv_livenas::postfilter), the same way.
    let filter = manifest.join("../models/srenhance/postfilter.lvpf");
    println!("cargo:rustc-check-cfg=cfg(srenhance_embedded_postfilter)");
    println!("cargo:rerun-if-changed={}", filter.display());
    if filter.is_file() {
        println!("cargo:rustc-cfg=srenhance_embedded_postfilter");
    }
}
