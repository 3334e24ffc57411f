//! `srenhance` in GStreamer pipelines (appsrc → srenhance → fakesink, patches from a second
//! appsrc): negotiation (upscale sizes, ×3, non-integer, same size, refused downscale), the
//! pixels against an independent computation (Catmull-Rom bicubic + `lvinfer` for luma,
//! bicubic for chroma), online training from patches of a natural clip, hostile patch
//! streams, EOS on either pad, model errors and saving the learned model.
//!
//! The models are written by the tests (`lvtrain` nets exported as `srenhance-refine-v1`), so
//! the tests do not depend on the shipped generic model.

use gst::glib;
use gst::prelude::*;
use gstsrenhance::EpochMessage;
use lv_image::plane::Plane;
use lv_image::resample::{Kernel, Resampler};
use lv_infer::{Model, PlaneRunner, RunnerConfig};
use lv_train::{RefineConfig, RefineNet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstsrenhance::plugin_register_static().unwrap();
    });
}

fn write_model(name: &str, bytes: &[u8]) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("srenhance-test-{name}.onnx"));
    let tmp =
        p.with_extension(format!("{:?}.tmp", std::thread::current().id()).replace(['(', ')'], ""));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, &p).unwrap();
    p
}

/// A net whose residual is visibly non-zero (so "equals the reference" means it ran).
fn random_net() -> RefineNet {
    let mut net = RefineNet::new(
        RefineConfig {
            channels: 8,
            hidden_layers: 1,
        },
        5,
    );
    let last = *net.layers.last().unwrap();
    for (i, p) in net.params[last.offset..last.offset + last.len()]
        .iter_mut()
        .enumerate()
    {
        *p = ((i * 37 % 17) as f32 - 8.0) * 0.002;
    }
    net
}

/// The untrained net: exactly the bicubic upscale.
fn identity_net() -> RefineNet {
    RefineNet::new(
        RefineConfig {
            channels: 8,
            hidden_layers: 1,
        },
        7,
    )
}

fn model_file(name: &str, net: &RefineNet) -> PathBuf {
    write_model(
        name,
        &lv_graph::onnx::export_kind(net, lv_livenas::trainer::KIND, "test"),
    )
}

/// An I420 frame as packed planes.
#[derive(Clone)]
struct I420 {
    w: usize,
    h: usize,
    planes: [Vec<u8>; 3],
}

impl I420 {
    fn to_buffer(&self, pts: u64, dur: u64) -> gst::Buffer {
        let mut data = Vec::new();
        for p in &self.planes {
            data.extend_from_slice(p);
        }
        let mut b = gst::Buffer::from_mut_slice(data);
        {
            let b = b.get_mut().unwrap();
            b.set_pts(gst::ClockTime::from_nseconds(pts));
            b.set_duration(gst::ClockTime::from_nseconds(dur));
        }
        b
    }

    fn from_buffer(b: &gst::BufferRef, w: usize, h: usize) -> I420 {
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w as u32, h as u32)
            .build()
            .unwrap();
        let m = b.map_readable().unwrap();
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut planes: [Vec<u8>; 3] = Default::default();
        for (i, p) in planes.iter_mut().enumerate() {
            let (pw, ph) = if i == 0 { (w, h) } else { (cw, ch) };
            let (off, st) = (info.offset()[i], info.stride()[i] as usize);
            for r in 0..ph {
                p.extend_from_slice(&m[off + r * st..off + r * st + pw]);
            }
        }
        I420 { w, h, planes }
    }
}

fn resample(src: &[u8], w: usize, h: usize, ow: usize, oh: usize, k: Kernel) -> Vec<u8> {
    let r = Resampler::new(w, h, ow, oh, k).unwrap();
    let mut out = vec![0u8; ow * oh];
    r.process_u8(&Plane::new_u8(src, w, h, w), &mut out, ow);
    out
}

/// The natural clip (Big Buck Bunny 320x180, 30 frames) as HR I420 frames.
fn clip() -> Vec<I420> {
    let path = lv_testkit::oracle::corpus_dir().join("test/bbb_320x180_30f.y4m");
    let (hdr, frames) = lv_testkit::y4m::read_all(&path)
        .unwrap_or_else(|e| panic!("{} ({e}): run scripts/fetch-test-deps.sh", path.display()));
    frames
        .iter()
        .map(|f| I420 {
            w: hdr.width,
            h: hdr.height,
            planes: [0, 1, 2].map(|i| f.planes[i].iter().map(|&v| v as u8).collect()),
        })
        .collect()
}

/// Half-size copy (Lanczos, the streamer's scaler).
fn half(f: &I420) -> I420 {
    let (w, h) = (f.w / 2, f.h / 2);
    let (cw, ch) = (f.w.div_ceil(2), f.h.div_ceil(2));
    I420 {
        w,
        h,
        planes: [
            resample(&f.planes[0], f.w, f.h, w, h, Kernel::LANCZOS3),
            resample(
                &f.planes[1],
                cw,
                ch,
                w.div_ceil(2),
                h.div_ceil(2),
                Kernel::LANCZOS3,
            ),
            resample(
                &f.planes[2],
                cw,
                ch,
                w.div_ceil(2),
                h.div_ceil(2),
                Kernel::LANCZOS3,
            ),
        ],
    }
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    lv_livenas::trainer::psnr_u8(a, b)
}

