// SPDX-License-Identifier: MPL-2.0

//! The `cambi*` properties of `vqmeter`: libvmaf's CAMBI options under GStreamer names, kept
//! apart from the element so that its property list stays readable.

use gst::glib;
use gst::prelude::*;
use lv_metrics::cambi::{CambiOptions, Eotf};

/// Transfer function CAMBI assumes for its visibility thresholds.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstVqmeterCambiEotf")]
pub enum CambiEotf {
    #[enum_value(name = "BT.1886 (SDR displays)", nick = "bt1886")]
    Bt1886 = 0,
    #[enum_value(name = "SMPTE ST 2084 PQ (HDR)", nick = "pq")]
    Pq = 1,
}

/// Whether CAMBI runs, and with which options. Sizes and bit depth of 0 mean "the input's".
#[derive(Clone, Debug, Default)]
pub struct CambiSettings {
    pub enabled: bool,
    /// Everything but the sizes, which are set one property at a time.
    options: CambiOptions,
    enc: (u32, u32),
    src: (u32, u32),
}

impl CambiSettings {
    /// The options for the meter, `None` when CAMBI is off.
    pub fn meter_options(&self) -> Result<Option<CambiOptions>, String> {
        if !self.enabled {
            return Ok(None);
        }
        let pair = |(w, h): (u32, u32), what: &str| match (w, h) {
            (0, 0) => Ok(None),
            (0, _) | (_, 0) => Err(format!(
                "set both cambi-{what}-width and cambi-{what}-height, or neither"
            )),
            (w, h) => Ok(Some((w as usize, h as usize))),
        };
        let o = CambiOptions {
            enc_size: pair(self.enc, "enc")?,
            src_size: pair(self.src, "src")?,
            ..self.options.clone()
        };
        o.validate().map_err(|e| e.to_string())?;
        Ok(Some(o))
    }

    pub fn param_specs() -> Vec<glib::ParamSpec> {
        let d = CambiOptions::default();
        let uint = |name: &str, nick: &str, blurb: &str, min: u32, max: u32, def: u32| {
            glib::ParamSpecUInt::builder(name)
                .nick(nick)
                .blurb(blurb)
                .minimum(min)
                .maximum(max)
                .default_value(def)
                .mutable_ready()
                .build()
        };
        let double = |name: &str, nick: &str, blurb: &str, min: f64, max: f64, def: f64| {
            glib::ParamSpecDouble::builder(name)
                .nick(nick)
                .blurb(blurb)
                .minimum(min)
                .maximum(max)
                .default_value(def)
                .mutable_ready()
                .build()
        };
        vec![
            glib::ParamSpecBoolean::builder("cambi")
                .nick("CAMBI")
                .blurb("Compute CAMBI banding of the distorted luma ('cambi', plus 'cambi_source' and 'cambi_full_reference' with cambi-full-ref), as libvmaf's cambi feature; the encode (cambi-enc-width x cambi-enc-height, default the input) must be at least 216 pixels in one direction. The score's name carries libvmaf's suffixes for non-default options (e.g. cambi_ws_33)")
                .default_value(false)
                .mutable_ready()
                .build(),
            uint(
                "cambi-window-size",
                "CAMBI window",
                "CAMBI window size at 4K (libvmaf window_size: 65 is about one degree at 4K), scaled with the encode's width + height",
                15,
                127,
                d.window_size as u32,
            ),
            double(
                "cambi-topk",
                "CAMBI top-k",
                "Share of the highest contrast values pooled at each scale (libvmaf cambi_topk)",
                0.0001,
                1.0,
                d.topk,
            ),
            double(
                "cambi-tvi-threshold",
                "CAMBI visibility threshold",
                "A luminance step is visible when above this share of the level's luminance (libvmaf tvi_threshold)",
                0.0001,
                1.0,
                d.tvi_threshold,
            ),
            double(
                "cambi-vis-lum-threshold",
                "CAMBI dark threshold",
                "Luminance in cd/m2 below which banding is not counted (libvmaf cambi_vis_lum_threshold)",
                0.0,
                300.0,
                d.vis_lum_threshold,
            ),
            uint(
                "cambi-max-log-contrast",
                "CAMBI max log contrast",
                "Largest step considered: 2^N code values at 10 bits (libvmaf max_log_contrast; 2 suits compression banding)",
                0,
                5,
                d.max_log_contrast as u32,
            ),
            uint(
                "cambi-enc-width",
                "CAMBI encode width",
                "Width the stream was encoded at, when it was upscaled for display: CAMBI measures at the encode's size (libvmaf enc_width; 0 = the input's width, else 180..7680)",
                0,
                7680,
                0,
            ),
            uint(
                "cambi-enc-height",
                "CAMBI encode height",
                "Height the stream was encoded at (libvmaf enc_height; 0 = the input's height, else 150..7680)",
                0,
                7680,
                0,
            ),
            uint(
                "cambi-enc-bitdepth",
                "CAMBI encode bit depth",
                "Bit depth of the encode; below 10 CAMBI removes dithering first (libvmaf enc_bitdepth; 0 = the input's, else 6..16)",
                0,
                16,
                0,
            ),
            glib::ParamSpecBoolean::builder("cambi-full-ref")
                .nick("CAMBI full reference")
                .blurb("Also measure the reference's banding ('cambi_source') and report the banding the encode added, max(0, cambi - cambi_source) ('cambi_full_reference'), as libvmaf's full_ref")
                .default_value(false)
                .mutable_ready()
                .build(),
            uint(
                "cambi-src-width",
                "CAMBI source width",
                "Width of the source the reference came from, in full-reference mode (libvmaf src_width; 0 = the input's width, else 320..7680)",
                0,
                7680,
                0,
            ),
            uint(
                "cambi-src-height",
                "CAMBI source height",
                "Height of the source, in full-reference mode (libvmaf src_height; 0 = the input's height, else 200..4320)",
                0,
                4320,
                0,
            ),
            glib::ParamSpecEnum::builder_with_default("cambi-eotf", CambiEotf::Bt1886)
                .nick("CAMBI EOTF")
                .blurb("Display transfer function for the visibility thresholds (libvmaf cambi_eotf)")
                .mutable_ready()
                .build(),
            uint(
                "cambi-high-res-speedup",
                "CAMBI high-resolution speed-up",
                "Measure from half resolution when the encode is at least this class: 1080, 1440 or 2160 (libvmaf cambi_high_res_speedup; 0 = off; slightly less accurate)",
                0,
                2160,
                0,
            ),
            double(
                "cambi-max-val",
                "CAMBI maximum",
                "CAMBI scores are clipped to this (libvmaf cambi_max_val)",
                0.0,
                1000.0,
                d.max_val,
            ),
        ]
    }

