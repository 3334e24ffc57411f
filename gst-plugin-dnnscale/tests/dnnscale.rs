//! `dnnscale` in GStreamer: negotiation (sizes, PAR, upscale refusal, passthrough), formats,
//! model errors, mid-stream caps changes, and the pixels against independent computations
//! (`lv_image::resample` Lanczos for chroma, Lanczos + `lvinfer` for luma) on a natural clip.
//!
//! The element is tested with synthetic models written by `lv_infer::synth` (the trained model
//! is not a test input): their output must differ from Lanczos, so "equal to the reference"
//! says the network really ran.

use gst::prelude::*;
use gst_base::prelude::*;
use gst_check::Harness;
use gst_video::prelude::*;
use gst_video::VideoFormat;
use lv_image::plane::Plane;
use lv_image::resample::{Kernel, Resampler, ResamplerConfig, Siting};
use lv_infer::synth::{self, Dim, SynthNet};
use lv_infer::{BackendKind, Model, PlaneRunner, RunnerConfig};
use std::path::PathBuf;
use std::sync::Once;

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstdnnscale::plugin_register_static().unwrap();
    });
}

fn net() -> SynthNet {
    SynthNet {
        channels: 8,
        convs: 3,
        seed: 3,
        // A residual of a few levels: close to Lanczos, but visibly not equal to it.
        residual_scale: 0.05,
    }
}

fn write_model(name: &str, bytes: &[u8]) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("dnnscale-test-{name}.onnx"));
    // Tests run in parallel and share these files: write a private file and rename it into
    // place, so no test ever reads a half-written model.
    let tmp =
        p.with_extension(format!("{:?}.tmp", std::thread::current().id()).replace(['(', ')'], ""));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, &p).unwrap();
    p
}

fn model_path() -> PathBuf {
    write_model("synth", &net().bytes())
}

fn element(model: &std::path::Path) -> gst::Element {
    gst::ElementFactory::make("dnnscale")
        .property("model", model.to_str().unwrap())
        .build()
        .unwrap()
}

fn harness(in_caps: &str, out_caps: &str) -> Harness {
    init();
    let mut h = Harness::with_element(&element(&model_path()), Some("sink"), Some("src"));
    h.set_src_caps(in_caps.parse::<gst::Caps>().unwrap());
    h.set_sink_caps(out_caps.parse::<gst::Caps>().unwrap());
    h
}

/// A frame as packed planes (row length = plane width in bytes: NV12's UV plane is 2*cw).
type Planes = Vec<Vec<u8>>;

fn plane_dims(format: VideoFormat, w: usize, h: usize) -> Vec<(usize, usize)> {
    let (cw2, ch2) = (w.div_ceil(2), h.div_ceil(2));
    match format {
        VideoFormat::I420 => vec![(w, h), (cw2, ch2), (cw2, ch2)],
        VideoFormat::Nv12 => vec![(w, h), (2 * cw2, ch2)],
        VideoFormat::Y42b => vec![(w, h), (cw2, h), (cw2, h)],
        VideoFormat::Y444 => vec![(w, h), (w, h), (w, h)],
        VideoFormat::Gray8 => vec![(w, h)],
        f => panic!("{f:?}"),
    }
}

fn to_buffer(info: &gst_video::VideoInfo, planes: &Planes) -> gst::Buffer {
    let buf = gst::Buffer::with_size(info.size()).unwrap();
    let mut f = gst_video::VideoFrame::from_buffer_writable(buf, info).unwrap();
    let dims = plane_dims(info.format(), info.width() as usize, info.height() as usize);
    for (i, (pw, ph)) in dims.iter().enumerate() {
        let st = f.plane_stride()[i] as usize;
        let d = f.plane_data_mut(i as u32).unwrap();
        for y in 0..*ph {
            d[y * st..y * st + pw].copy_from_slice(&planes[i][y * pw..(y + 1) * pw]);
        }
    }
    f.into_buffer()
}

fn from_buffer(info: &gst_video::VideoInfo, buf: gst::Buffer) -> Planes {
    let f = gst_video::VideoFrame::from_buffer_readable(buf, info).unwrap();
    let dims = plane_dims(info.format(), info.width() as usize, info.height() as usize);
    dims.iter()
        .enumerate()
        .map(|(i, (pw, ph))| {
            let st = f.plane_stride()[i] as usize;
            let d = f.plane_data(i as u32).unwrap();
            (0..*ph)
                .flat_map(|y| d[y * st..y * st + pw].to_vec())
                .collect()
        })
        .collect()
}

