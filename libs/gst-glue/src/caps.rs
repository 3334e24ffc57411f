// SPDX-License-Identifier: MPL-2.0

//! Caps helpers of the scalers: open sizes and PARs, and size fixation that keeps the display
//! aspect ratio the way `videoscale` does (the arithmetic is `lv_image::aspect`).

use gst::prelude::*;
use lv_image::aspect;

/// `min..=max` as a caps value (a plain int when the range is one value).
pub fn int_range(min: i32, max: i32) -> gst::glib::SendValue {
    if min >= max {
        min.to_send_value()
    } else {
        gst::IntRange::new(min, max).to_send_value()
    }
}

/// Any pixel-aspect-ratio.
pub fn any_par() -> gst::FractionRange {
    gst::FractionRange::new(
        gst::Fraction::new(1, i32::MAX),
        gst::Fraction::new(i32::MAX, 1),
    )
}

/// Opens `s` to any size and drops its pixel-aspect-ratio: what is left says whether a peer
/// takes the format at all, whatever the size.
pub fn set_any_size(s: &mut gst::StructureRef) {
    s.set_value("width", int_range(1, i32::MAX));
    s.set_value("height", int_range(1, i32::MAX));
    s.remove_field("pixel-aspect-ratio");
}

fn pair(f: gst::Fraction) -> (i32, i32) {
    (f.numer(), f.denom())
}

/// Fixates width, height and pixel-aspect-ratio of the output structure `s` for an
/// `in_w x in_h` input with `in_par`, keeping the display aspect ratio: with both sizes
/// given, the PAR (when `s` leaves it open); with one, the other size; with none, the
/// input's width (passthrough when allowed) and the height that goes with it. Computed sizes
/// are at least `min` (width, height), e.g. the input's for an upscaler.
pub fn fixate_size(
    s: &mut gst::StructureRef,
    (in_w, in_h): (i32, i32),
    in_par: gst::Fraction,
    (min_w, min_h): (i32, i32),
) {
    let dar = aspect::dar(in_w, in_h, pair(in_par));
    let has_par = s.has_field("pixel-aspect-ratio");
    // The output PAR nearest the input's (as videoscale does when it picks the size).
    let fixate_par = |s: &mut gst::StructureRef| {
        if has_par {
            s.fixate_field_nearest_fraction("pixel-aspect-ratio", in_par);
        }
        pair(
            s.get::<gst::Fraction>("pixel-aspect-ratio")
                .unwrap_or(in_par),
        )
    };
    match (s.get::<i32>("width").ok(), s.get::<i32>("height").ok()) {
        (Some(w), Some(h)) => {
            if has_par && s.get::<gst::Fraction>("pixel-aspect-ratio").is_err() {
                let (n, d) = aspect::par_for_size(dar, w, h);
                s.fixate_field_nearest_fraction("pixel-aspect-ratio", gst::Fraction::new(n, d));
            }
        }
        (Some(w), None) => {
            let par = fixate_par(s);
            let h = aspect::height_for_width(dar, w, par);
            s.fixate_field_nearest_int("height", h.max(min_h));
        }
        (None, Some(h)) => {
            let par = fixate_par(s);
            let w = aspect::width_for_height(dar, h, par);
            s.fixate_field_nearest_int("width", w.max(min_w));
        }
        (None, None) => {
            let par = fixate_par(s);
            s.fixate_field_nearest_int("width", in_w);
            let w = s.get::<i32>("width").unwrap_or(in_w);
            let h = aspect::height_for_width(dar, w, par);
            s.fixate_field_nearest_int("height", h.max(min_h));
        }
    }
}