const FRAME_NS: u64 = 33_333_333;

/// What a pipeline run produced.
struct Run {
    frames: Vec<I420>,
    messages: Vec<gst::Structure>,
    error: Option<String>,
    warnings: Vec<String>,
    stats: Option<gst::Structure>,
    feedback_events: usize,
}

/// appsrc (video) → srenhance → capsfilter → fakesink, appsrc (patches) → patch_sink.
/// `patches`: `None` leaves patch_sink unlinked; `Some(bufs)` pushes them then EOS (or no
/// EOS when `patch_eos` is false).
fn run(
    props: &[(&str, glib::Value)],
    input: &[I420],
    out: (usize, usize),
    patches: Option<Vec<gst::Buffer>>,
    patch_eos: bool,
) -> Run {
    run_ex(props, input, out, patches, patch_eos, false)
}

/// [`run`]; `live`: the video appsrc is live and frames are pushed in real time.
fn run_ex(
    props: &[(&str, glib::Value)],
    input: &[I420],
    out: (usize, usize),
    patches: Option<Vec<gst::Buffer>>,
    patch_eos: bool,
    live: bool,
) -> Run {
    run_setup(props, input, out, patches, patch_eos, live, |_| {})
}

/// [`run_ex`]; `setup` sees the element before the pipeline starts.
fn run_setup(
    props: &[(&str, glib::Value)],
    input: &[I420],
    out: (usize, usize),
    patches: Option<Vec<gst::Buffer>>,
    patch_eos: bool,
    live: bool,
    setup: impl FnOnce(&gst::Element),
) -> Run {
    init();
    let (iw, ih) = (input[0].w, input[0].h);
    let desc = format!(
        "appsrc name=v format=time is-live={live} caps=video/x-raw,format=I420,width={iw},height={ih},\
         framerate=30/1,chroma-site=jpeg ! sr.sink srenhance name=sr ! \
         video/x-raw,width={},height={} ! fakesink name=out sync=false signal-handoffs=true",
        out.0, out.1
    );
    let pipeline = gst::parse::launch(&desc)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sr = pipeline.by_name("sr").unwrap();
    for (k, v) in props {
        sr.set_property_from_value(k, v);
    }
    setup(&sr);
    let psrc = if patches.is_some() {
        let p = gst::ElementFactory::make("appsrc")
            .name("p")
            .property("format", gst::Format::Time)
            .property(
                "caps",
                gst::Caps::new_empty_simple(lv_livenas::wire::CAPS_MEDIA_TYPE),
            )
            .build()
            .unwrap();
        pipeline.add(&p).unwrap();
        p.link_pads(Some("src"), &sr, Some("patch_sink")).unwrap();
        Some(p)
    } else {
        None
    };
    let feedback = Arc::new(Mutex::new(0usize));
    if let Some(p) = &psrc {
        let fb = feedback.clone();
        p.static_pad("src").unwrap().add_probe(
            gst::PadProbeType::EVENT_UPSTREAM,
            move |_, info| {
                if let Some(gst::PadProbeData::Event(e)) = &info.data {
                    if e.structure()
                        .is_some_and(|s| s.name() == "srpatch-feedback")
                    {
                        *fb.lock().unwrap() += 1;
                    }
                }
                gst::PadProbeReturn::Ok
            },
        );
    }
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let (ow, oh) = out;
    pipeline
        .by_name("out")
        .unwrap()
        .connect("handoff", false, move |args| {
            let b = args[1].get::<gst::Buffer>().unwrap();
            g.lock().unwrap().push(I420::from_buffer(&b, ow, oh));
            None
        });
    let bus = pipeline.bus().unwrap();
    let mut result = Run {
        frames: Vec::new(),
        messages: Vec::new(),
        error: None,
        warnings: Vec::new(),
        stats: None,
        feedback_events: 0,
    };
    if pipeline.set_state(gst::State::Playing).is_err() {
        // The error message says why.
    }
    let v = pipeline.by_name("v").unwrap();
    if let (Some(p), Some(bufs)) = (&psrc, patches) {
        for b in bufs {
            let _ = p.emit_by_name::<gst::FlowReturn>("push-buffer", &[&b]);
        }
        if patch_eos {
            let _ = p.emit_by_name::<gst::FlowReturn>("end-of-stream", &[]);
        }
    }
    for (i, f) in input.iter().enumerate() {
        if live {
            std::thread::sleep(Duration::from_nanos(FRAME_NS));
        }
        let _ = v.emit_by_name::<gst::FlowReturn>(
            "push-buffer",
            &[&f.to_buffer(i as u64 * FRAME_NS, FRAME_NS)],
        );
    }
    let _ = v.emit_by_name::<gst::FlowReturn>("end-of-stream", &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(!left.is_zero(), "pipeline did not finish within 60 s");
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(left.as_millis() as u64))
        else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                result.error = Some(format!("{} ({:?})", e.error(), e.debug()));
                break;
            }
            gst::MessageView::Warning(w) => result.warnings.push(w.error().to_string()),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure() {
                    result.messages.push(s.to_owned());
                }
            }
            _ => {}
        }
    }
    result.stats = Some(sr.property::<gst::Structure>("stats"));
    pipeline.set_state(gst::State::Null).unwrap();
    result.frames = std::mem::take(&mut *got.lock().unwrap());
    result.feedback_events = *feedback.lock().unwrap();
    result
}

