//! Size fixation as `videoscale` does it: the free values keep the input's display aspect
//! ratio; computed sizes respect the caller's minimum.

use lv_gst::caps::{any_par, fixate_size, int_range};

fn fixate(
    s: gst::Structure,
    input: (i32, i32),
    par: (i32, i32),
    min: (i32, i32),
) -> gst::Structure {
    let mut s = s;
    fixate_size(&mut s, input, gst::Fraction::new(par.0, par.1), min);
    s
}

fn out() -> gst::structure::Builder {
    gst::init().unwrap();
    gst::Structure::builder("video/x-raw")
}

#[test]
fn both_sizes_given_the_open_par_keeps_the_dar() {
    let s = out()
        .field("width", 1440)
        .field("height", 1080)
        .field("pixel-aspect-ratio", any_par())
        .build();
    let s = fixate(s, (1920, 1080), (1, 1), (1, 1));
    assert_eq!(
        s.get::<gst::Fraction>("pixel-aspect-ratio").unwrap(),
        gst::Fraction::new(4, 3)
    );
}

#[test]
fn one_size_given_the_other_keeps_the_dar_at_the_input_par() {
    let s = out()
        .field("width", 640)
        .field("height", int_range(1, 4096))
        .field("pixel-aspect-ratio", any_par())
        .build();
    let s = fixate(s, (1920, 1080), (1, 1), (1, 1));
    assert_eq!(s.get::<i32>("height").unwrap(), 360);
    assert_eq!(
        s.get::<gst::Fraction>("pixel-aspect-ratio").unwrap(),
        gst::Fraction::new(1, 1)
    );

    // Anamorphic 720x576 (16:15) shown at 480 lines with square pixels: 640 wide.
    let s = out()
        .field("width", int_range(1, 4096))
        .field("height", 480)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build();
    let s = fixate(s, (720, 576), (16, 15), (1, 1));
    assert_eq!(s.get::<i32>("width").unwrap(), 640);
}

#[test]
fn nothing_given_the_input_width_and_computed_sizes_respect_the_minimum() {
    let s = out()
        .field("width", int_range(1, 4096))
        .field("height", int_range(1, 4096))
        .build();
    let s = fixate(s, (320, 180), (1, 1), (1, 1));
    assert_eq!(
        (
            s.get::<i32>("width").unwrap(),
            s.get::<i32>("height").unwrap()
        ),
        (320, 180)
    );

    // An upscaler asked for 400 wide at a PAR that would make it shorter than its input.
    let s = out()
        .field("width", 400)
        .field("height", int_range(180, 4096))
        .field("pixel-aspect-ratio", gst::Fraction::new(2, 1))
        .build();
    let s = fixate(s, (320, 180), (1, 1), (320, 180));
    assert_eq!(s.get::<i32>("height").unwrap(), 450);
    let s = out()
        .field("width", 400)
        .field("height", int_range(180, 4096))
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 2))
        .build();
    let s = fixate(s, (320, 180), (1, 1), (320, 180));
    assert_eq!(s.get::<i32>("height").unwrap(), 180);
}