fn i420_caps(w: usize, h: usize) -> String {
    format!("video/x-raw,format=I420,width={w},height={h},framerate=25/1")
}

/// The model's own 160x90 I420 output for the first of `frames` (centred chroma).
fn first_at_160x90(model: &Model, size: (usize, usize), frames: &[Planes]) -> Planes {
    expected(
        VideoFormat::I420,
        model,
        size,
        (160, 90),
        &frames[0],
        (0.5, 0.5),
    )
}

/// Pushes `planes` as a frame of `info` and pulls the frame that comes out, read with the caps
/// it went out with.
fn push_pull(h: &mut Harness, info: &gst_video::VideoInfo, planes: &Planes) -> Planes {
    h.push(to_buffer(info, planes)).unwrap();
    let oi = video_info(&h.sinkpad().unwrap().current_caps().unwrap());
    from_buffer(&oi, h.pull().unwrap())
}

/// Frames of the natural test clip as I420 planes.
fn clip(n: usize) -> (usize, usize, Vec<Planes>) {
    let path = lv_testkit::oracle::corpus_dir().join("test/bbb_320x180_30f.y4m");
    let (h, frames) = lv_testkit::y4m::read_all(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-test-deps.sh)", path.display()));
    let frames = frames
        .into_iter()
        .take(n)
        .map(|f| {
            f.planes
                .into_iter()
                .map(|p| p.into_iter().map(|v| v as u8).collect())
                .collect()
        })
        .collect();
    (h.width, h.height, frames)
}

/// The clip's I420 frame converted to `format` (chroma replicated up for 4:2:2 / 4:4:4).
fn convert(format: VideoFormat, w: usize, h: usize, i420: &Planes) -> Planes {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let up = |p: &[u8], fx: usize, fy: usize| -> Vec<u8> {
        let (ow, oh) = (if fx == 2 { w } else { cw }, if fy == 2 { h } else { ch });
        (0..ow * oh)
            .map(|i| p[(i / ow) / fy * cw + (i % ow) / fx])
            .collect()
    };
    match format {
        VideoFormat::I420 => i420.clone(),
        VideoFormat::Gray8 => vec![i420[0].clone()],
        VideoFormat::Nv12 => vec![
            i420[0].clone(),
            i420[1]
                .iter()
                .zip(&i420[2])
                .flat_map(|(&u, &v)| [u, v])
                .collect(),
        ],
        VideoFormat::Y42b => vec![i420[0].clone(), up(&i420[1], 1, 2), up(&i420[2], 1, 2)],
        VideoFormat::Y444 => vec![i420[0].clone(), up(&i420[1], 2, 2), up(&i420[2], 2, 2)],
        f => panic!("{f:?}"),
    }
}

fn lanczos(src: &[u8], iw: usize, ih: usize, ow: usize, oh: usize, siting: (f64, f64)) -> Vec<u8> {
    let r = Resampler::with_config(ResamplerConfig {
        siting_x: Siting {
            src: siting.0,
            dst: siting.0,
        },
        siting_y: Siting {
            src: siting.1,
            dst: siting.1,
        },
        ..ResamplerConfig::new(iw, ih, ow, oh, Kernel::Lanczos { a: 3.0 })
    })
    .unwrap();
    let mut out = vec![0; ow * oh];
    r.process_u8(&Plane::new_u8(src, iw, ih, iw), &mut out, ow);
    out
}

