// SPDX-License-Identifier: MPL-2.0

//! Element tests: the documented pipeline against the libvmaf oracle, properties, and every
//! kind of bad input the element must survive with a clear error or documented behaviour.

use gst::prelude::*;
use gstvqmeter::FrameMessage;
use lv_testkit::oracle;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn init() {
    use std::sync::Once;
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstvqmeter::plugin_register_static().expect("vqmeter plugin");
    });
}

struct Outcome {
    frames: Vec<FrameMessage>,
    pooled: Option<gst::Structure>,
    segments: Vec<gst::Structure>,
    errors: Vec<(String, String)>,
    warnings: Vec<String>,
}

/// Runs a launch line to EOS or error (bounded in time) and collects what the bus said.
fn run(launch: &str) -> Outcome {
    init();
    let pipeline = gst::parse::launch(launch).expect("launch line parses");
    let out = run_pipeline(&pipeline, launch);
    pipeline.set_state(gst::State::Null).unwrap();
    out
}

/// Sets `pipeline` playing and collects what its bus says until EOS or an error, for at most
/// two minutes; leaves the state to the caller.
fn run_pipeline(pipeline: &impl IsA<gst::Element>, what: &str) -> Outcome {
    let bus = pipeline.bus().unwrap();
    let mut out = Outcome {
        frames: vec![],
        pooled: None,
        segments: vec![],
        errors: vec![],
        warnings: vec![],
    };
    if pipeline.set_state(gst::State::Playing).is_err() {
        // The error message on the bus says why.
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(!left.is_zero(), "pipeline hung: {what}");
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(left.as_millis() as u64))
        else {
            continue;
        };
        use gst::MessageView;
        match msg.view() {
            MessageView::Eos(..) => break,
            MessageView::Error(e) => {
                out.errors.push((
                    e.error().to_string(),
                    e.debug().map(|d| d.to_string()).unwrap_or_default(),
                ));
                break;
            }
            MessageView::Warning(w) => out.warnings.push(format!("{} {:?}", w.error(), w.debug())),
            MessageView::Element(e) => {
                let s = e.structure().unwrap();
                match s.name().as_str() {
                    "vqmeter-frame" => out.frames.push(FrameMessage::try_from(s).unwrap()),
                    "vqmeter-pooled" => out.pooled = Some(s.to_owned()),
                    "vqmeter-segment" => out.segments.push(s.to_owned()),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    out
}

fn clip(name: &str) -> PathBuf {
    let p = oracle::corpus_dir().join("test").join(name);
    assert!(
        p.is_file(),
        "{} missing: run scripts/fetch-test-deps.sh",
        p.display()
    );
    p
}

fn pair_launch(r: &Path, d: &Path, props: &str) -> String {
    format!(
        "vqmeter name=m {props} ! fakesink filesrc location={} ! y4mdec ! m.ref_sink filesrc location={} ! y4mdec ! m.dist_sink",
        r.display(),
        d.display()
    )
}

fn score(f: &FrameMessage, name: &str) -> f64 {
    f.scores
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in frame {}", f.index))
        .1
}

/// The pipeline the issue gives, on natural content, checked frame by frame against libvmaf.
#[test]
fn documented_pipeline_agrees_with_libvmaf() {
    let r = clip("bbb_320x180_30f.y4m");
    let d = oracle::distort(&r, "x264crf35", 320, 180, "yuv420p").unwrap();
    let results = oracle::scratch_dir().join("vqmeter-doc-pipeline.json");
    let _ = std::fs::remove_file(&results);
    let out = run(&pair_launch(
        &r,
        &d,
        &format!(
            "results-filename={} results-format=json psnr=true ssim=true ms-ssim=true",
            results.display()
        ),
    ));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.frames.len(), 30);
    let oracle_frames = oracle::libvmaf_frames(
        &r,
        &d,
        "version=vmaf_v0.6.1:name=vmaf",
        "name=psnr|name=float_ssim|name=float_ms_ssim",
        1,
    )
    .unwrap();
    assert_eq!(oracle_frames.len(), 30);
    let mut worst = [0f64; 6];
    let tol = [0.01, 1e-4, 1e-4, 1e-4, 1e-5, 1e-5];
    let names = [
        "vmaf",
        "psnr_y",
        "psnr_cb",
        "psnr_cr",
        "float_ssim",
        "float_ms_ssim",
    ];
    for (f, o) in out.frames.iter().zip(&oracle_frames) {
        for (k, n) in names.iter().enumerate() {
            let want = o[*n].as_f64().unwrap();
            // libvmaf's log rounds to 6 decimals.
            let diff = (score(f, n) - want).abs() - 5e-7;
            worst[k] = worst[k].max(diff);
        }
    }
    eprintln!(
        "largest |delta| vs libvmaf: {:?}",
        names.iter().zip(worst).collect::<Vec<_>>()
    );
    for k in 0..names.len() {
        assert!(
            worst[k] <= tol[k],
            "{}: {} > {}",
            names[k],
            worst[k],
            tol[k]
        );
    }
    // The results file is in libvmaf's JSON layout.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!(v["frames"].as_array().unwrap().len(), 30);
    assert_eq!(v["frames"][3]["frameNum"], 3);
    for n in names {
        assert!(
            v["frames"][0]["metrics"][n].is_number(),
            "{n} missing from results file"
        );
        assert!(v["pooled_metrics"][n]["harmonic_mean"].is_number());
    }
    let pooled = out.pooled.expect("pooled message at EOS");
    assert_eq!(pooled.get::<u64>("frames").unwrap(), 30);
    assert_eq!(
        pooled.get::<Option<gst::ClockTime>>("start").unwrap(),
        Some(gst::ClockTime::ZERO)
    );
    let mean: f64 = out.frames.iter().map(|f| score(f, "vmaf")).sum::<f64>() / 30.0;
    assert!((pooled.get::<f64>("score").unwrap() - mean).abs() < 1e-9);
}

#[test]
fn frames_are_reported_with_one_frame_of_delay_at_most() {
    // Each frame message must be on the bus before the pipeline's EOS, in order, with pts.
    let r = clip("bikes_320x136_30f.y4m");
    let out = run(&pair_launch(&r, &r, "psnr=true"));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.frames.len(), 30);
    for (i, f) in out.frames.iter().enumerate() {
        assert_eq!(f.index, i as u64);
        assert!(f.pts.is_some() && f.running_time.is_some());
        // identical inputs: VMAF of a clip against itself is high, PSNR at its cap
        assert!(score(f, "vmaf") > 90.0);
        assert!(score(f, "psnr_y") >= 60.0);
    }
}

/// Measuring several frames at once (the default on files) gives the same numbers, frame for
/// frame and pooled, as measuring one frame at a time, whatever the number of threads.
#[test]
fn threading_modes_agree_frame_for_frame() {
    let r = clip("bbb_320x180_30f.y4m");
    let d = oracle::distort(&r, "x264crf35", 320, 180, "yuv420p").unwrap();
    let props = "psnr=true ssim=true ms-ssim=true model-filename=vmaf_v0.6.1,vmaf_float_v0.6.1neg";
    let base = run(&pair_launch(
        &r,
        &d,
        &format!("{props} threading=extractors threads=1"),
    ));
    assert!(base.errors.is_empty(), "{:?}", base.errors);
    assert_eq!(base.frames.len(), 30);
    for extra in [
        "threading=frames threads=1",
        "threading=frames threads=2",
        "threading=frames threads=3",
        "",
    ] {
        let out = run(&pair_launch(&r, &d, &format!("{props} {extra}")));
        assert!(out.errors.is_empty(), "{extra}: {:?}", out.errors);
        assert_eq!(out.frames.len(), 30, "{extra}");
        for (a, b) in out.frames.iter().zip(&base.frames) {
            assert_eq!(a.index, b.index, "{extra}");
            assert_eq!(a.pts, b.pts, "{extra}");
            assert_eq!(a.scores, b.scores, "{extra}: frame {}", a.index);
        }
        let (p, q) = (out.pooled.as_ref().unwrap(), base.pooled.as_ref().unwrap());
        assert_eq!(
            p.get::<f64>("score").unwrap(),
            q.get::<f64>("score").unwrap()
        );
    }
}

#[test]
fn csv_and_xml_results() {
    let r = clip("bbb_320x180_30f.y4m");
    for (fmt, check) in [("csv", "Frame,vmaf"), ("xml", "<pooled_metrics>")] {
        let path = oracle::scratch_dir().join(format!("vqmeter-results.{fmt}"));
        let _ = std::fs::remove_file(&path);
        let out = run(&pair_launch(
            &r,
            &r,
            &format!(
                "results-filename={} results-format={fmt} ssim=true",
                path.display()
            ),
        ));
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(check), "{fmt}: {text:.200}");
        if fmt == "csv" {
            assert_eq!(text.lines().count(), 31);
        }
    }
}

