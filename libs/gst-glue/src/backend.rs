// SPDX-License-Identifier: MPL-2.0

/// Defines `Backend`, the enum of a plugin's `backend` property, its conversion to
/// `lv_infer::BackendKind` (the invoking crate depends on lv-infer) and the property's spec
/// (`Backend::param_spec()`).
///
/// A macro, not a type: a GType name can be registered once per process, and each plugin's
/// `.so` carries its own copy of this crate, so each plugin names its own enum
/// (`lv_gst::backend_enum!("GstDnnscaleBackend");`).
#[macro_export]
macro_rules! backend_enum {
    ($gtype:tt) => {
        mod backend_enum {
            use $crate::glib;

            /// Where the network runs (the `backend` property).
            #[derive(
                Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum,
            )]
            #[repr(u32)]
            #[enum_type(name = $gtype)]
            pub enum Backend {
                #[default]
                #[enum_value(name = "CPU (tract-onnx)", nick = "cpu")]
                Cpu = 0,
                #[enum_value(
                    name = "CUDA (falls back to the CPU, with a log line, when no CUDA device is usable)",
                    nick = "cuda"
                )]
                Cuda = 1,
            }

            impl Backend {
                /// The `backend` property.
                pub fn param_spec() -> glib::ParamSpec {
                    use $crate::gst::prelude::*;
                    glib::ParamSpecEnum::builder_with_default("backend", Backend::Cpu)
                        .nick("Backend")
                        .blurb(
                            "Where the network runs: cpu (tract-onnx) or cuda (falls back to cpu \
                             with a log line when no CUDA device is usable)",
                        )
                        .mutable_ready()
                        .build()
                }
            }

            impl From<Backend> for lv_infer::BackendKind {
                fn from(b: Backend) -> Self {
                    match b {
                        Backend::Cpu => lv_infer::BackendKind::Cpu,
                        Backend::Cuda => lv_infer::BackendKind::Cuda,
                    }
                }
            }
        }
        pub use backend_enum::Backend;
    };
}