/// What dnnscale must output for `input` (independently of the element): Lanczos luma refined
/// by the network (one tile, one thread) and Lanczos chroma with the given siting.
fn expected(
    format: VideoFormat,
    model: &Model,
    (iw, ih): (usize, usize),
    (ow, oh): (usize, usize),
    input: &Planes,
    chroma_siting: (f64, f64),
) -> Planes {
    let l = lanczos(&input[0], iw, ih, ow, oh, (0.5, 0.5));
    let runner = PlaneRunner::new(
        model,
        ow,
        oh,
        RunnerConfig {
            threads: 1,
            tiles: 1,
            backend: BackendKind::Cpu,
        },
    )
    .unwrap();
    let mut y = vec![0u8; ow * oh];
    runner.run(&l, ow, &mut y, ow).unwrap();
    let idims = plane_dims(format, iw, ih);
    let odims = plane_dims(format, ow, oh);
    let mut out = vec![y];
    match format {
        VideoFormat::Gray8 => {}
        VideoFormat::Nv12 => {
            let (icw, ich) = (idims[1].0 / 2, idims[1].1);
            let (ocw, och) = (odims[1].0 / 2, odims[1].1);
            let u: Vec<u8> = input[1].iter().step_by(2).copied().collect();
            let v: Vec<u8> = input[1].iter().skip(1).step_by(2).copied().collect();
            let u = lanczos(&u, icw, ich, ocw, och, chroma_siting);
            let v = lanczos(&v, icw, ich, ocw, och, chroma_siting);
            out.push(u.iter().zip(&v).flat_map(|(&u, &v)| [u, v]).collect());
        }
        _ => {
            for p in 1..3 {
                out.push(lanczos(
                    &input[p],
                    idims[p].0,
                    idims[p].1,
                    odims[p].0,
                    odims[p].1,
                    chroma_siting,
                ));
            }
        }
    }
    out
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    10.0 * (255.0f64 * 255.0 / lv_testkit::diff::mse_u8(a, b)).log10()
}

fn video_info(caps: &gst::Caps) -> gst_video::VideoInfo {
    gst_video::VideoInfo::from_caps(caps).unwrap()
}

fn blank(info: &gst_video::VideoInfo) -> gst::Buffer {
    let mut b = gst::Buffer::with_size(info.size()).unwrap();
    b.get_mut().unwrap().map_writable().unwrap().fill(100);
    b
}

#[test]
fn negotiates_downscales_from_1080p() {
    let inc =
        "video/x-raw,format=I420,width=1920,height=1080,pixel-aspect-ratio=1/1,framerate=25/1";
    for (w, h) in [
        (1280, 720),
        (960, 540),
        (640, 360),
        (480, 270),
        (1279, 719),
        (333, 187),
    ] {
        let mut hs = harness(inc, &format!("video/x-raw,width={w},height={h}"));
        let info = video_info(&inc.parse().unwrap());
        hs.push(blank(&info)).unwrap();
        let out = hs.pull().unwrap();
        let caps = hs.sinkpad().unwrap().current_caps().unwrap();
        let oi = video_info(&caps);
        assert_eq!((oi.width(), oi.height()), (w, h), "{caps}");
        assert_eq!(oi.format(), VideoFormat::I420);
        assert_eq!(out.size(), oi.size());
        // DAR kept when possible: 16:9 sizes get PAR 1:1, the odd ones the PAR keeping 16:9.
        let par = oi.par();
        let dar = (w as f64 * par.numer() as f64) / (h as f64 * par.denom() as f64);
        assert!((dar - 16.0 / 9.0).abs() < 1e-3, "{w}x{h}: {caps}");
        // Flat input: Lanczos keeps it flat, and the (random, test-only) network then adds a
        // residual that depends only on the 2x2 phase (SpaceToDepth) of each output sample,
        // borders included: the runner pads by edge replication, so every sample sees the
        // same constant neighbourhood.
        let planes = from_buffer(&oi, out);
        let (w, h) = (w as usize, h as usize);
        for y in 0..h {
            for x in 0..w {
                assert_eq!(
                    planes[0][y * w + x],
                    planes[0][(y % 2) * w + x % 2],
                    "{w}x{h}: luma at ({x}, {y}) differs from its phase's value"
                );
            }
        }
        assert!(
            planes[1].iter().chain(&planes[2]).all(|&v| v == 100),
            "{w}x{h}: chroma"
        );
    }
}

fn fixated(in_caps: &str, out_caps: &str) -> gst::Caps {
    let mut h = harness(in_caps, out_caps);
    let info = video_info(&in_caps.parse().unwrap());
    h.push(blank(&info)).unwrap();
    h.pull().unwrap();
    h.sinkpad().unwrap().current_caps().unwrap()
}