#[test]
fn segments_are_pooled() {
    let r = clip("bbb_320x180_30f.y4m");
    // 30 frames at 25 fps (y4mdec's clip rate) in 0.4 s segments.
    let out = run(&pair_launch(
        &r,
        &r,
        "segment-duration=400000000 frame-message=false",
    ));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(out.frames.is_empty());
    assert!(out.segments.len() >= 2, "{} segments", out.segments.len());
    let total: u64 = out
        .segments
        .iter()
        .map(|s| s.get::<u64>("frames").unwrap())
        .sum();
    assert_eq!(total, 30);
}

#[test]
fn sizes_that_differ_are_a_negotiation_error_naming_videoscale() {
    let a = clip("bbb_320x180_30f.y4m");
    let b = clip("bikes_320x136_30f.y4m");
    let out = run(&pair_launch(&a, &b, ""));
    assert_eq!(out.errors.len(), 1, "expected an error");
    let (_, debug) = &out.errors[0];
    assert!(
        out.errors[0].0.contains("videoscale") && debug.contains("videoscale"),
        "{:?}",
        out.errors
    );
}

#[test]
fn formats_that_differ_are_a_negotiation_error_naming_videoconvert() {
    let a = clip("bbb_320x180_30f.y4m");
    let launch = format!(
        "vqmeter name=m ! fakesink filesrc location={a} ! y4mdec ! m.ref_sink filesrc location={a} ! y4mdec ! videoconvert ! video/x-raw,format=Y444 ! m.dist_sink",
        a = a.display()
    );
    let out = run(&launch);
    assert_eq!(out.errors.len(), 1, "expected an error");
    assert!(out.errors[0].1.contains("videoconvert"), "{:?}", out.errors);
}

