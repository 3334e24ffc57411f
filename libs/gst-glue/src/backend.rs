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
                #[enum_value(
                    name = "The GPU when one works for the network, else the CPU; says which (read backend-in-use)",
                    nick = "auto"
                )]
                Auto = 2,
            }

            impl Backend {
                /// The `backend` property.
                pub fn param_spec() -> glib::ParamSpec {
                    use $crate::gst::prelude::*;
                    glib::ParamSpecEnum::builder_with_default("backend", Backend::Cpu)
                        .nick("Backend")
                        .blurb(
                            "Where the network runs: cpu (tract-onnx), cuda (falls back to cpu \
                             with a log line when no CUDA device is usable), or auto (the GPU \
                             when one works, else the CPU; backend-in-use says which)",
                        )
                        .mutable_ready()
                        .build()
                }

                /// The read-only `backend-in-use` property: where the network runs now.
                pub fn in_use_param_spec() -> glib::ParamSpec {
                    use $crate::gst::prelude::*;
                    glib::ParamSpecString::builder("backend-in-use")
                        .nick("Backend in use")
                        .blurb(
                            "Where the network runs now (cpu or cuda), once caps are \
                             negotiated; empty before",
                        )
                        .read_only()
                        .build()
                }
            }

            impl From<Backend> for lv_infer::BackendKind {
                fn from(b: Backend) -> Self {
                    match b {
                        Backend::Cpu => lv_infer::BackendKind::Cpu,
                        Backend::Cuda => lv_infer::BackendKind::Cuda,
                        Backend::Auto => lv_infer::BackendKind::Auto,
                    }
                }
            }
        }
        pub use backend_enum::Backend;
    };
}