fn size_par(caps: &gst::Caps) -> (u32, u32, i32, i32) {
    let i = video_info(caps);
    (i.width(), i.height(), i.par().numer(), i.par().denom())
}

#[test]
fn pixel_aspect_ratio_is_handled_like_videoscale() {
    let hd = "video/x-raw,format=I420,width=1920,height=1080,pixel-aspect-ratio=1/1,framerate=25/1";
    // Anamorphic SD input (PAR 16:15, DAR 4:3).
    let sd = "video/x-raw,format=I420,width=720,height=576,pixel-aspect-ratio=16/15,framerate=25/1";
    for (input, downstream, want) in [
        // Both sizes fixed, PAR open: the PAR that keeps the display aspect ratio.
        (hd, "video/x-raw,width=960,height=540", (960, 540, 1, 1)),
        (hd, "video/x-raw,width=960,height=720", (960, 720, 4, 3)),
        // Only the width: the height keeping DAR at the input's PAR.
        (hd, "video/x-raw,width=960", (960, 540, 1, 1)),
        // Only the height.
        (hd, "video/x-raw,height=270", (480, 270, 1, 1)),
        // PAR fixed downstream, width fixed: height from DAR and that PAR.
        (
            hd,
            "video/x-raw,width=720,pixel-aspect-ratio=4/3",
            (720, 540, 4, 3),
        ),
        (sd, "video/x-raw,width=360,height=288", (360, 288, 16, 15)),
        (
            sd,
            "video/x-raw,width=640,pixel-aspect-ratio=1/1",
            (640, 480, 1, 1),
        ),
        // A width range: the largest allowed, height by DAR.
        (hd, "video/x-raw,width=[1,640]", (640, 360, 1, 1)),
    ] {
        assert_eq!(
            size_par(&fixated(input, downstream)),
            want,
            "{input} -> {downstream}"
        );
    }
}

/// Runs `pipeline` to EOS or error; returns the error messages' texts.
fn run_pipeline(desc: &str) -> Vec<String> {
    init();
    let p = gst::parse::launch(desc).unwrap();
    let bus = p.bus().unwrap();
    let _ = p.set_state(gst::State::Playing);
    let mut errors = Vec::new();
    // The first error or EOS ends the run.
    if let Some(msg) = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(60),
        &[gst::MessageType::Error, gst::MessageType::Eos],
    ) {
        if let gst::MessageView::Error(e) = msg.view() {
            errors.push(format!("{} ({:?})", e.error(), e.debug()));
            // Collect what follows right after the first error (e.g. the source's flow error).
            while let Some(m) = bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(200),
                &[gst::MessageType::Error],
            ) {
                if let gst::MessageView::Error(e) = m.view() {
                    errors.push(format!("{} ({:?})", e.error(), e.debug()));
                }
            }
        }
    }
    p.set_state(gst::State::Null).unwrap();
    errors
}

/// A frame-rate change asked of dnnscale names videorate (the generic not-negotiated error
/// named no element).
#[test]
fn a_frame_rate_change_is_refused_with_an_error_naming_videorate() {
    // A file source: videotestsrc's fixed caps would fail the link before any data.
    let clip = lv_testkit::oracle::corpus_dir().join("test/bbb_320x180_30f.y4m");
    let errs = run_pipeline(&format!(
        "filesrc location={} ! y4mdec ! dnnscale model={} ! video/x-raw,width=160,height=90,framerate=50/1 ! fakesink",
        clip.display(),
        model_path().display()
    ));
    assert!(
        errs.first()
            .is_some_and(|e| e.contains("frame rate") && e.contains("videorate")),
        "{errs:?}"
    );
}

#[test]
fn upscale_is_refused_with_an_error_naming_videoscale() {
    let m = model_path();
    let errs = run_pipeline(&format!(
        "videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=320,height=180 ! dnnscale model={} ! video/x-raw,width=640,height=360 ! fakesink",
        m.display()
    ));
    assert!(!errs.is_empty(), "upscale negotiated");
    assert!(
        errs[0].contains("only downscales") && errs[0].contains("videoscale"),
        "{errs:?}"
    );
    // One axis larger is an upscale too.
    let errs = run_pipeline(&format!(
        "videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=320,height=180 ! dnnscale model={} ! video/x-raw,width=160,height=200 ! fakesink",
        m.display()
    ));
    assert!(
        errs.first().is_some_and(|e| e.contains("videoscale")),
        "{errs:?}"
    );
    // The same pipeline downward works (the failure above is the upscale, not the pipeline).
    let errs = run_pipeline(&format!(
        "videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=320,height=180 ! dnnscale model={} ! video/x-raw,width=160,height=90 ! fakesink",
        m.display()
    ));
    assert!(errs.is_empty(), "{errs:?}");
}