fn no_training(model: &std::path::Path) -> Vec<(&'static str, glib::Value)> {
    vec![
        ("model", model.to_str().unwrap().to_value()),
        ("training", false.to_value()),
    ]
}

/// Luma reference: Catmull-Rom to the output size, then the network via lvinfer.
fn reference_luma(model: &std::path::Path, f: &I420, ow: usize, oh: usize) -> Vec<u8> {
    let up = resample(&f.planes[0], f.w, f.h, ow, oh, Kernel::CATMULL_ROM);
    let m = Model::from_path(model).unwrap();
    let r = PlaneRunner::new(
        &m,
        ow,
        oh,
        RunnerConfig {
            threads: 1,
            ..RunnerConfig::default()
        },
    )
    .unwrap();
    let mut out = vec![0u8; ow * oh];
    r.run(&up, ow, &mut out, ow).unwrap();
    out
}

#[test]
fn upscales_to_downstream_sizes_with_bicubic_plus_network() {
    let model = model_file("random", &random_net());
    let frames: Vec<I420> = clip().iter().take(2).map(half).collect();
    let (iw, ih) = (frames[0].w, frames[0].h);
    // x2, x3, and a non-integer ratio with an odd size.
    for &(ow, oh) in &[(2 * iw, 2 * ih), (3 * iw, 3 * ih), (251, 141)] {
        let r = run(&no_training(&model), &frames, (ow, oh), None, true);
        assert!(r.error.is_none(), "{ow}x{oh}: {:?}", r.error);
        assert_eq!(r.frames.len(), 2, "{ow}x{oh}");
        for (f, o) in frames.iter().zip(&r.frames) {
            let want = reference_luma(&model, f, ow, oh);
            assert_eq!(
                o.planes[0], want,
                "{ow}x{oh}: luma differs from bicubic + network"
            );
            let bic = resample(&f.planes[0], iw, ih, ow, oh, Kernel::CATMULL_ROM);
            assert_ne!(o.planes[0], bic, "the network did not run");
            let (cw, ch) = (iw.div_ceil(2), ih.div_ceil(2));
            for i in 1..3 {
                let want = resample(
                    &f.planes[i],
                    cw,
                    ch,
                    ow.div_ceil(2),
                    oh.div_ceil(2),
                    Kernel::CATMULL_ROM,
                );
                assert_eq!(o.planes[i], want, "{ow}x{oh}: chroma {i} is not bicubic");
            }
        }
    }
}

#[test]
fn same_size_passes_through() {
    let model = model_file("random", &random_net());
    let frames: Vec<I420> = clip().iter().take(1).map(half).collect();
    let (iw, ih) = (frames[0].w, frames[0].h);
    let r = run(&no_training(&model), &frames, (iw, ih), None, true);
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.frames.len(), 1);
    assert_eq!(r.frames[0].planes, frames[0].planes);
}

#[test]
fn downscale_is_refused_with_an_error_naming_videoscale() {
    let model = model_file("random", &random_net());
    let frames: Vec<I420> = clip().iter().take(1).map(half).collect();
    let r = run(&no_training(&model), &frames, (80, 44), None, true);
    let e = r.error.expect("a downscale must fail");
    assert!(
        e.contains("only upscales") && e.contains("videoscale"),
        "unclear error: {e}"
    );
}

#[test]
fn model_errors_are_bus_errors() {
    let frames: Vec<I420> = clip().iter().take(1).map(half).collect();
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("srenhance-no-such-model.onnx");
    let r = run(&no_training(&missing), &frames, (320, 180), None, true);
    let e = r.error.expect("missing model");
    assert!(e.contains("srenhance-no-such-model.onnx"), "{e}");

    let garbage = write_model("garbage", b"this is not an onnx file at all");
    let r = run(&no_training(&garbage), &frames, (320, 180), None, true);
    let e = r.error.expect("malformed model");
    assert!(e.contains("srenhance-test-garbage.onnx"), "{e}");

    // A dnnscale model is refused by kind.
    let dnn = write_model(
        "dnnscale-kind",
        &lv_graph::onnx::export(&random_net(), "test"),
    );
    let r = run(&no_training(&dnn), &frames, (320, 180), None, true);
    let e = r.error.expect("dnnscale model");
    assert!(e.contains("dnnscale"), "{e}");
}