/// An input left unlinked in a file pipeline is an error naming it, not an endless preroll
/// (the aggregator waits for every pad).
#[test]
fn an_unlinked_input_is_an_error_naming_it() {
    let a = clip("bbb_320x180_30f.y4m");
    for (linked, unlinked) in [("ref_sink", "dist_sink"), ("dist_sink", "ref_sink")] {
        let out = run(&format!(
            "vqmeter name=m psnr=true ! fakesink filesrc location={} ! y4mdec ! m.{linked}",
            a.display()
        ));
        assert_eq!(out.errors.len(), 1, "{linked} only: {:?}", out.errors);
        assert!(
            out.errors[0]
                .0
                .contains(&format!("{unlinked} is not linked")),
            "{:?}",
            out.errors
        );
    }
}

/// A results file named through a symbolic link is written to the file the link names, and
/// the link stays (a rename over the link would have replaced it).
#[cfg(unix)]
#[test]
fn results_through_a_link_reach_its_file() {
    let r = clip("carphone_pristine_176x144_30f.y4m");
    let d = clip("carphone_distorted_176x144_30f.y4m");
    let dir = oracle::scratch_dir().join(format!("vqmeter-link-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (target, link) = (dir.join("target.csv"), dir.join("link.csv"));
    let _ = std::fs::remove_file(&link);
    std::fs::write(&target, "previous").unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = run(&pair_launch(
        &r,
        &d,
        &format!(
            "model-filename=\"\" psnr=true results-format=csv results-filename={}",
            link.display()
        ),
    ));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let csv = std::fs::read_to_string(&target).unwrap();
    assert!(csv.starts_with("Frame,psnr_y"), "{csv}");
    assert_eq!(csv.lines().count(), 31, "header and 30 frames");
}

/// Frames without timestamps (a raw parser with no framerate stamps only the first) are an
/// error naming the input, not the upstream element's bare "internal data stream error".
#[test]
fn frames_without_timestamps_are_an_error_naming_the_input() {
    let (hdr, frames) = lv_testkit::y4m::read_all(&clip("bbb_320x180_30f.y4m")).unwrap();
    let raw = oracle::scratch_dir().join(format!("vqmeter-untimed-{}.yuv", std::process::id()));
    let bytes: Vec<u8> = frames[..5]
        .iter()
        .flat_map(|f| f.planes.iter().flatten().map(|&v| v as u8))
        .collect();
    std::fs::write(&raw, bytes).unwrap();
    let parse = format!(
        "filesrc location={} ! rawvideoparse width={} height={} format=i420 framerate=0/1",
        raw.display(),
        hdr.width,
        hdr.height
    );
    let out = run(&format!(
        "vqmeter name=m psnr=true ! fakesink {parse} ! m.ref_sink {parse} ! m.dist_sink"
    ));
    assert!(
        out.errors
            .first()
            .is_some_and(|(e, _)| e.contains("received a frame without a timestamp")),
        "{:?}",
        out.errors
    );
}

fn truncated_copy(src: &Path, frames: usize) -> PathBuf {
    let (h, all) = lv_testkit::y4m::read_all(src).unwrap();
    let out = oracle::scratch_dir().join(format!(
        "{}_first{frames}.y4m",
        src.file_stem().unwrap().to_string_lossy()
    ));
    lv_testkit::y4m::write_all(
        std::io::BufWriter::new(std::fs::File::create(&out).unwrap()),
        &h,
        &all[..frames],
    )
    .unwrap();
    out
}

#[test]
fn reference_ending_early_passes_the_rest_through_with_a_warning() {
    let full = clip("bbb_320x180_30f.y4m");
    let short = truncated_copy(&full, 12);
    let out = run(&pair_launch(&short, &full, ""));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.frames.len(), 12);
    assert!(!out.warnings.is_empty());
    let pooled = out.pooled.unwrap();
    assert_eq!(pooled.get::<u64>("frames").unwrap(), 12);
    assert_eq!(pooled.get::<u64>("unpaired-frames").unwrap(), 18);
}

#[test]
fn distorted_ending_early_ends_the_stream() {
    let full = clip("bbb_320x180_30f.y4m");
    let short = truncated_copy(&full, 10);
    let out = run(&pair_launch(&full, &short, ""));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.frames.len(), 10);
    assert_eq!(out.pooled.unwrap().get::<u64>("frames").unwrap(), 10);
}

#[test]
fn missing_model_is_a_clear_error() {
    let r = clip("bbb_320x180_30f.y4m");
    let out = run(&pair_launch(
        &r,
        &r,
        "model-filename=/nonexistent/model.json",
    ));
    assert_eq!(out.errors.len(), 1);
    assert!(
        out.errors[0].0.contains("/nonexistent/model.json")
            || out.errors[0].1.contains("/nonexistent/model.json"),
        "{:?}",
        out.errors
    );
}

#[test]
fn malformed_model_is_a_clear_error() {
    let r = clip("bbb_320x180_30f.y4m");
    let bad = oracle::scratch_dir().join("malformed-model.json");
    std::fs::write(
        &bad,
        "{\"model_dict\": {\"model\": \"svm_type nu_svr\\nSV\\n4 1:x\"}}",
    )
    .unwrap();
    let out = run(&pair_launch(
        &r,
        &r,
        &format!("model-filename={}", bad.display()),
    ));
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
}