#[test]
fn same_size_passes_through_untouched() {
    let c = "video/x-raw,format=I420,width=320,height=180,pixel-aspect-ratio=1/1,framerate=25/1";
    let mut h = harness(c, "video/x-raw");
    let (w, hh, frames) = clip(1);
    let info = video_info(&c.parse().unwrap());
    assert_eq!((w, hh), (320, 180));
    let inbuf = to_buffer(&info, &frames[0]);
    h.push(inbuf.clone()).unwrap();
    let out = h.pull().unwrap();
    assert_eq!(
        size_par(&h.sinkpad().unwrap().current_caps().unwrap()),
        (320, 180, 1, 1)
    );
    let bt = h
        .element()
        .unwrap()
        .downcast::<gst_base::BaseTransform>()
        .unwrap();
    assert!(bt.is_passthrough());
    assert_eq!(from_buffer(&info, out), frames[0]);
}

#[test]
fn every_format_matches_lanczos_chroma_and_network_luma() {
    init();
    let (iw, ih, frames) = clip(2);
    let model = Model::from_path(model_path()).unwrap();
    for format in [
        VideoFormat::I420,
        VideoFormat::Nv12,
        VideoFormat::Y42b,
        VideoFormat::Y444,
        VideoFormat::Gray8,
    ] {
        for (ow, oh) in [(160usize, 90usize), (213, 121)] {
            let fmt = format.to_str();
            let inc = format!("video/x-raw,format={fmt},width={iw},height={ih},framerate=25/1");
            let mut h = harness(&inc, &format!("video/x-raw,width={ow},height={oh}"));
            let info = video_info(&inc.parse().unwrap());
            for f in &frames {
                let input = convert(format, iw, ih, f);
                h.push(to_buffer(&info, &input)).unwrap();
                let caps = h.sinkpad().unwrap().current_caps().unwrap();
                let oi = video_info(&caps);
                assert_eq!(
                    (oi.width() as usize, oi.height() as usize, oi.format()),
                    (ow, oh, format)
                );
                let got = from_buffer(&oi, h.pull().unwrap());
                // No chroma-site in the caps: GStreamer leaves it unknown, sampled as centred.
                let want = expected(format, &model, (iw, ih), (ow, oh), &input, (0.5, 0.5));
                assert_eq!(got.len(), want.len());
                for p in 1..got.len() {
                    assert!(
                        got[p] == want[p],
                        "{fmt} {ow}x{oh}: chroma plane {p} differs from Lanczos"
                    );
                }
                assert!(
                    got[0] == want[0],
                    "{fmt} {ow}x{oh}: luma differs from Lanczos + network"
                );
                // The refinement is a refinement: close to plain Lanczos, not equal to it.
                let plain = lanczos(&input[0], iw, ih, ow, oh, (0.5, 0.5));
                let q = psnr(&got[0], &plain);
                assert!(
                    q > 25.0 && q.is_finite(),
                    "{fmt} {ow}x{oh}: PSNR vs Lanczos {q}"
                );
            }
        }
    }
}

