// SPDX-License-Identifier: MPL-2.0

//! `srpatch`'s properties: the settings they hold, their defaults and their specs, apart from
//! the element so that `imp.rs` reads as pads, caps, threads and messages.

use gst::glib;
use gst::prelude::*;
use lv_livenas::select::DEFAULT_PATCH_SIZE;
use lv_livenas::wire::Limits;

const DEFAULT_PATCH_KBPS: u32 = 100;
const DEFAULT_MIN_PATCH_KBPS: u32 = 25;
const DEFAULT_JPEG_QUALITY: u32 = 95;
const DEFAULT_MAX_PATCHES: u32 = 8;

#[derive(Clone, Debug)]
pub(super) struct Settings {
    pub(super) patch_size: u32,
    pub(super) patch_kbps: u32,
    pub(super) min_patch_kbps: u32,
    pub(super) bandwidth_kbps: u32,
    pub(super) scheduler: bool,
    pub(super) jpeg_quality: u32,
    pub(super) seed: u64,
    pub(super) max_patches: u32,
    pub(super) frames_between_patches: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            patch_size: DEFAULT_PATCH_SIZE as u32,
            patch_kbps: DEFAULT_PATCH_KBPS,
            min_patch_kbps: DEFAULT_MIN_PATCH_KBPS,
            bandwidth_kbps: 0,
            scheduler: true,
            jpeg_quality: DEFAULT_JPEG_QUALITY,
            seed: 0,
            max_patches: DEFAULT_MAX_PATCHES,
            frames_between_patches: 0,
        }
    }
}

/// Every property of the element, in gst-inspect's order (the last three are read from the
/// element's state, not from [`Settings`]).
pub(super) fn param_specs() -> Vec<glib::ParamSpec> {
    let d = Settings::default();
    vec![
        glib::ParamSpecUInt::builder("patch-size")
            .nick("Patch size")
            .blurb(
                "Side of the square grid cells sent as patches, in luma samples \
                 (the server network's patch size)",
            )
            .minimum(8)
            .maximum(512)
            .default_value(d.patch_size)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("patch-kbps")
            .nick("Patch rate")
            .blurb(
                "Patch rate in kbit/s: the scheduler's initial rate p0, or the fixed \
                 rate when the scheduler is off (bandwidth-kbps=0 or scheduler=false)",
            )
            .maximum(100_000)
            .default_value(d.patch_kbps)
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder("min-patch-kbps")
            .nick("Minimum patch rate")
            .blurb(
                "Patch rate in kbit/s while the server reports its training suspended \
                 (p_min), and the scheduler's floor",
            )
            .maximum(100_000)
            .default_value(d.min_patch_kbps)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("bandwidth-kbps")
            .nick("Available bandwidth")
            .blurb(
                "Estimate of the available uplink bandwidth C_t in kbit/s, e.g. from \
                 the transport; the scheduler splits it between patches and video. \
                 0: unknown, the scheduler is off and patches go at patch-kbps. Under \
                 200 kbit/s no patches are sent",
            )
            .maximum(10_000_000)
            .default_value(0)
            .mutable_playing()
            .build(),
        glib::ParamSpecBoolean::builder("scheduler")
            .nick("Scheduler")
            .blurb(
                "Run the quality-optimizing scheduler (LiveNAS Eq. 2) when \
                 bandwidth-kbps is known; false: fixed patch rate",
            )
            .default_value(true)
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder("jpeg-quality")
            .nick("JPEG quality")
            .blurb("JPEG quality of the patches (LiveNAS uses 95)")
            .minimum(1)
            .maximum(100)
            .default_value(d.jpeg_quality)
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt64::builder("seed")
            .nick("Seed")
            .blurb("Seed of the random cell choice (runs are reproducible)")
            .default_value(0)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("max-patches")
            .nick("Patches per message")
            .blurb("Most patches in one message (buffer) on patch_src")
            .minimum(1)
            .maximum(Limits::default().max_patches as u32)
            .default_value(d.max_patches)
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder("frames-between-patches")
            .nick("Frames between patch messages")
            .blurb(
                "Least number of video frames between two patch messages (0: as soon \
                 as the patch rate allows)",
            )
            .default_value(0)
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt64::builder("patches-sent")
            .nick("Patches sent")
            .blurb("Patches pushed on patch_src so far")
            .read_only()
            .build(),
        glib::ParamSpecUInt64::builder("bytes-sent")
            .nick("Bytes sent")
            .blurb("Bytes of patch messages pushed on patch_src so far")
            .read_only()
            .build(),
        glib::ParamSpecDouble::builder("current-patch-kbps")
            .nick("Current patch rate")
            .blurb("Patch rate in force, kbit/s (from the scheduler or patch-kbps)")
            .read_only()
            .build(),
    ]
}

impl Settings {
    /// Stores a property's value (its type checked by GObject before this is called).
    pub(super) fn set(&mut self, name: &str, value: &glib::Value) {
        match name {
            "patch-size" => self.patch_size = value.get().unwrap(),
            "patch-kbps" => self.patch_kbps = value.get().unwrap(),
            "min-patch-kbps" => self.min_patch_kbps = value.get().unwrap(),
            "bandwidth-kbps" => self.bandwidth_kbps = value.get().unwrap(),
            "scheduler" => self.scheduler = value.get().unwrap(),
            "jpeg-quality" => self.jpeg_quality = value.get().unwrap(),
            "seed" => self.seed = value.get().unwrap(),
            "max-patches" => self.max_patches = value.get().unwrap(),
            "frames-between-patches" => self.frames_between_patches = value.get().unwrap(),
            _ => unreachable!("srpatch has no setting {name}"),
        }
    }

    /// A setting's value, or `None` for the counters the element's state holds.
    pub(super) fn get(&self, name: &str) -> Option<glib::Value> {
        Some(match name {
            "patch-size" => self.patch_size.to_value(),
            "patch-kbps" => self.patch_kbps.to_value(),
            "min-patch-kbps" => self.min_patch_kbps.to_value(),
            "bandwidth-kbps" => self.bandwidth_kbps.to_value(),
            "scheduler" => self.scheduler.to_value(),
            "jpeg-quality" => self.jpeg_quality.to_value(),
            "seed" => self.seed.to_value(),
            "max-patches" => self.max_patches.to_value(),
            "frames-between-patches" => self.frames_between_patches.to_value(),
            _ => return None,
        })
    }

    /// Whether a change of `name` has to rebuild the element's state (settings read at
    /// start, and the patch rate while stopped).
    pub(super) fn resets_state(name: &str, stopped: bool) -> bool {
        matches!(name, "patch-size" | "seed" | "min-patch-kbps")
            || (name == "patch-kbps" && stopped)
    }
}