#[test]
fn mid_stream_resolution_change_restarts_measurement() {
    init();
    let e = gst::ElementFactory::make("vqmeter")
        .property("psnr", true)
        .build()
        .unwrap();
    let mut h_ref = gst_check::Harness::with_element(&e, Some("ref_sink"), Some("src"));
    let mut h_dist = gst_check::Harness::with_element(&e, Some("dist_sink"), None);
    let bus = gst::Bus::new();
    e.set_bus(Some(&bus));
    let mut pts = gst::ClockTime::ZERO;
    for (w, h) in [(64u32, 48u32), (96, 64)] {
        let caps = gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::I420)
            .width(w as i32)
            .height(h as i32)
            .framerate(gst::Fraction::new(25, 1))
            .build();
        h_ref.set_src_caps(caps.clone());
        h_dist.set_src_caps(caps);
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w, h)
            .build()
            .unwrap();
        for i in 0..3u8 {
            let mk = |seed: u8| {
                let data: Vec<u8> = (0..info.size())
                    .map(|k| ((k * 7 + seed as usize * 13) % 251) as u8)
                    .collect();
                let mut b = gst::Buffer::from_mut_slice(data);
                {
                    let b = b.get_mut().unwrap();
                    b.set_pts(pts);
                    b.set_duration(gst::ClockTime::from_mseconds(40));
                }
                b
            };
            h_ref.push(mk(i)).unwrap_or_else(|e| {
                while let Some(m) = bus.pop() {
                    eprintln!("{m:?}");
                }
                panic!("ref {w}x{h} #{i}: {e:?}")
            });
            h_dist
                .push(mk(i + 1))
                .unwrap_or_else(|e| panic!("dist {w}x{h} #{i}: {e:?}"));
            pts += gst::ClockTime::from_mseconds(40);
        }
    }
    h_ref.push_event(gst::event::Eos::new());
    h_dist.push_event(gst::event::Eos::new());
    let mut got = 0;
    while h_ref.pull_until_eos().expect("output until EOS").is_some() {
        got += 1;
    }
    let mut frames = 0;
    let mut errors = 0;
    while let Some(m) = bus.pop() {
        match m.view() {
            gst::MessageView::Element(e)
                if e.structure()
                    .map(|s| s.name() == "vqmeter-frame")
                    .unwrap_or(false) =>
            {
                frames += 1
            }
            gst::MessageView::Error(_) => errors += 1,
            _ => {}
        }
    }
    assert_eq!(errors, 0);
    assert_eq!(frames, 6, "every frame measured across the size change");
    assert!(got >= 5, "distorted frames passed through ({got})");
}

#[test]
fn pictures_too_small_for_vmaf_are_a_clear_error() {
    let out = run("vqmeter name=m ! fakesink videotestsrc num-buffers=3 ! video/x-raw,width=24,height=24 ! m.ref_sink videotestsrc num-buffers=3 ! video/x-raw,width=24,height=24 ! m.dist_sink");
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert!(out.errors[0].0.contains("33x33"), "{:?}", out.errors);
    // PSNR alone works at any size.
    let out = run("vqmeter name=m model-filename=\"\" psnr=true ! fakesink videotestsrc num-buffers=3 ! video/x-raw,width=7,height=5 ! m.ref_sink videotestsrc num-buffers=3 ! video/x-raw,width=7,height=5 ! m.dist_sink");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.frames.len(), 3);
}

/// CAMBI through the element, on the banding-prone sky clip, frame by frame against libvmaf
/// (its options and full-reference scores under libvmaf's names, in messages and the file).
#[test]
fn cambi_through_the_element_agrees_with_libvmaf() {
    let r = clip("bbb_sky_480x270_10f.y4m");
    let d = oracle::distort(&r, "x264crf45", 480, 270, "yuv420p").unwrap();
    let results = oracle::scratch_dir().join("vqmeter-cambi.json");
    let _ = std::fs::remove_file(&results);
    let out = run(&pair_launch(
        &r,
        &d,
        &format!(
            "model-filename=\"\" cambi=true cambi-window-size=33 cambi-full-ref=true results-filename={}",
            results.display()
        ),
    ));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.frames.len(), 10);
    let oracle_frames = oracle::libvmaf_frames(
        &r,
        &d,
        "version=vmaf_v0.6.1:name=vmaf",
        "name=cambi:window_size=33:full_ref=true",
        1,
    )
    .unwrap();
    let names = ["cambi_ws_33", "cambi_source", "cambi_full_reference"];
    let mut banding = 0.0;
    for (f, o) in out.frames.iter().zip(&oracle_frames) {
        for n in names {
            let (ours, want) = (score(f, n), o[n].as_f64().unwrap());
            // libvmaf's log rounds to 6 decimals.
            assert!(
                (ours - want).abs() <= 5e-7,
                "{n} frame {}: {ours} vs {want}",
                f.index
            );
        }
        banding += score(f, "cambi_full_reference");
    }
    assert!(
        banding > 0.5,
        "x264 at CRF 45 must band the sky ({banding})"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    for n in names {
        assert!(
            v["frames"][9]["metrics"][n].is_number(),
            "{n} missing from results file"
        );
        assert!(v["pooled_metrics"][n]["mean"].is_number());
    }
}