#[test]
fn mpeg2_chroma_siting_is_respected() {
    init();
    let (iw, ih, frames) = clip(1);
    let model = Model::from_path(model_path()).unwrap();
    // The caps are written by GStreamer from a VideoInfo with MPEG-2 siting: GStreamer 1.22's
    // VideoInfo reads a hand-written `chroma-site=mpeg2` back as NONE (measured), so the
    // element, which follows VideoInfo, would rightly see centred chroma.
    let info = gst_video::VideoInfo::builder(VideoFormat::I420, iw as u32, ih as u32)
        .fps(gst::Fraction::new(25, 1))
        .chroma_site(gst_video::VideoChromaSite::MPEG2)
        .build()
        .unwrap();
    assert_eq!(info.chroma_site(), gst_video::VideoChromaSite::MPEG2);
    let inc = info.to_caps().unwrap().to_string();
    let mut h = harness(&inc, "video/x-raw,width=160,height=90");
    assert_eq!(
        video_info(&inc.parse().unwrap()).chroma_site(),
        gst_video::VideoChromaSite::MPEG2,
        "{inc}"
    );
    let got = push_pull(&mut h, &info, &frames[0]);
    // MPEG-2: chroma co-sited with the left luma sample (0.25 chroma samples), centred vertically.
    let want = expected(
        VideoFormat::I420,
        &model,
        (iw, ih),
        (160, 90),
        &frames[0],
        (0.25, 0.5),
    );
    assert!(got[1] == want[1] && got[2] == want[2]);
    let centred = first_at_160x90(&model, (iw, ih), &frames);
    assert!(got[1] != centred[1], "siting made no difference");
}

#[test]
fn mid_stream_resolution_change_renegotiates() {
    init();
    let model = Model::from_path(model_path()).unwrap();
    let (iw, ih, frames) = clip(1);
    let c1 = i420_caps(iw, ih);
    let mut h = harness(&c1, "video/x-raw,width=160,height=90");
    let i1 = video_info(&c1.parse().unwrap());
    let want = first_at_160x90(&model, (iw, ih), &frames);
    assert_eq!(push_pull(&mut h, &i1, &frames[0]), want);

    // The source switches to a cropped 240x136 picture; downstream still wants 160x90.
    let (w2, h2) = (240usize, 136usize);
    let cropped: Planes = plane_dims(VideoFormat::I420, w2, h2)
        .iter()
        .enumerate()
        .map(|(p, (pw, ph))| {
            let sw = if p == 0 { iw } else { iw / 2 };
            (0..*ph)
                .flat_map(|y| frames[0][p][y * sw..y * sw + pw].to_vec())
                .collect()
        })
        .collect();
    let c2 = i420_caps(w2, h2);
    h.set_src_caps(c2.parse::<gst::Caps>().unwrap());
    let i2 = video_info(&c2.parse().unwrap());
    h.push(to_buffer(&i2, &cropped)).unwrap();
    let caps = h.sinkpad().unwrap().current_caps().unwrap();
    assert_eq!(size_par(&caps).0, 160);
    let o = from_buffer(&video_info(&caps), h.pull().unwrap());
    assert_eq!(
        o,
        expected(
            VideoFormat::I420,
            &model,
            (w2, h2),
            (160, 90),
            &cropped,
            (0.5, 0.5)
        )
    );

    // And to a size equal to the output: passthrough from then on.
    let c3 = "video/x-raw,format=I420,width=160,height=90,framerate=25/1";
    h.set_src_caps(c3.parse::<gst::Caps>().unwrap());
    let i3 = video_info(&c3.parse().unwrap());
    let small: Planes = first_at_160x90(&model, (iw, ih), &frames);
    h.push(to_buffer(&i3, &small)).unwrap();
    assert_eq!(from_buffer(&i3, h.pull().unwrap()), small);
}

fn start_error(model: &std::path::Path) -> Vec<String> {
    run_pipeline(&format!(
        "videotestsrc num-buffers=2 ! video/x-raw,width=64,height=64 ! dnnscale model={} ! video/x-raw,width=32,height=32 ! fakesink",
        model.display()
    ))
}

#[test]
fn missing_model_is_an_error_naming_the_file() {
    let errs = start_error(std::path::Path::new("/nonexistent/model.onnx"));
    assert!(
        errs.first()
            .is_some_and(|e| e.contains("/nonexistent/model.onnx")),
        "{errs:?}"
    );
}

#[test]
fn malformed_model_is_an_error() {
    let p = write_model(
        "malformed",
        b"\x08\x07garbage that is no protobuf \xff\xff\xff",
    );
    let errs = start_error(&p);
    assert!(
        errs.first().is_some_and(|e| e.contains("not a valid ONNX")),
        "{errs:?}"
    );
}

