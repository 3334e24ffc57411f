// SPDX-License-Identifier: MPL-2.0

/// Defines `Backend`, the enum of a plugin's `backend` property, and the specs of its
/// `backend` and `backend-in-use` properties. `backend_enum!("GstDnnscaleBackend")` is a
/// network's (with its conversion to `lv_infer::BackendKind`: the invoking crate depends on
/// lv-infer); `backend_enum!("GstVqmeterBackend", features)` is vqmeter's, where the GPU runs
/// VMAF's integer features.
///
/// A macro, not a type: a GType name can be registered once per process, and each plugin's
/// `.so` carries its own copy of this crate, so each plugin names its own enum.
#[macro_export]
macro_rules! backend_enum {
    ($gtype:tt) => {
        $crate::backend_enum!(
            @define $gtype,
            "CPU (tract-onnx)",
            "The GPU when one works for the network, else the CPU; says which (read backend-in-use)",
            "Where the network runs: cpu (tract-onnx), cuda (falls back to cpu \
             with a log line when no CUDA device is usable), or auto (the GPU \
             when one works, else the CPU; backend-in-use says which)",
            "Where the network runs now (cpu or cuda), once caps are negotiated; empty before"
        );

        impl From<Backend> for lv_infer::BackendKind {
            fn from(b: Backend) -> Self {
                match b {
                    Backend::Cpu => lv_infer::BackendKind::Cpu,
                    Backend::Cuda => lv_infer::BackendKind::Cuda,
                    Backend::Auto => lv_infer::BackendKind::Auto,
                }
            }
        }
    };
    ($gtype:tt, features) => {
        $crate::backend_enum!(
            @define $gtype,
            "CPU (lv-metrics)",
            "The GPU when one works, else the CPU; says which (read backend-in-use)",
            "Where VMAF's integer VIF and ADM run (the rest of the metrics always run on the \
             CPU): cpu, cuda (the CUDA kernels, scores identical to the CPU's; falls back to cpu \
             with a log line when no CUDA device is usable), or auto (the GPU when one works, \
             else the CPU; backend-in-use says which)",
            "Where VMAF's integer VIF and ADM run now (cpu or cuda), once caps are negotiated; \
             empty before"
        );
    };
    (@define $gtype:tt, $cpu:tt, $auto:tt, $blurb:tt, $in_use:tt) => {
        mod backend_enum {
            use $crate::glib;

            /// Where the work runs (the `backend` property).
            #[derive(
                Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum,
            )]
            #[repr(u32)]
            #[enum_type(name = $gtype)]
            pub enum Backend {
                #[default]
                #[enum_value(name = $cpu, nick = "cpu")]
                Cpu = 0,
                #[enum_value(
                    name = "CUDA (falls back to the CPU, with a log line, when no CUDA device is usable)",
                    nick = "cuda"
                )]
                Cuda = 1,
                #[enum_value(name = $auto, nick = "auto")]
                Auto = 2,
            }

            impl Backend {
                /// The `backend` property.
                pub fn param_spec() -> glib::ParamSpec {
                    use $crate::gst::prelude::*;
                    glib::ParamSpecEnum::builder_with_default("backend", Backend::Cpu)
                        .nick("Backend")
                        .blurb($blurb)
                        .mutable_ready()
                        .build()
                }

                /// The read-only `backend-in-use` property: where the work runs now.
                pub fn in_use_param_spec() -> glib::ParamSpec {
                    use $crate::gst::prelude::*;
                    glib::ParamSpecString::builder("backend-in-use")
                        .nick("Backend in use")
                        .blurb($in_use)
                        .read_only()
                        .build()
                }
            }
        }
        pub use backend_enum::Backend;
    };
}