#[test]
fn cambi_errors_are_clear() {
    // libvmaf's minimum: 216 pixels in one direction.
    let r = clip("carphone_pristine_176x144_30f.y4m");
    let out = run(&pair_launch(&r, &r, "cambi=true"));
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert!(out.errors[0].0.contains("216"), "{:?}", out.errors);
    // An encode size needs both dimensions.
    let r = clip("bbb_320x180_30f.y4m");
    let out = run(&pair_launch(&r, &r, "cambi=true cambi-enc-width=300"));
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert!(
        out.errors[0].0.contains("cambi-enc-height"),
        "{:?}",
        out.errors
    );
    // Out of libvmaf's range.
    let out = run(&pair_launch(
        &r,
        &r,
        "cambi=true cambi-enc-width=100 cambi-enc-height=100",
    ));
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert!(out.errors[0].0.contains("enc_width"), "{:?}", out.errors);
}

#[test]
fn every_property_is_documented() {
    init();
    let e = gst::ElementFactory::make("vqmeter").build().unwrap();
    let names: Vec<String> = e
        .list_properties()
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    for n in lv_testkit::elements::VQMETER_PROPERTIES {
        assert!(names.contains(&n.to_string()), "missing property {n}");
        let p = e.find_property(n).unwrap();
        assert!(
            p.blurb().map(|b| b.len() > 10).unwrap_or(false),
            "{n} has no description"
        );
    }
    assert_eq!(e.property::<String>("model-filename"), "vmaf_v0.6.1");
}

/// Further models are reported under their own names, the built-in "vmaf_v0.6.1neg" included
/// (it was cut to "vmaf_v0.6" as if ".1neg" were a file extension).
#[test]
fn second_model_is_reported_under_its_own_name() {
    let r = clip("carphone_pristine_176x144_30f.y4m");
    let d = clip("carphone_distorted_176x144_30f.y4m");
    let out = run(&pair_launch(
        &r,
        &d,
        "model-filename=vmaf_v0.6.1,vmaf_v0.6.1neg",
    ));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let f = &out.frames[5];
    let (v, neg) = (score(f, "vmaf"), score(f, "vmaf_v0.6.1neg"));
    // NEG limits the enhancement gain, so on a distorted clip it never scores above plain VMAF.
    assert!(neg <= v && neg > 0.0, "vmaf {v}, vmaf_v0.6.1neg {neg}");
    let pooled = out.pooled.expect("pooled message");
    assert!(pooled.has_field("vmaf_v0.6.1neg"), "{pooled}");
}

/// What the bus and the meter's sink pads saw, in the order it happened: messages are recorded
/// by a sync handler in the posting thread, flushes by a probe before the element handles them,
/// so a message posted after a flush began is recorded after `FlushStart`.
#[derive(Clone, Debug)]
enum Seen {
    FlushStart,
    Frame(FrameMessage),
    Pooled(gst::Structure),
    Eos,
    Error(gst::glib::Error, String),
}

struct Recorder {
    log: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
}

impl Recorder {
    fn attach(pipeline: &gst::Pipeline) -> Self {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let l = log.clone();
        pipeline.bus().unwrap().set_sync_handler(move |_, msg| {
            use gst::MessageView;
            let seen = match msg.view() {
                MessageView::Eos(..) => Some(Seen::Eos),
                MessageView::Error(e) => Some(Seen::Error(
                    e.error(),
                    e.debug().map(|d| d.to_string()).unwrap_or_default(),
                )),
                MessageView::Element(e) => e.structure().and_then(|s| match s.name().as_str() {
                    "vqmeter-frame" => Some(Seen::Frame(FrameMessage::try_from(s).unwrap())),
                    "vqmeter-pooled" => Some(Seen::Pooled(s.to_owned())),
                    _ => None,
                }),
                _ => None,
            };
            if let Some(s) = seen {
                l.lock().unwrap().push(s);
            }
            gst::BusSyncReply::Drop
        });
        if let Some(m) = pipeline.by_name("m") {
            assert!(!m.sink_pads().is_empty());
            let flushes = std::sync::Arc::new(std::sync::Mutex::new(0u32));
            for pad in m.sink_pads() {
                let l = log.clone();
                let flushes = flushes.clone();
                pad.add_probe(gst::PadProbeType::EVENT_FLUSH, move |_, info| {
                    if let Some(gst::PadProbeData::Event(ev)) = &info.data {
                        if ev.type_() == gst::EventType::FlushStart {
                            // One marker per flush: the first of the two pads to see it.
                            let mut n = flushes.lock().unwrap();
                            *n += 1;
                            if *n % 2 == 1 {
                                l.lock().unwrap().push(Seen::FlushStart);
                            }
                        }
                    }
                    gst::PadProbeReturn::Ok
                });
            }
        }
        Recorder { log }
    }