/// srenhance's models share the graph but not the task: refused, naming the right element.
#[test]
fn an_srenhance_model_is_refused() {
    let p =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/srenhance/srenhance.onnx");
    let errs = start_error(&p);
    assert!(
        errs.first()
            .is_some_and(|e| e.contains("srenhance-refine-v1") && e.contains("srenhance element")),
        "{errs:?}"
    );
}

#[test]
fn model_with_wrong_input_rank_is_an_error() {
    let mut proto = net().proto();
    proto.graph.as_mut().unwrap().input[0] =
        synth::value_info("input", &[Dim::N(1), Dim::S("H"), Dim::S("W")]);
    let p = write_model("rank3", &synth::encode(&proto));
    let errs = start_error(&p);
    assert!(
        errs.first()
            .is_some_and(|e| e.contains("rank is 3") && e.contains(p.to_str().unwrap())),
        "{errs:?}"
    );
}

#[test]
fn properties_have_defaults_and_documentation() {
    init();
    let e = gst::ElementFactory::make("dnnscale").build().unwrap();
    assert_eq!(e.property::<String>("model"), "");
    assert_eq!(e.property::<u32>("threads"), 0);
    assert_eq!(
        e.property::<gstdnnscale::Backend>("backend"),
        gstdnnscale::Backend::Cpu
    );
    for name in ["model", "backend", "threads"] {
        let p = e.find_property(name).unwrap();
        assert!(p.blurb().is_some_and(|b| b.len() > 20), "{name}");
    }
}

#[test]
fn cuda_backend_falls_back_and_still_produces_the_same_output() {
    init();
    let (iw, ih, frames) = clip(1);
    let model = Model::from_path(model_path()).unwrap();
    let el = element(&model_path());
    el.set_property_from_str("backend", "cuda");
    el.set_property("threads", 1u32);
    let mut h = Harness::with_element(&el, Some("sink"), Some("src"));
    let inc = i420_caps(iw, ih);
    h.set_src_caps(inc.parse::<gst::Caps>().unwrap());
    h.set_sink_caps(
        "video/x-raw,width=160,height=90"
            .parse::<gst::Caps>()
            .unwrap(),
    );
    let info = video_info(&inc.parse().unwrap());
    let want = first_at_160x90(&model, (iw, ih), &frames);
    assert_eq!(push_pull(&mut h, &info, &frames[0]), want);
}

#[test]
fn backend_in_use_reports_what_cuda_and_auto_picked() {
    init();
    let (iw, ih, frames) = clip(1);
    let model = Model::from_path(model_path()).unwrap();
    let want = first_at_160x90(&model, (iw, ih), &frames);
    // Without a usable CUDA device `cuda` and `auto` end on the CPU with the CPU's output; with
    // one they may run on it (lv-gpu's kernels; tests/gpu_emulation.rs checks that output).
    let no_gpu = lv_infer::cuda_device().is_err();
    for backend in ["cuda", "auto", "cpu"] {
        let el = element(&model_path());
        el.set_property_from_str("backend", backend);
        el.set_property("threads", 1u32);
        assert_eq!(
            el.property::<String>("backend-in-use"),
            "",
            "{backend}: before caps"
        );
        let mut h = Harness::with_element(&el, Some("sink"), Some("src"));
        let inc = i420_caps(iw, ih);
        h.set_src_caps(inc.parse::<gst::Caps>().unwrap());
        h.set_sink_caps(
            "video/x-raw,width=160,height=90"
                .parse::<gst::Caps>()
                .unwrap(),
        );
        let info = video_info(&inc.parse().unwrap());
        let out = push_pull(&mut h, &info, &frames[0]);
        let in_use = el.property::<String>("backend-in-use");
        if no_gpu || backend == "cpu" {
            assert_eq!(in_use, "cpu", "{backend}");
        }
        if in_use == "cpu" {
            assert_eq!(out, want, "{backend}");
        }
    }
}

/// Runs one I420 frame of the clip through `dnnscale model=<models>` to `ow x oh`; returns luma.
fn luma_through(
    models: &str,
    frame: &Planes,
    (iw, ih): (usize, usize),
    (ow, oh): (usize, usize),
) -> Vec<u8> {
    init();
    let e = gst::ElementFactory::make("dnnscale")
        .property("model", models)
        .build()
        .unwrap();
    let mut h = Harness::with_element(&e, Some("sink"), Some("src"));
    let inc = i420_caps(iw, ih);
    h.set_src_caps(inc.parse::<gst::Caps>().unwrap());
    h.set_sink_caps(
        format!("video/x-raw,width={ow},height={oh}")
            .parse::<gst::Caps>()
            .unwrap(),
    );
    let info = video_info(&inc.parse().unwrap());
    push_pull(&mut h, &info, frame).swap_remove(0)
}

