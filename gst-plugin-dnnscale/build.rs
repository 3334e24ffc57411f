//! Embeds the trained default models listed in `models/dnnscale/default-models.txt` (one file
//! name per line, in the order the element tries them; `#` starts a comment), or
//! `models/dnnscale/dnnscale.onnx` alone when there is no list (cfg
//! `dnnscale_embedded_model`). Without any model file the crate still builds and the element
//! reports a clear error when started with no `model` property.
use std::path::PathBuf;

fn main() {
    gst_plugin_version_helper::info();
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let dir = manifest.join("../models/dnnscale");
    let list = dir.join("default-models.txt");
    println!("cargo:rustc-check-cfg=cfg(dnnscale_embedded_model)");
    // A missing file counts as changed, so this also re-checks until the files land.
    println!("cargo:rerun-if-changed={}", list.display());
    let names: Vec<String> = match std::fs::read_to_string(&list) {
        Ok(text) => text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
        Err(_) => vec!["dnnscale.onnx".into()],
    };
    let mut entries = Vec::new();
    for name in &names {
        let path = dir.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        if path.is_file() {
            let path = path.canonicalize().unwrap();
            entries.push(format!(
                "({name:?}, include_bytes!({:?})),",
                path.display().to_string()
            ));
        } else {
            println!("cargo:warning=default model {} is missing", path.display());
        }
    }
    if !entries.is_empty() {
        println!("cargo:rustc-cfg=dnnscale_embedded_model");
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("default_models.rs");
    let code = format!(
        "static DEFAULT_MODELS: &[(&str, &[u8])] = &[\n{}\n];\n",
        entries.join("\n")
    );
    std::fs::write(out, code).unwrap();
}