/// Patch messages for HR frames: `per_frame` random cells of side `size`, JPEG q95.
fn patch_buffers(hr: &[I420], size: u16, per_frame: usize, seed: u64) -> Vec<gst::Buffer> {
    use rand::{Rng, SeedableRng};
    init();
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let limits = lv_livenas::wire::Limits::default();
    hr.iter()
        .enumerate()
        .map(|(i, f)| {
            let (cols, rows) = (f.w / size as usize, f.h / size as usize);
            let s = size as usize;
            let payloads: Vec<(u16, u16, Vec<u8>)> = (0..per_frame)
                .map(|_| {
                    let (cx, cy) = (rng.random_range(0..cols), rng.random_range(0..rows));
                    let mut px = Vec::with_capacity(s * s);
                    for r in 0..s {
                        let o = (cy * s + r) * f.w + cx * s;
                        px.extend_from_slice(&f.planes[0][o..o + s]);
                    }
                    let jpeg = lv_livenas::wire::encode_jpeg_luma(&px, size, 95).unwrap();
                    (cx as u16, cy as u16, jpeg)
                })
                .collect();
            let pts = i as u64 * FRAME_NS;
            let batch = lv_livenas::wire::PatchBatch {
                pts: Some(pts),
                frame_width: f.w as u32,
                frame_height: f.h as u32,
                patch_size: size,
                codec: lv_livenas::wire::Codec::Jpeg,
                patches: payloads
                    .iter()
                    .map(|(x, y, p)| lv_livenas::wire::PatchRef {
                        cell_x: *x,
                        cell_y: *y,
                        payload: p,
                    })
                    .collect(),
            };
            let mut b = gst::Buffer::from_mut_slice(
                lv_livenas::wire::encode_patches(&batch, &limits).unwrap(),
            );
            b.get_mut()
                .unwrap()
                .set_pts(gst::ClockTime::from_nseconds(pts));
            b
        })
        .collect()
}

fn training_props(model: &std::path::Path) -> Vec<(&'static str, glib::Value)> {
    vec![
        ("model", model.to_str().unwrap().to_value()),
        ("training", true.to_value()),
        ("adaptive", false.to_value()),
        // 6 frames per epoch, 24 steps per epoch.
        ("epoch-duration", 200_000_000u64.to_value()),
        ("train-steps-per-second", 120u32.to_value()),
        ("learning-rate", 3e-3f64.to_value()),
    ]
}

#[test]
fn online_training_from_patches_improves_a_natural_clip() {
    let model = model_file("identity", &identity_net());
    let hr = clip();
    let lr: Vec<I420> = hr.iter().map(half).collect();
    let (w, h) = (hr[0].w, hr[0].h);
    let patches = patch_buffers(&hr, 32, 6, 1);
    let r = run(
        &training_props(&model),
        &lr,
        (w, h),
        Some(patches.clone()),
        true,
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.frames.len(), hr.len());
    let epochs: Vec<&gst::Structure> = r
        .messages
        .iter()
        .filter(|s| s.name() == "srenhance-epoch")
        .collect();
    assert!(epochs.len() >= 4, "{} epochs", epochs.len());
    let stats = r.stats.unwrap();
    assert!(stats.get::<u64>("pairs").unwrap() > 100, "{stats}");
    assert!(
        r.feedback_events >= epochs.len(),
        "{} feedback events",
        r.feedback_events
    );
    // Whole-frame luma PSNR of the last 6 frames (trained for 4 epochs) against the same
    // frames upscaled by the untrained (= bicubic) network.
    let last = hr.len() - 6..hr.len();
    let trained: f64 = last
        .clone()
        .map(|i| psnr(&r.frames[i].planes[0], &hr[i].planes[0]))
        .sum::<f64>()
        / 6.0;
    let bicubic: f64 = last
        .clone()
        .map(|i| {
            let up = resample(
                &lr[i].planes[0],
                lr[i].w,
                lr[i].h,
                w,
                h,
                Kernel::CATMULL_ROM,
            );
            psnr(&up, &hr[i].planes[0])
        })
        .sum::<f64>()
        / 6.0;
    let last_epoch = epochs.last().unwrap();
    eprintln!(
        "online training: last frames {trained:.3} dB vs bicubic {bicubic:.3} dB; last epoch {last_epoch}"
    );
    assert!(
        trained > bicubic + 0.2,
        "online training gained only {:.3} dB",
        trained - bicubic
    );
    // Every message parses back into the typed struct applications use.
    let typed: Vec<EpochMessage> = epochs
        .iter()
        .map(|s| EpochMessage::try_from(s.as_ref()).unwrap())
        .collect();
    let last_typed = typed.last().unwrap();
    assert!(last_typed.gain_vs_bicubic_db > 0.2, "{last_typed:?}");
    assert!(last_typed.gain_vs_bilinear_db > 0.2, "{last_typed:?}");
    assert!(
        typed.windows(2).all(|w| w[1].epoch == w[0].epoch + 1),
        "{typed:?}"
    );
    // No bit-rate tag on the video: the server cannot price the patches and suggests nothing.
    for e in &typed {
        assert_eq!(e.suggested_patch_kbps, 0, "{e:?}");
    }

    // Non-live training is paced by stream time: the same run gives the same pixels.
    let again = run(&training_props(&model), &lr, (w, h), Some(patches), true);
    assert!(again.error.is_none(), "{:?}", again.error);
    for (a, b) in r.frames.iter().zip(&again.frames) {
        assert_eq!(a.planes, b.planes, "non-live training is not reproducible");
    }
}