/// A model whose `lv.ratio_min..lv.ratio_max` excludes the ratio is not run (luma is plain
/// Lanczos); one that includes it is; in a list, the first that covers the ratio is used.
#[test]
fn models_are_chosen_by_their_ratio_range() {
    let (iw, ih, frames) = clip(1);
    let near = write_model(
        "ratio-1-1.5",
        &net().bytes_with(&[("lv.ratio_min", "1"), ("lv.ratio_max", "1.5")]),
    );
    let far = write_model(
        "ratio-2.5-4",
        &net().bytes_with(&[("lv.ratio_min", "2.5"), ("lv.ratio_max", "4")]),
    );
    let model = Model::from_path(&near).unwrap();
    // 320x180 -> 160x90 is ratio 2: neither model is meant for it.
    let plain = lanczos(&frames[0][0], iw, ih, 160, 90, (0.5, 0.5));
    let got = luma_through(
        &format!("{},{}", near.display(), far.display()),
        &frames[0],
        (iw, ih),
        (160, 90),
    );
    assert!(
        got == plain,
        "ratio 2 outside both ranges: luma must be plain Lanczos"
    );
    // 320x180 -> 240x136 is ratio ~1.33: the first model runs.
    let want = expected(
        VideoFormat::I420,
        &model,
        (iw, ih),
        (240, 136),
        &frames[0],
        (0.5, 0.5),
    );
    let got = luma_through(
        &format!("{},{}", far.display(), near.display()),
        &frames[0],
        (iw, ih),
        (240, 136),
    );
    assert!(got == want[0], "ratio 1.33: the covering model must run");
    assert!(psnr(&got, &lanczos(&frames[0][0], iw, ih, 240, 136, (0.5, 0.5))) < 60.0);
}

/// A `lv.stage = pre` model runs at the source size before the resize: the output is
/// Lanczos(pre(x)) (no refinement net in the list), computed here without the element.
#[test]
fn a_pre_stage_model_runs_before_the_resize() {
    let (iw, ih, frames) = clip(1);
    let pre = write_model("stage-pre", &net().bytes_with(&[("lv.stage", "pre")]));
    let model = Model::from_path(&pre).unwrap();
    let runner = PlaneRunner::new(
        &model,
        iw,
        ih,
        RunnerConfig {
            threads: 1,
            tiles: 1,
            backend: BackendKind::Cpu,
        },
    )
    .unwrap();
    let mut filtered = vec![0u8; iw * ih];
    runner.run(&frames[0][0], iw, &mut filtered, iw).unwrap();
    let want = lanczos(&filtered, iw, ih, 160, 90, (0.5, 0.5));
    let got = luma_through(pre.to_str().unwrap(), &frames[0], (iw, ih), (160, 90));
    assert!(got == want, "luma must be Lanczos(pre(x))");
    assert!(got != lanczos(&frames[0][0], iw, ih, 160, 90, (0.5, 0.5)));
}

/// Bad ratio or stage metadata is refused when the element starts, naming the key.
#[test]
fn malformed_ratio_or_stage_metadata_is_an_error_at_start() {
    init();
    for (name, meta, key) in [
        (
            "ratio-inverted",
            vec![("lv.ratio_min", "3"), ("lv.ratio_max", "2")],
            "lv.ratio_max",
        ),
        ("ratio-half", vec![("lv.ratio_min", "2")], "lv.ratio_max"),
        (
            "ratio-nan",
            vec![("lv.ratio_min", "NaN"), ("lv.ratio_max", "2")],
            "lv.ratio_min",
        ),
        ("stage-bad", vec![("lv.stage", "post")], "lv.stage"),
    ] {
        let p = write_model(name, &net().bytes_with(&meta));
        let errs = start_error(&p);
        assert!(errs.iter().any(|e| e.contains(key)), "{name}: {errs:?}");
    }
}