    fn snapshot(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    /// Waits (bounded) for the `nth` (1-based) EOS; panics on an error or a timeout.
    fn wait_eos(&self, nth: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let log = self.snapshot();
            if let Some(Seen::Error(e, d)) = log.iter().find(|s| matches!(s, Seen::Error(..))) {
                panic!("pipeline error: {e} ({d})");
            }
            if log.iter().filter(|s| matches!(s, Seen::Eos)).count() >= nth {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no EOS #{nth}: {log:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn wait_state(pipeline: &gst::Pipeline) {
    let (res, _, _) = pipeline.state(gst::ClockTime::from_seconds(60));
    res.expect("state change completes");
}

fn seek(pipeline: &gst::Pipeline, start_ms: u64, stop_ms: u64) {
    pipeline
        .seek(
            1.0,
            gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
            gst::SeekType::Set,
            gst::ClockTime::from_mseconds(start_ms),
            gst::SeekType::Set,
            gst::ClockTime::from_mseconds(stop_ms),
        )
        .expect("seek");
    wait_state(pipeline);
}

/// Two identical 25 fps test sources into `m`; neither ends by itself, seeks set the range.
fn seekable_pair(props: &str) -> gst::Pipeline {
    init();
    let src = "videotestsrc ! video/x-raw,width=160,height=120,framerate=25/1,format=I420";
    gst::parse::launch(&format!(
        "vqmeter name=m psnr=true {props} ! fakesink {src} ! m.ref_sink {src} ! m.dist_sink"
    ))
    .expect("launch line parses")
    .downcast()
    .unwrap()
}

fn frames_of(log: &[Seen]) -> Vec<FrameMessage> {
    log.iter()
        .filter_map(|s| match s {
            Seen::Frame(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

fn pooled_of(log: &[Seen]) -> Vec<gst::Structure> {
    log.iter()
        .filter_map(|s| match s {
            Seen::Pooled(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn ms(t: Option<gst::ClockTime>) -> u64 {
    t.expect("frame has a pts").mseconds()
}

/// Runs `launch` (whose meter is named `m`) and counts what `m` pushed downstream.
fn run_counting_output(launch: &str) -> (Outcome, Vec<gst::ClockTime>) {
    init();
    let pipeline: gst::Pipeline = gst::parse::launch(launch).unwrap().downcast().unwrap();
    let out_pts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let o = out_pts.clone();
    pipeline
        .by_name("m")
        .unwrap()
        .static_pad("src")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(b) = info.buffer() {
                o.lock().unwrap().push(b.pts().expect("output has a pts"));
            }
            gst::PadProbeReturn::Ok
        });
    let out = run_pipeline(&pipeline, launch);
    // Dropped while PLAYING, a live pipeline's streaming threads outlive its elements.
    pipeline.set_state(gst::State::Null).unwrap();
    let pts = out_pts.lock().unwrap().clone();
    (out, pts)
}

/// Live sources make the aggregator time out and repeat the last frame of a pad; a repeated
/// frame is neither a new pair to measure nor a new frame to pass downstream, and a distorted
/// branch that runs late still pairs each of its frames with the reference frame of its time.
#[test]
fn live_sources_measure_and_pass_each_frame_once() {
    const N: usize = 30;
    let src = format!(
        "videotestsrc is-live=true num-buffers={N} ! video/x-raw,width=160,height=120,framerate=30/1,format=I420"
    );
    for slow in ["", "identity sleep-time=45000 !"] {
        let launch = format!(
            "vqmeter name=m psnr=true ! fakesink {src} ! m.ref_sink {src} ! {slow} m.dist_sink"
        );
        let (out, out_pts) = run_counting_output(&launch);
        assert!(out.errors.is_empty(), "{slow}: {:?}", out.errors);
        let mut pts: Vec<_> = out.frames.iter().map(|f| f.pts.unwrap()).collect();
        assert_eq!(out.frames.len(), N, "{slow}: frame messages");
        pts.dedup();
        assert_eq!(pts.len(), N, "{slow}: distinct pts of frame messages");
        for f in &out.frames {
            // Both sources draw the same pictures: a frame paired with the reference of
            // another time would not be identical.
            assert_eq!(
                score(f, "psnr_y"),
                60.0,
                "{slow}: frame {} mispaired",
                f.index
            );
        }
        let pooled = out.pooled.expect("pooled message");
        assert_eq!(pooled.get::<u64>("frames").unwrap(), N as u64, "{slow}");
        assert_eq!(pooled.get::<u64>("unpaired-frames").unwrap(), 0, "{slow}");
        assert_eq!(out_pts.len(), N, "{slow}: buffers pushed downstream");
        let mut distinct = out_pts.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), N, "{slow}: distinct output pts");
    }
}

/// A flushing seek after EOS starts a new measurement: its own frame messages, its own pooled
/// message and a results file that holds it, complete, and is never left unterminated.
#[test]
fn flushing_seek_after_eos_measures_the_new_range() {
    let results = oracle::scratch_dir().join("vqmeter-seek-after-eos.json");
    let _ = std::fs::remove_file(&results);
    let pipeline = seekable_pair(&format!("results-filename={}", results.display()));
    let rec = Recorder::attach(&pipeline);
    pipeline.set_state(gst::State::Paused).unwrap();
    wait_state(&pipeline);
    seek(&pipeline, 0, 800);
    let first_from = rec.snapshot().len();
    pipeline.set_state(gst::State::Playing).unwrap();
    rec.wait_eos(1);
    let log = rec.snapshot();
    let first = &log[first_from..];
    assert_eq!(frames_of(first).len(), 20, "first run");
    assert_eq!(pooled_of(first).len(), 1, "first run");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!(v["frames"].as_array().unwrap().len(), 20);

    let second_from = log.len();
    seek(&pipeline, 400, 800);
    rec.wait_eos(2);
    // The file is replaced when the second run ends, never before: read it only then.
    let log = rec.snapshot();
    pipeline.set_state(gst::State::Null).unwrap();
    let second = &log[second_from..];
    let frames = frames_of(second);
    assert_eq!(
        frames.iter().map(|f| ms(f.pts)).collect::<Vec<_>>(),
        (0..10).map(|k| 400 + 40 * k).collect::<Vec<_>>(),
        "second run's frame messages"
    );
    let pooled = pooled_of(second);
    assert_eq!(pooled.len(), 1, "second run's pooled message");
    assert_eq!(pooled[0].get::<u64>("frames").unwrap(), 10);
    let text = std::fs::read_to_string(&results).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("results file is not valid JSON ({e}): {text:.300}"));
    assert_eq!(
        v["frames"].as_array().unwrap().len(),
        10,
        "second run's frames"
    );
    assert!(v["pooled_metrics"]["psnr_y"]["mean"].is_number());
    // Nothing is left next to the file.
    let dir = results.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("vqmeter-seek-after-eos") && n != "vqmeter-seek-after-eos.json")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A frame still waiting for its scores when a seek flushes belongs to the abandoned range:
/// no message for it may follow the flush.
#[test]
fn no_frame_message_for_a_frame_a_seek_flushed() {
    let pipeline = seekable_pair("");
    let rec = Recorder::attach(&pipeline);
    // Prerolled, the meter has measured the first frame and waits for the next to finish it.
    pipeline.set_state(gst::State::Paused).unwrap();
    wait_state(&pipeline);
    seek(&pipeline, 400, 800);
    pipeline.set_state(gst::State::Playing).unwrap();
    rec.wait_eos(1);
    let log = rec.snapshot();
    pipeline.set_state(gst::State::Null).unwrap();
    let flush = log
        .iter()
        .position(|s| matches!(s, Seen::FlushStart))
        .expect("the seek flushed the meter");
    let after: Vec<u64> = frames_of(&log[flush..]).iter().map(|f| ms(f.pts)).collect();
    assert_eq!(
        after,
        (0..10).map(|k| 400 + 40 * k).collect::<Vec<_>>(),
        "frame messages after the flush"
    );
    let pooled = pooled_of(&log);
    assert_eq!(pooled.len(), 1);
    assert_eq!(pooled[0].get::<u64>("frames").unwrap(), 10);
}

/// An unusable results path is refused when the element starts, not at the first frame or at
/// the end of a long measurement.
#[test]
fn unwritable_results_path_fails_the_start() {
    init();
    let path = "/nonexistent-vqmeter-dir/results.json";
    let e = gst::ElementFactory::make("vqmeter")
        .property("results-filename", path)
        .build()
        .unwrap();
    let bus = gst::Bus::new();
    e.set_bus(Some(&bus));
    e.set_state(gst::State::Ready).unwrap();
    assert!(
        e.set_state(gst::State::Paused).is_err(),
        "READY to PAUSED must fail"
    );
    let err = std::iter::from_fn(|| bus.pop())
        .find_map(|m| match m.view() {
            gst::MessageView::Error(err) => Some((
                err.error(),
                err.debug().map(|d| d.to_string()).unwrap_or_default(),
            )),
            _ => None,
        })
        .expect("an error message");
    assert!(err.0.matches(gst::ResourceError::OpenWrite), "{:?}", err.0);
    assert!(
        err.0.message().contains(path) || err.1.contains(path),
        "{err:?}"
    );
    e.set_state(gst::State::Null).unwrap();

    // A writable path passes the check without touching an existing file.
    let ok = oracle::scratch_dir().join("vqmeter-writable-check.json");
    std::fs::write(&ok, "previous results").unwrap();
    let e = gst::ElementFactory::make("vqmeter")
        .property("results-filename", ok.to_str().unwrap())
        .build()
        .unwrap();
    e.set_state(gst::State::Paused).unwrap();
    e.set_state(gst::State::Null).unwrap();
    assert_eq!(std::fs::read_to_string(&ok).unwrap(), "previous results");

    // A directory is not a file to write.
    let e = gst::ElementFactory::make("vqmeter")
        .property("results-filename", oracle::scratch_dir().to_str().unwrap())
        .build()
        .unwrap();
    e.set_bus(Some(&bus));
    assert!(e.set_state(gst::State::Paused).is_err());
    e.set_state(gst::State::Null).unwrap();
}

/// With a reference that ends before its first frame, the distorted frames are still counted
/// in a pooled message at EOS.
#[test]
fn empty_reference_reports_unpaired_frames() {
    let caps = "video/x-raw,width=160,height=120,framerate=25/1,format=I420";
    let out = run(&format!(
        "vqmeter name=m ! fakesink videotestsrc num-buffers=0 ! {caps} ! m.ref_sink videotestsrc num-buffers=5 ! {caps} ! m.dist_sink"
    ));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(out.frames.is_empty());
    let pooled = out.pooled.expect("pooled message");
    assert_eq!(pooled.get::<u64>("frames").unwrap(), 0);
    assert_eq!(pooled.get::<u64>("unpaired-frames").unwrap(), 5);
    assert!(!out.warnings.iter().any(|w| w.contains("was not written")));

    // Asked for a results file, the user is told why there is none.
    let path = oracle::scratch_dir().join(format!("vqmeter-empty-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let out = run(&format!(
        "vqmeter name=m results-filename={} ! fakesink videotestsrc num-buffers=0 ! {caps} ! m.ref_sink videotestsrc num-buffers=5 ! {caps} ! m.dist_sink",
        path.display()
    ));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(
        out.warnings.iter().any(|w| w.contains("was not written")),
        "{:?}",
        out.warnings
    );
    assert!(!path.exists());
}

/// The same element measures a second stream in full after going back to NULL (and to READY).
#[test]
fn element_measures_again_after_a_state_cycle() {
    init();
    let results = oracle::scratch_dir().join("vqmeter-state-cycle.json");
    let _ = std::fs::remove_file(&results);
    let src =
        "videotestsrc num-buffers=10 ! video/x-raw,width=160,height=120,framerate=25/1,format=I420";
    let launch = format!(
        "vqmeter name=m psnr=true results-filename={} ! fakesink {src} ! m.ref_sink {src} ! m.dist_sink",
        results.display()
    );
    let pipeline: gst::Pipeline = gst::parse::launch(&launch).unwrap().downcast().unwrap();
    for (round, back_to) in [
        (0, gst::State::Null),
        (1, gst::State::Ready),
        (2, gst::State::Null),
    ] {
        let out = run_pipeline(&pipeline, &launch);
        assert!(out.errors.is_empty(), "round {round}: {:?}", out.errors);
        assert_eq!(
            out.frames.iter().map(|f| f.index).collect::<Vec<_>>(),
            (0..10).collect::<Vec<u64>>(),
            "round {round}"
        );
        let pooled = out.pooled.expect("pooled message");
        assert_eq!(pooled.get::<u64>("frames").unwrap(), 10, "round {round}");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
        assert_eq!(v["frames"].as_array().unwrap().len(), 10, "round {round}");
        pipeline.set_state(back_to).unwrap();
    }
}

/// `threading=auto` measures several frames at once on files and one frame at a time when an
/// input is live (the element logs which, with the delay of its frame messages).
#[test]
fn auto_threading_is_frames_on_files_and_extractors_when_live() {
    init();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let s = seen.clone();
    gst::log::set_threshold_for_name("vqmeter", gst::DebugLevel::Info);
    gst::log::set_active(true);
    let f = gst::log::add_log_function(move |_, level, _, _, _, _, msg| {
        if level == gst::DebugLevel::Info {
            if let Some(m) = msg.get() {
                if m.starts_with("measuring 96x64") {
                    s.lock().unwrap().push(m.to_string());
                }
            }
        }
    });
    let src = |live: bool| {
        format!("videotestsrc is-live={live} num-buffers=8 ! video/x-raw,width=96,height=64,format=I420")
    };
    for live in [false, true] {
        seen.lock().unwrap().clear();
        let out = run(&format!(
            "vqmeter name=m psnr=true threads=2 ! fakesink {} ! m.ref_sink {} ! m.dist_sink",
            src(live),
            src(live)
        ));
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.frames.len(), 8);
        let log = seen.lock().unwrap().join("\n");
        let want = if live {
            "one frame at a time (scores at most 1 frame(s) late)"
        } else {
            "several frames at once (scores at most 3 frame(s) late)"
        };
        assert!(log.contains(want), "live={live}: {log}");
    }
    gst::log::remove_log_function(f);
}

/// `backend` on a machine without a usable GPU: `cuda` and `auto` end on the CPU (cuda with a
/// warning in the log), say so in `backend-in-use`, and measure exactly what `cpu` measures.
/// With a GPU they run VIF and ADM on it, and must still measure exactly that.
#[test]
fn backend_in_use_reports_what_cuda_and_auto_picked() {
    init();
    let (r, d) = (
        clip("bbb_320x180_30f.y4m"),
        clip("bbb_320x180_30f_x264crf30.y4m"),
    );
    let no_gpu = lv_gpu::select::cuda_device().is_err();
    let mut cpu_scores: Option<Vec<Vec<(String, f64)>>> = None;
    for backend in ["cpu", "cuda", "auto"] {
        let pipeline = gst::parse::launch(&pair_launch(&r, &d, &format!("backend={backend}")))
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        let m = pipeline.by_name("m").unwrap();
        assert_eq!(
            m.property::<String>("backend-in-use"),
            "",
            "{backend}: before caps"
        );
        let out = run_pipeline(&pipeline, backend);
        let in_use = m.property::<String>("backend-in-use");
        pipeline.set_state(gst::State::Null).unwrap();
        assert!(out.errors.is_empty(), "{backend}: {:?}", out.errors);
        assert_eq!(out.frames.len(), 30, "{backend}");
        if no_gpu || backend == "cpu" {
            assert_eq!(in_use, "cpu", "{backend}");
        }
        let scores: Vec<Vec<(String, f64)>> = out.frames.iter().map(|f| f.scores.clone()).collect();
        // On a GPU too: the kernels' VIF and ADM are the CPU's to the bit.
        match &cpu_scores {
            None => cpu_scores = Some(scores),
            Some(want) => assert_eq!(&scores, want, "{backend} ({in_use})"),
        }
    }
}