/// With the video's bit rate in a tag (as `h264parse` posts it), each epoch's feedback
/// suggests a patch rate from what the patches bought: never below the scheduler's 25 kbit/s
/// floor, and above it while training still gains.
#[test]
fn a_tagged_video_rate_gives_a_patch_rate_suggestion() {
    let model = model_file("identity", &identity_net());
    let hr = clip();
    let lr: Vec<I420> = hr.iter().map(half).collect();
    let (w, h) = (hr[0].w, hr[0].h);
    let patches = patch_buffers(&hr, 32, 6, 1);
    let r = run_setup(
        &training_props(&model),
        &lr,
        (w, h),
        Some(patches),
        true,
        false,
        |sr| {
            let tagged = std::sync::atomic::AtomicBool::new(false);
            sr.static_pad("sink")
                .unwrap()
                .add_probe(gst::PadProbeType::BUFFER, move |pad, _| {
                    if !tagged.swap(true, std::sync::atomic::Ordering::SeqCst) {
                        let mut tags = gst::TagList::new();
                        tags.get_mut()
                            .unwrap()
                            .add::<gst::tags::Bitrate>(&800_000, gst::TagMergeMode::Replace);
                        assert!(pad.send_event(gst::event::Tag::new(tags)));
                    }
                    gst::PadProbeReturn::Ok
                });
        },
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    let suggested: Vec<u32> = r
        .messages
        .iter()
        .filter(|s| s.name() == "srenhance-epoch")
        .map(|s| s.get::<u32>("suggested-patch-kbps").unwrap())
        .collect();
    eprintln!("suggested patch rates: {suggested:?}");
    assert!(suggested.len() >= 4, "{suggested:?}");
    assert!(
        suggested.iter().all(|&s| (25..=10_000).contains(&s)),
        "{suggested:?}"
    );
    assert!(suggested.iter().any(|&s| s > 25), "{suggested:?}");
}

#[test]
fn saves_the_learned_model() {
    let model = model_file("identity", &identity_net());
    let hr: Vec<I420> = clip().into_iter().take(12).collect();
    let lr: Vec<I420> = hr.iter().map(half).collect();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("srenhance-saved.onnx");
    let _ = std::fs::remove_file(&out);
    let mut props = training_props(&model);
    props.push(("save-model", out.to_str().unwrap().to_value()));
    let r = run(
        &props,
        &lr,
        (hr[0].w, hr[0].h),
        Some(patch_buffers(&hr, 32, 4, 2)),
        true,
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    let m = Model::from_path(&out).expect("saved model loads");
    assert_eq!(m.info().kind, lv_livenas::trainer::KIND);
    let net = lv_graph::onnx::import(&std::fs::read(&out).unwrap()).unwrap();
    assert_ne!(
        net.params,
        identity_net().params,
        "the saved model did not learn"
    );
}

#[test]
fn hostile_patch_streams_are_dropped_not_fatal() {
    let model = model_file("identity", &identity_net());
    let hr: Vec<I420> = clip().into_iter().take(8).collect();
    let lr: Vec<I420> = hr.iter().map(half).collect();
    let good = patch_buffers(&hr, 32, 2, 3);
    let mut bufs = Vec::new();
    let mk = |v: Vec<u8>| gst::Buffer::from_mut_slice(v);
    bufs.push(mk(vec![]));
    bufs.push(mk(b"SRPT".to_vec()));
    bufs.push(mk(vec![0xff; 4096]));
    // Truncations and bit flips of a valid message.
    let valid = good[0].map_readable().unwrap().to_vec();
    for cut in [5usize, 12, 20, 40, valid.len() - 1] {
        bufs.push(mk(valid[..cut.min(valid.len())].to_vec()));
    }
    for i in (0..valid.len()).step_by(29) {
        let mut v = valid.clone();
        v[i] ^= 0x5a;
        bufs.push(mk(v));
    }
    // A well-formed message whose cells are for another frame size.
    let other: Vec<I420> = vec![I420 {
        w: 64,
        h: 64,
        planes: [vec![9; 64 * 64], vec![128; 32 * 32], vec![128; 32 * 32]],
    }];
    bufs.extend(patch_buffers(&other, 32, 2, 4));
    // A raw-luma patch whose JPEG claim is false (codec 1 with garbage payload).
    let garbage = lv_livenas::wire::PatchBatch {
        pts: Some(0),
        frame_width: hr[0].w as u32,
        frame_height: hr[0].h as u32,
        patch_size: 32,
        codec: lv_livenas::wire::Codec::Jpeg,
        patches: vec![lv_livenas::wire::PatchRef {
            cell_x: 0,
            cell_y: 0,
            payload: &[0xff, 0xd8, 0xff, 0x00, 1, 2, 3],
        }],
    };
    bufs.push(mk(lv_livenas::wire::encode_patches(
        &garbage,
        &lv_livenas::wire::Limits::default(),
    )
    .unwrap()));
    bufs.extend(good);
    let r = run(
        &training_props(&model),
        &lr,
        (hr[0].w, hr[0].h),
        Some(bufs),
        true,
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.frames.len(), lr.len());
    let stats = r.stats.unwrap();
    assert!(
        stats.get::<u64>("malformed-buffers").unwrap() >= 8,
        "{stats}"
    );
    assert!(stats.get::<u64>("bad-payloads").unwrap() >= 1, "{stats}");
    assert!(stats.get::<u64>("dropped-size").unwrap() >= 1, "{stats}");
    assert!(stats.get::<u64>("pairs").unwrap() >= 1, "{stats}");
    assert!(!r.warnings.is_empty());
}

/// A replayed patch message (thousands of copies of one second's patches) is cut at the
/// server's budget before decoding, counted and warned of once; the video is untouched.
#[test]
fn a_flood_of_replayed_patches_is_cut_at_the_budget() {
    let model = model_file("identity", &identity_net());
    let hr: Vec<I420> = clip().into_iter().take(8).collect();
    let lr: Vec<I420> = hr.iter().map(half).collect();
    let one = patch_buffers(&hr, 32, 2, 3).remove(0);
    let copies = 2000;
    let bufs: Vec<gst::Buffer> = (0..copies).map(|_| one.copy()).collect();
    let r = run(
        &training_props(&model),
        &lr,
        (hr[0].w, hr[0].h),
        Some(bufs),
        true,
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.frames.len(), lr.len());
    let stats = r.stats.unwrap();
    let limit = lv_livenas::budget::FRAMES_PER_SECOND * (hr[0].w * hr[0].h) as u64 / (32 * 32);
    let sent = copies * 2;
    assert_eq!(stats.get::<u64>("patches").unwrap(), sent, "{stats}");
    assert_eq!(
        stats.get::<u64>("dropped-overflow").unwrap(),
        sent - limit,
        "{stats}"
    );
    let said = r
        .warnings
        .iter()
        .filter(|w| w.contains("faster than a streamer"));
    assert_eq!(said.count(), 1, "{:?}", r.warnings);
}

#[test]
fn eos_on_either_pad_or_no_patches_does_not_hang() {
    let model = model_file("identity", &identity_net());
    let hr: Vec<I420> = clip().into_iter().take(10).collect();
    let lr: Vec<I420> = hr.iter().map(half).collect();
    let size = (hr[0].w, hr[0].h);
    // Patch stream ends at once (EOS, no data).
    let r = run(&training_props(&model), &lr, size, Some(vec![]), true);
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.frames.len(), lr.len());
    // Patch stream never ends (the video ends first).
    let r = run(
        &training_props(&model),
        &lr,
        size,
        Some(patch_buffers(&hr[..3], 32, 2, 5)),
        false,
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.frames.len(), lr.len());
    // Patch pad not linked at all.
    let r = run(&training_props(&model), &lr, size, None, true);
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.frames.len(), lr.len());
}

