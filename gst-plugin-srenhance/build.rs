//! Embeds the generic model when `models/srenhance/srenhance.onnx` exists at build time
//! (cfg `srenhance_embedded_model`); without it the crate still builds and the element reports
//! a clear error when started with no `model` property.
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
}