    /// Sets `name` if it is one of the CAMBI properties; false otherwise.
    pub fn set(&mut self, name: &str, value: &glib::Value) -> bool {
        let o = &mut self.options;
        let uint = || value.get::<u32>().expect("type checked upstream");
        let double = || value.get::<f64>().expect("type checked upstream");
        match name {
            "cambi" => self.enabled = value.get().expect("type checked upstream"),
            "cambi-window-size" => o.window_size = uint() as u16,
            "cambi-topk" => o.topk = double(),
            "cambi-tvi-threshold" => o.tvi_threshold = double(),
            "cambi-vis-lum-threshold" => o.vis_lum_threshold = double(),
            "cambi-max-log-contrast" => o.max_log_contrast = uint() as u16,
            "cambi-enc-width" => self.enc.0 = uint(),
            "cambi-enc-height" => self.enc.1 = uint(),
            "cambi-enc-bitdepth" => o.enc_bitdepth = Some(uint()).filter(|&b| b > 0),
            "cambi-full-ref" => o.full_ref = value.get().expect("type checked upstream"),
            "cambi-src-width" => self.src.0 = uint(),
            "cambi-src-height" => self.src.1 = uint(),
            "cambi-eotf" => {
                o.eotf = match value.get::<CambiEotf>().expect("type checked upstream") {
                    CambiEotf::Bt1886 => Eotf::Bt1886,
                    CambiEotf::Pq => Eotf::Pq,
                }
            }
            "cambi-high-res-speedup" => o.high_res_speedup = uint(),
            "cambi-max-val" => o.max_val = double(),
            _ => return false,
        }
        true
    }

    /// The value of `name` if it is one of the CAMBI properties.
    pub fn get(&self, name: &str) -> Option<glib::Value> {
        let o = &self.options;
        Some(match name {
            "cambi" => self.enabled.to_value(),
            "cambi-window-size" => (o.window_size as u32).to_value(),
            "cambi-topk" => o.topk.to_value(),
            "cambi-tvi-threshold" => o.tvi_threshold.to_value(),
            "cambi-vis-lum-threshold" => o.vis_lum_threshold.to_value(),
            "cambi-max-log-contrast" => (o.max_log_contrast as u32).to_value(),
            "cambi-enc-width" => self.enc.0.to_value(),
            "cambi-enc-height" => self.enc.1.to_value(),
            "cambi-enc-bitdepth" => o.enc_bitdepth.unwrap_or(0).to_value(),
            "cambi-full-ref" => o.full_ref.to_value(),
            "cambi-src-width" => self.src.0.to_value(),
            "cambi-src-height" => self.src.1.to_value(),
            "cambi-eotf" => match o.eotf {
                Eotf::Bt1886 => CambiEotf::Bt1886,
                Eotf::Pq => CambiEotf::Pq,
            }
            .to_value(),
            "cambi-high-res-speedup" => o.high_res_speedup.to_value(),
            "cambi-max-val" => o.max_val.to_value(),
            _ => return None,
        })
    }
}