/// Fault injection: the trainer thread panics at the end of its second epoch (through the
/// element's test-only object data key, `TEST_PANIC_AT_EPOCH` in src/srenhance/imp.rs). The
/// non-live stream waits for each epoch, so without the panic being caught at the trainer
/// thread's boundary it would wait forever; it must end with an error on the bus, quickly.
#[test]
fn trainer_panic_ends_a_non_live_pipeline_with_an_error() {
    let model = model_file("identity", &identity_net());
    let hr = clip();
    let lr: Vec<I420> = hr.iter().map(half).collect();
    let size = (hr[0].w, hr[0].h);
    let t0 = std::time::Instant::now();
    let r = run_setup(
        &training_props(&model),
        &lr,
        size,
        Some(patch_buffers(&hr, 32, 2, 3)),
        true,
        false,
        // SAFETY: the element reads this key as a u64.
        |sr| unsafe { sr.set_data("srenhance-test-trainer-panic-at-epoch", 2u64) },
    );
    let err = r.error.expect("no error message on the bus");
    assert!(
        err.contains("online trainer failed") && err.contains("injected fault"),
        "{err}"
    );
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    // The first epoch ran and was reported; the stream stopped at the second.
    let epochs = r
        .messages
        .iter()
        .filter(|m| m.name() == "srenhance-epoch")
        .count();
    assert_eq!(epochs, 1, "{:?}", r.messages);
    assert!(r.frames.len() < lr.len(), "{} frames", r.frames.len());
}

#[test]
fn embedded_generic_model_is_an_srenhance_model() {
    let bytes =
        std::fs::read(lv_testkit::oracle::repo_root().join("models/srenhance/srenhance.onnx"))
            .expect("models/srenhance/srenhance.onnx is shipped");
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!(m.info().kind, lv_livenas::trainer::KIND);
}

#[test]
fn live_pipeline_trains_in_wall_time_without_stalling() {
    let model = model_file("identity", &identity_net());
    let hr = clip();
    let lr: Vec<I420> = hr.iter().map(half).collect();
    let mut props = training_props(&model);
    props.push(("epoch-duration", 250_000_000u64.to_value()));
    let r = run_ex(
        &props,
        &lr,
        (hr[0].w, hr[0].h),
        Some(patch_buffers(&hr, 32, 6, 7)),
        true,
        true,
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.frames.len(), lr.len());
    let trained = r
        .messages
        .iter()
        .filter(|s| s.name() == "srenhance-epoch")
        .filter(|s| s.get::<bool>("trained").unwrap_or(false))
        .count();
    assert!(
        trained >= 1,
        "no trained epoch in 1 s of live stream: {:?}",
        r.messages
    );
}

/// Algorithm 1 in the element: a looped clip saturates and suspends training; a cut to other
/// content is validated against the initial model. Prints the state per epoch.
#[test]
fn adaptive_training_suspends_on_saturation() {
    let model = model_file("identity", &identity_net());
    let hr: Vec<I420> = clip();
    let looped: Vec<I420> = (0..4).flat_map(|_| hr.iter().cloned()).collect();
    let lr: Vec<I420> = looped.iter().map(half).collect();
    let props = vec![
        ("model", model.to_str().unwrap().to_value()),
        ("adaptive", true.to_value()),
        ("epoch-duration", 200_000_000u64.to_value()),
        ("train-steps-per-second", 120u32.to_value()),
        ("learning-rate", 3e-3f64.to_value()),
        ("thresh-sat", 0.15f64.to_value()),
        ("count-sat", 1u32.to_value()),
    ];
    let r = run(
        &props,
        &lr,
        (hr[0].w, hr[0].h),
        Some(patch_buffers(&looped, 32, 6, 8)),
        true,
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    let epochs: Vec<&gst::Structure> = r
        .messages
        .iter()
        .filter(|s| s.name() == "srenhance-epoch")
        .collect();
    for e in &epochs {
        eprintln!(
            "epoch {} {} {} gain {:.3} vs-initial {:.3} fraction {:.2}",
            e.get::<u32>("epoch").unwrap(),
            e.get::<&str>("state").unwrap(),
            e.get::<&str>("transition").unwrap(),
            e.get::<f64>("gain-db").unwrap(),
            e.get::<f64>("gain-vs-initial-db").unwrap(),
            e.get::<f64>("training-fraction").unwrap(),
        );
    }
    assert!(
        epochs
            .iter()
            .any(|e| e.get::<&str>("transition").unwrap() == "suspend"),
        "never suspended"
    );
    let last = epochs.last().unwrap();
    assert!(last.get::<f64>("training-fraction").unwrap() < 1.0);
}

/// The safety net (`serve-best`, default on): a scene cut switches inference to the loaded
/// model at once, so the frames after it, until the epoch that holds it ends, are exactly
/// what `training=false` outputs; the epoch message says so.
#[test]
fn a_scene_cut_serves_the_initial_model_until_new_patches_judge() {
    let model = model_file("random", &random_net());
    let hr = clip();
    // The second scene: the clip upside down (every block mean moves).
    let flipped: Vec<I420> = hr
        .iter()
        .map(|f| {
            let mut g = f.clone();
            for (i, p) in g.planes.iter_mut().enumerate() {
                let (w, h) = if i == 0 {
                    (f.w, f.h)
                } else {
                    (f.w / 2, f.h / 2)
                };
                let rows: Vec<Vec<u8>> = p.chunks(w).take(h).map(|r| r.to_vec()).collect();
                *p = rows.into_iter().rev().flatten().collect();
            }
            g
        })
        .collect();
    let two: Vec<I420> = hr.iter().cloned().chain(flipped).collect();
    let lr: Vec<I420> = two.iter().map(half).collect();
    let out = (hr[0].w, hr[0].h);
    let mut props = training_props(&model);
    props.retain(|(k, _)| !matches!(*k, "adaptive" | "epoch-duration"));
    // Epochs of 0.3 s: the cut (frame 30, 1.0 s) falls inside the fourth, [0.9 s, 1.2 s).
    props.push(("epoch-duration", 300_000_000u64.to_value()));
    let trained = run(&props, &lr, out, Some(patch_buffers(&two, 32, 6, 1)), true);
    assert!(trained.error.is_none(), "{:?}", trained.error);
    let generic = run(&no_training(&model), &lr, out, None, true);
    assert_eq!(trained.frames.len(), two.len());
    let epochs: Vec<&gst::Structure> = trained
        .messages
        .iter()
        .filter(|s| s.name() == "srenhance-epoch")
        .collect();
    let cut: Vec<_> = epochs
        .iter()
        .filter(|e| e.get::<bool>("scene-cut").unwrap())
        .collect();
    assert_eq!(cut.len(), 1, "one cut: {epochs:?}");
    assert_eq!(cut[0].get::<u32>("epoch").unwrap(), 3, "{epochs:?}");
    // Frames 30-36 (up to 1.2 s): the initial model's; the epoch's end judges.
    for i in 30..37 {
        assert!(
            trained.frames[i].planes[0] == generic.frames[i].planes[0],
            "frame {i} after the cut is not the initial model's"
        );
    }
    // Before the cut the online network was in use at least once (it learned).
    assert!(
        epochs[..3]
            .iter()
            .any(|e| e.get::<&str>("served").unwrap() != "initial"),
        "{epochs:?}"
    );
}

/// The post-filter (`post-filter`, default on) is fitted from the second epoch on and judged
/// on fresh patches like the networks (`psnr-filtered`); off, it is never measured or served.
#[test]
fn the_post_filter_is_measured_and_can_be_switched_off() {
    let model = model_file("random", &random_net());
    let hr = clip();
    let lr: Vec<I420> = hr.iter().map(half).collect();
    let out = (hr[0].w, hr[0].h);
    let mut props = training_props(&model);
    props.retain(|(k, _)| !matches!(*k, "adaptive" | "epoch-duration"));
    props.push(("epoch-duration", 300_000_000u64.to_value()));
    let epochs = |props: &[(&str, glib::Value)]| -> Vec<gst::Structure> {
        let r = run(props, &lr, out, Some(patch_buffers(&hr, 32, 6, 1)), true);
        assert!(r.error.is_none(), "{:?}", r.error);
        r.messages
            .into_iter()
            .filter(|s| s.name() == "srenhance-epoch")
            .collect()
    };
    let on = epochs(&props);
    assert!(on.len() >= 3, "{on:?}");
    assert!(on[0].get::<f64>("psnr-filtered").unwrap().is_nan());
    assert!(
        on[1..]
            .iter()
            .any(|e| e.get::<f64>("psnr-filtered").unwrap().is_finite()),
        "{on:?}"
    );
    props.push(("post-filter", false.to_value()));
    let off = epochs(&props);
    assert!(off.iter().all(|e| {
        e.get::<f64>("psnr-filtered").unwrap().is_nan()
            && e.get::<&str>("served").unwrap() != "filtered"
    }));
}

/// The generic post-filter goes with the embedded model: with `post-filter` (default) the
/// luma differs from the network alone; a `post-filter-model` of zero weights (the identity)
/// gives the network alone back; a bad file is a bus error naming it; a `model` of one's own
/// gets no generic filter unless one is named.
#[test]
fn the_generic_post_filter_follows_the_embedded_model_and_its_property() {
    use lv_livenas::postfilter::{BUCKETS, K};
    let frames: Vec<I420> = clip().iter().take(2).map(half).collect();
    let out = (frames[0].w * 2, frames[0].h * 2);
    let luma = |props: Vec<(&'static str, glib::Value)>| -> Vec<u8> {
        let r = run(&props, &frames, out, None, true);
        assert!(r.error.is_none(), "{:?}", r.error);
        r.frames[1].planes[0].clone()
    };
    let base = |pf: bool| {
        vec![
            ("training", false.to_value()),
            ("post-filter", pf.to_value()),
        ]
    };
    let alone = luma(base(false));
    let filtered = luma(base(true));
    assert_ne!(
        alone, filtered,
        "the embedded generic post-filter did not apply"
    );

    let mut zeros = b"LVPF".to_vec();
    for n in [1u32, BUCKETS as u32, K as u32] {
        zeros.extend_from_slice(&n.to_le_bytes());
    }
    zeros.resize(16 + 4 * BUCKETS * K, 0);
    let identity = write_model("identity.lvpf", &zeros);
    let mut props = base(true);
    props.push(("post-filter-model", identity.to_str().unwrap().to_value()));
    assert_eq!(luma(props), alone);

    let bad = write_model("truncated.lvpf", &zeros[..100]);
    let mut props = base(true);
    props.push(("post-filter-model", bad.to_str().unwrap().to_value()));
    let e = run(&props, &frames, out, None, true)
        .error
        .expect("bad filter");
    assert!(e.contains("truncated.lvpf") && e.contains("bytes"), "{e}");

    // The embedded model given as a file: a model of the user's own, so no generic filter.
    let onnx =
        std::fs::read(lv_testkit::oracle::repo_root().join("models/srenhance/srenhance.onnx"))
            .unwrap();
    let own = write_model("own-copy", &onnx);
    assert_eq!(luma(no_training(&own)), alone);
}
