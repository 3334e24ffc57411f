//! srenhance-eval: LiveNAS's comparison (issue #4's proof) on natural clips, through the real
//! elements.
//!
//! For each high-resolution clip (the target size), the streamer side runs as in the issue's
//! pipeline: `y4mdec ! srpatch ! videoscale ! x264enc tune=zerolatency ! avdec_h264`, at
//! `1/--scale` of the clip's size. The decoded ingest video is upscaled back to the clip's size
//! by six methods, each measured frame by frame against the original (PSNR and SSIM of the luma,
//! lvcore's libvmaf-exact implementations):
//!
//! | key | method |
//! |---|---|
//! | (a) bilinear | `videoscale method=bilinear` |
//! | (b) bicubic | `videoscale method=catrom` |
//! | (c) generic | `srenhance training=false` (the shipped generic model) |
//! | (d) onetime | `srenhance training=false model=M`, M = the generic model trained online on the clip's first `--onetime-seconds` (a separate run with `save-model`) |
//! | (e) continuous | `srenhance adaptive=false` (online training all the time) |
//! | (f) adaptive | `srenhance adaptive=true` (Algorithm 1) |
//!
//! The pipelines are non-live, so srenhance paces its training by stream time (a fixed number
//! of steps per stream-second, `--steps-per-second`): results are reproducible and do not
//! depend on this machine's speed. (e) and (f) each run in their own pipeline with their own
//! srpatch, because srpatch follows its server's feedback (it lowers the patch rate while the
//! server's training is suspended); (a)–(d) share one. Every pipeline also carries (b), and the
//! tool checks that its per-frame scores are identical across pipelines, i.e. that all methods
//! saw the same encoded ingest stream.
//!
//! Training fractions come from srenhance's `srenhance-epoch` bus messages (epochs that trained
//! over all epochs); (d)'s is its training seconds over the clip's. Outputs: `report.md`,
//! `results.json` (every per-frame score and every epoch message) and a PNG per clip (quality
//! over time, gain on the newest patches and training state per epoch).

use gst::prelude::*;
use gst_video::prelude::*;
use lv_image::plane::Chroma;
use lv_image::plane::Plane;
use lv_metrics::meter::{Meter, MeterConfig};
use lv_metrics::model::VmafModel;
use lv_metrics::psnr::psnr_plane;
use lv_metrics::ssim::FloatSsim;
use lv_tools::plot::{grid_png, Panel, Series};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const USAGE: &str = "\
usage: srenhance-eval [options] --clip HR.y4m [--clip ...]
  --clip PATH           a high-resolution I420 clip (the target size; repeatable)
  --frames N            first N frames of each clip (default: all)
  --scale S             ingest = clip size / S, rounded down to even (default 2)
  --bitrate K           x264 ingest bitrate in kbit/s (default by ingest height:
                        <=360: 800, <=540: 1500, else 2500)
  --patch-kbps K        srpatch's patch rate (fixed; scheduler off) (default 200)
  --free-patches        give (a)-(c) the same video bitrate as the trained methods (the
                        patches for free); default: equal uplink, (a)-(c) get the video
                        bitrate plus the patch rate (LiveNAS splits one uplink)
  --steps-per-second N  srenhance train-steps-per-second (default 20, the element's)
  --epoch-seconds S     srenhance epoch-duration in seconds (default 3, the element's)
  --onetime-seconds S   (d): train on the first S seconds only (default 10)
  --learning-rate L     srenhance learning-rate (default: the element's)
  --sr-props P          extra srenhance properties for (c)-(f), e.g. \"threads=2\"
  --adaptive-props P    extra properties for (f) only, e.g. \"thresh-sat=0.1 count-sat=2\"
  --patch-props P       extra srpatch properties, e.g. \"jpeg-quality=85\"
  --variants V,..       subset of bilinear,bicubic,generic,onetime,continuous,adaptive
  --seed N              srpatch and srenhance seed (default 1)
  --plugin-dir D        directory with libgstsrenhance.so (default: this binary's)
  --out D               report.md, results.json, plots (default target/srenhance-eval)
";

const ALL: [&str; 6] = [
    "bilinear",
    "bicubic",
    "generic",
    "onetime",
    "continuous",
    "adaptive",
];

/// The RD or time-series points a plot panel takes from one method's results (None: the method
/// is left out of that panel).
type PointsOf<'a> = dyn Fn(&VariantResult) -> Option<Vec<(f64, f64)>> + 'a;

fn letter(v: &str) -> &'static str {
    match v {
        "bilinear" => "(a)",
        "bicubic" => "(b)",
        "generic" => "(c)",
        "onetime" => "(d)",
        "continuous" => "(e)",
        "adaptive" => "(f)",
        "bicubic-video" => "(b′)",
        _ => "",
    }
}

struct Args {
    clips: Vec<PathBuf>,
    frames: Option<usize>,
    scale: f64,
    bitrate: Option<u32>,
    patch_kbps: u32,
    equal_uplink: bool,
    steps_per_second: u32,
    epoch_seconds: f64,
    onetime_seconds: f64,
    learning_rate: Option<f64>,
    sr_props: String,
    adaptive_props: String,
    patch_props: String,
    variants: Vec<String>,
    seed: u64,
    plugin_dir: PathBuf,
    out: PathBuf,
}

fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("srenhance-eval: {msg}");
    std::process::exit(2)
}

fn num<T: std::str::FromStr>(v: Option<String>, what: &str) -> T {
    let v = v.unwrap_or_else(|| die(format!("{what} needs a value")));
    v.parse()
        .unwrap_or_else(|_| die(format!("bad value for {what}: {v}")))
}

fn parse_args() -> Args {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let mut a = Args {
        clips: Vec::new(),
        frames: None,
        scale: 2.0,
        bitrate: None,
        patch_kbps: 200,
        equal_uplink: true,
        steps_per_second: 20,
        epoch_seconds: lv_livenas::online::DEFAULT_EPOCH_NS as f64 / 1e9,
        onetime_seconds: 10.0,
        learning_rate: None,
        sr_props: String::new(),
        adaptive_props: String::new(),
        patch_props: String::new(),
        variants: ALL.iter().map(|s| s.to_string()).collect(),
        seed: 1,
        plugin_dir: exe_dir,
        out: lv_testkit::oracle::repo_root().join("target/srenhance-eval"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--clip" => a.clips.push(PathBuf::from(num::<String>(it.next(), &k))),
            "--frames" => a.frames = Some(num(it.next(), &k)),
            "--scale" => a.scale = num(it.next(), &k),
            "--bitrate" => a.bitrate = Some(num(it.next(), &k)),
            "--patch-kbps" => a.patch_kbps = num(it.next(), &k),
            "--free-patches" => a.equal_uplink = false,
            "--steps-per-second" => a.steps_per_second = num(it.next(), &k),
            "--epoch-seconds" => a.epoch_seconds = num(it.next(), &k),
            "--onetime-seconds" => a.onetime_seconds = num(it.next(), &k),
            "--learning-rate" => a.learning_rate = Some(num(it.next(), &k)),
            "--sr-props" => a.sr_props = num(it.next(), &k),
            "--adaptive-props" => a.adaptive_props = num(it.next(), &k),
            "--patch-props" => a.patch_props = num(it.next(), &k),
            "--variants" => {
                let v: String = num(it.next(), &k);
                a.variants = v.split(',').map(|s| s.trim().to_string()).collect();
                for v in &a.variants {
                    if !ALL.contains(&v.as_str()) {
                        die(format!("unknown variant {v}"));
                    }
                }
            }
            "--seed" => a.seed = num(it.next(), &k),
            "--plugin-dir" => a.plugin_dir = PathBuf::from(num::<String>(it.next(), &k)),
            "--out" => a.out = PathBuf::from(num::<String>(it.next(), &k)),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0)
            }
            _ => die(format!("unknown option {k}\n{USAGE}")),
        }
    }
    if a.clips.is_empty() {
        die(format!("no --clip given\n{USAGE}"));
    }
    // Written so that NaN fails too.
    if !(a.scale >= 1.0
        && a.scale.is_finite()
        && a.epoch_seconds > 0.0
        && a.epoch_seconds.is_finite()
        && a.onetime_seconds > 0.0
        && a.onetime_seconds.is_finite())
    {
        die("--scale must be >= 1, --epoch-seconds and --onetime-seconds > 0 (finite)");
    }
    if let Some(lr) = a.learning_rate {
        if !(0.0..=1.0).contains(&lr) {
            die(format!(
                "--learning-rate {lr}: must be in 0..=1 (the element's range)"
            ));
        }
    }
    if a.bitrate == Some(0) {
        die("--bitrate 0: must be at least 1 kbit/s");
    }
    // Properties are pasted into a pipeline description: keep them to `key=value` words.
    for p in [&a.sr_props, &a.adaptive_props, &a.patch_props] {
        if p.contains(['!', '"', '\'']) {
            die(format!("bad property list: {p}"));
        }
    }
    a
}

/// The reference: luma planes of the clip's first frames, and its size and rate.
struct Reference {
    name: String,
    path: PathBuf,
    width: usize,
    height: usize,
    fps: f64,
    luma: Vec<Vec<u8>>,
}

fn read_reference(path: &Path, limit: Option<usize>) -> Result<Reference, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut r = lv_testkit::y4m::Reader::new(std::io::BufReader::new(f))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let h = r.header.clone();
    if h.bpc != 8 || h.chroma != lv_image::plane::Chroma::C420 {
        return Err(format!("{}: needs 8-bit 4:2:0", path.display()));
    }
    let mut luma = Vec::new();
    while limit.is_none_or(|n| luma.len() < n) {
        match r
            .next_frame()
            .map_err(|e| format!("{}: {e}", path.display()))?
        {
            Some(fr) => luma.push(fr.planes[0].iter().map(|&v| v as u8).collect()),
            None => break,
        }
    }
    if luma.is_empty() {
        return Err(format!("{}: no frames", path.display()));
    }
    Ok(Reference {
        name: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: path.to_path_buf(),
        width: h.width,
        height: h.height,
        fps: h.fps_num as f64 / h.fps_den.max(1) as f64,
        luma,
    })
}

/// Per-frame scores of one measured branch.
#[derive(Default)]
struct Scores {
    psnr: Vec<f64>,
    ssim: Vec<f64>,
    /// VMAF v0.6.1 of the luma (lv-metrics, libvmaf-exact), one frame behind until the end.
    vmaf: Vec<f64>,
    error: Option<String>,
}

/// One `srenhance-epoch` bus message.
#[derive(Clone, Debug, serde::Serialize)]
struct Epoch {
    epoch: u32,
    state: String,
    trained: bool,
    steps: u64,
    patches: u64,
    /// Over the previous epoch's network (Algorithm 1's saturation test).
    gain_db: f64,
    gain_vs_bicubic_db: f64,
    gain_vs_initial_db: f64,
    training_fraction: f64,
    /// What the safety net serves from this epoch's end on, and whether a cut fell in it.
    served: String,
    scene_cut: bool,
    /// On the epoch's fresh patches: the initial model, and it followed by the post-filter
    /// fitted before the epoch (NaN without one).
    psnr_initial: f64,
    psnr_filtered: f64,
    /// The server's suggested patch rate (kbit/s; 0: none), from the ingest's bit-rate tags.
    suggested_patch_kbps: u32,
}

#[derive(Default)]
struct RunResult {
    scores: Vec<(String, Scores)>,
    epochs: Vec<(String, Vec<Epoch>)>,
    wall_s: f64,
}

/// The ingest part of every pipeline: the streamer side up to the decoder.
/// `x264enc threads=1`: with its default threads (sliced, zerolatency) x264's output differed
/// from run to run here (measured: two runs, two bitstream sizes), and every method must see
/// the same ingest stream; the per-pipeline bicubic check below enforces it.
fn ingest_desc(
    args: &Args,
    r: &Reference,
    limit: usize,
    iw: usize,
    ih: usize,
    kbps: u32,
) -> String {
    let loc = r.path.display().to_string().replace('"', "");
    format!(
        "filesrc location=\"{loc}\" ! y4mdec ! identity eos-after={after} ! \
         srpatch name=p seed={seed} scheduler=false patch-kbps={pk} {pp} ! queue ! videoscale ! \
         video/x-raw,width={iw},height={ih} ! x264enc tune=zerolatency bitrate={kbps} threads=1 ! \
         h264parse ! avdec_h264 ! tee name=dec ",
        seed = args.seed,
        pk = args.patch_kbps,
        pp = args.patch_props,
        // identity passes N - 1 buffers and turns the N-th into EOS (GStreamer 1.22).
        after = limit + 1,
    )
}

fn sr_common(args: &Args) -> String {
    let mut s = format!(
        "seed={} epoch-duration={} train-steps-per-second={} ",
        args.seed,
        (args.epoch_seconds * 1e9).round() as u64,
        args.steps_per_second
    );
    if let Some(lr) = args.learning_rate {
        let _ = write!(s, "learning-rate={lr} ");
    }
    s + &args.sr_props
}

/// Runs one pipeline: `branches` are (label, upscaler description) measured against `r`;
/// `trained` names the one srenhance fed with patches (None: patches go to a fakesink).
fn run_pipeline(
    r: &Arc<Reference>,
    ingest: &str,
    branches: &[(String, String)],
    trained: Option<&str>,
) -> Result<RunResult, String> {
    let (w, h) = (r.width, r.height);
    let mut desc = ingest.to_string();
    for (label, up) in branches {
        let _ = write!(
            desc,
            " dec. ! queue ! {up} ! video/x-raw,format=I420,width={w},height={h} ! \
             fakesink name=m_{label} signal-handoffs=true sync=false"
        );
    }
    match trained {
        Some(sr) => {
            let _ = write!(desc, " p.patch_src ! queue ! {sr}.patch_sink");
        }
        None => desc.push_str(" p.patch_src ! queue ! fakesink sync=false async=false"),
    }
    let pipeline = gst::parse::launch(&desc)
        .map_err(|e| format!("pipeline: {e}\n{desc}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline".to_string())?;
    let mut all = Vec::new();
    for (label, _) in branches {
        let sink = pipeline
            .by_name(&format!("m_{label}"))
            .ok_or("no measuring sink")?;
        let scores = Arc::new(Mutex::new(Scores::default()));
        let ssim = Mutex::new(
            // Full-resolution SSIM (libvmaf's float_ssim without decimation).
            FloatSsim::with_scale(w, h, 8, 1).map_err(|e| format!("ssim: {e:?}"))?,
        );
        let meter = Arc::new(Mutex::new(
            Meter::new(MeterConfig {
                width: w,
                height: h,
                bpc: 8,
                chroma: Chroma::Mono,
                models: vec![VmafModel::builtin("vmaf_v0.6.1").ok_or("no built-in VMAF model")?],
                psnr: false,
                ssim: false,
                ms_ssim: false,
                cambi: None,
                threads: 1,
                accel: None,
            })
            .map_err(|e| format!("vmaf: {e}"))?,
        ));
        let iv = meter
            .lock()
            .unwrap()
            .metric_names()
            .iter()
            .position(|n| n == "vmaf_v0.6.1")
            .ok_or("meter has no vmaf_v0.6.1")?;
        let (s2, r2, m2) = (scores.clone(), r.clone(), meter.clone());
        sink.connect("handoff", false, move |vals| {
            let buf = vals[1].get::<gst::Buffer>().ok()?;
            let pad = vals[2].get::<gst::Pad>().ok()?;
            let mut sc = s2.lock().unwrap();
            if sc.error.is_some() {
                return None;
            }
            let i = sc.psnr.len();
            let res = (|| -> Result<(f64, f64, Option<f64>), String> {
                let caps = pad.current_caps().ok_or("no caps")?;
                let info = gst_video::VideoInfo::from_caps(&caps).map_err(|e| e.to_string())?;
                let fr = gst_video::VideoFrameRef::from_buffer_ref_readable(buf.as_ref(), &info)
                    .map_err(|_| "unmappable frame")?;
                let reference = r2
                    .luma
                    .get(i)
                    .ok_or_else(|| format!("more output frames than the clip's {}", i))?;
                let d = Plane::new_u8(
                    fr.plane_data(0).map_err(|e| e.to_string())?,
                    w,
                    h,
                    fr.plane_stride()[0] as usize,
                );
                let rp = Plane::new_u8(reference, w, h, w);
                let v = m2.lock().unwrap().push(i as u64, &[rp], &[d]);
                Ok((
                    psnr_plane(&rp, &d),
                    ssim.lock().unwrap().compute(&rp, &d),
                    v.map(|f| f.values[iv]),
                ))
            })();
            match res {
                Ok((p, s, v)) => {
                    sc.psnr.push(p);
                    sc.ssim.push(s);
                    sc.vmaf.extend(v);
                }
                Err(e) => sc.error = Some(format!("frame {i}: {e}")),
            }
            None
        });
        all.push((label.clone(), scores, meter, iv));
    }
    let t0 = Instant::now();
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| format!("cannot start: {e}\n{desc}"))?;
    let bus = pipeline.bus().ok_or("no bus")?;
    let mut epochs: Vec<(String, Vec<Epoch>)> = Vec::new();
    let mut failure = None;
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                failure = Some(format!(
                    "{}: {} ({:?})",
                    msg.src()
                        .map(|s| s.path_string().to_string())
                        .unwrap_or_default(),
                    e.error(),
                    e.debug()
                ));
                break;
            }
            gst::MessageView::Element(m) => {
                let Some(s) = m.structure() else { continue };
                if s.name() != "srenhance-epoch" {
                    continue;
                }
                let src = msg.src().map(|s| s.name().to_string()).unwrap_or_default();
                let f = |k: &str| s.get::<f64>(k).unwrap_or(f64::NAN);
                let e = Epoch {
                    epoch: s.get::<u32>("epoch").unwrap_or(0),
                    state: s.get::<String>("state").unwrap_or_default(),
                    trained: s.get::<bool>("trained").unwrap_or(false),
                    steps: s.get::<u64>("steps").unwrap_or(0),
                    patches: s.get::<u64>("patches").unwrap_or(0),
                    gain_db: f("gain-db"),
                    gain_vs_bicubic_db: f("gain-vs-bicubic-db"),
                    gain_vs_initial_db: f("gain-vs-initial-db"),
                    training_fraction: f("training-fraction"),
                    served: s.get::<String>("served").unwrap_or_default(),
                    psnr_initial: s.get::<f64>("psnr-initial").unwrap_or(f64::NAN),
                    psnr_filtered: s.get::<f64>("psnr-filtered").unwrap_or(f64::NAN),
                    scene_cut: s.get::<bool>("scene-cut").unwrap_or(false),
                    suggested_patch_kbps: s.get::<u32>("suggested-patch-kbps").unwrap_or(0),
                };
                match epochs.iter_mut().find(|(n, _)| *n == src) {
                    Some((_, v)) => v.push(e),
                    None => epochs.push((src, vec![e])),
                }
            }
            _ => {}
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    if let Some(f) = failure {
        return Err(f);
    }
    let mut out = RunResult {
        wall_s: t0.elapsed().as_secs_f64(),
        epochs,
        ..Default::default()
    };
    for (label, s, meter, iv) in all {
        let mut s = std::mem::take(&mut *s.lock().unwrap());
        // The last frame's VMAF (its motion needed no later frame, but the meter waits for one).
        if let Some(f) = meter.lock().unwrap().finish() {
            s.vmaf.push(f.values[iv]);
        }
        if let Some(e) = &s.error {
            return Err(format!("{label}: {e}"));
        }
        out.scores.push((label, s));
    }
    Ok(out)
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Per-second means of a per-frame series, as (time of the second's middle, mean).
fn per_second(v: &[f64], fps: f64) -> Vec<(f64, f64)> {
    let n = fps.round().max(1.0) as usize;
    v.chunks(n)
        .enumerate()
        .map(|(i, c)| ((i as f64 + 0.5) * n as f64 / fps, mean(c)))
        .collect()
}

struct VariantResult {
    key: String,
    psnr: Vec<f64>,
    ssim: Vec<f64>,
    vmaf: Vec<f64>,
    epochs: Vec<Epoch>,
    training_fraction: f64,
    wall_s: f64,
}

fn eval_clip(args: &Args, r: Arc<Reference>, work: &Path) -> Result<Vec<VariantResult>, String> {
    let n = r.luma.len();
    let iw = ((r.width as f64 / args.scale) as usize) & !1;
    let ih = ((r.height as f64 / args.scale) as usize) & !1;
    let kbps = args.bitrate.unwrap_or(match ih {
        0..=360 => 800,
        361..=540 => 1500,
        _ => 2500,
    });
    let ingest = ingest_desc(args, &r, n, iw, ih, kbps);
    // Equal uplink: the methods without patches get their bit rate as video.
    let uplink_kbps = kbps
        + if args.equal_uplink {
            args.patch_kbps
        } else {
            0
        };
    let ingest_uplink = ingest_desc(args, &r, n, iw, ih, uplink_kbps);
    let common = sr_common(args);
    let want = |v: &str| args.variants.iter().any(|x| x == v);
    let bicubic = (
        "bicubic".to_string(),
        "videoscale method=catrom".to_string(),
    );
    let mut results: Vec<VariantResult> = Vec::new();
    // Per ingest bit rate, the bicubic scores of the first pipeline at it.
    let mut bicubic_ref: Vec<(u32, Vec<f64>)> = Vec::new();
    let mut collect =
        |res: RunResult, rate: u32, frac: &dyn Fn(&str, &[Epoch]) -> f64| -> Result<(), String> {
            for (label, s) in res.scores {
                if s.psnr.len() != n {
                    return Err(format!("{label}: {} of {n} frames came out", s.psnr.len()));
                }
                let mut label = label;
                if label == "bicubic" {
                    // Every pipeline carries (b): identical scores at one bit rate = identical
                    // ingest streams.
                    match bicubic_ref.iter().find(|(k, _)| *k == rate) {
                        None => bicubic_ref.push((rate, s.psnr.clone())),
                        Some((_, b)) if *b != s.psnr => {
                            return Err("the ingest stream differs between pipelines (x264 \
                                    is not deterministic here): comparisons would be unfair"
                                .into())
                        }
                        Some(_) => {}
                    }
                    if rate != uplink_kbps {
                        // Bicubic of the video the trained methods get, for reference.
                        label = "bicubic-video".into();
                    }
                    if results.iter().any(|v| v.key == label) || !want("bicubic") {
                        continue;
                    }
                }
                let epochs = res
                    .epochs
                    .iter()
                    .find(|(n, _)| *n == format!("sr_{label}"))
                    .map(|(_, e)| e.clone())
                    .unwrap_or_default();
                results.push(VariantResult {
                    training_fraction: frac(&label, &epochs),
                    key: label,
                    psnr: s.psnr,
                    ssim: s.ssim,
                    vmaf: s.vmaf,
                    epochs,
                    wall_s: res.wall_s,
                });
            }
            Ok(())
        };
    let last_fraction = |_: &str, e: &[Epoch]| e.last().map_or(0.0, |e| e.training_fraction);

    // (d)'s model: online training on the first seconds only, saved at their end.
    let onetime_model = work.join(format!("{}-onetime.onnx", r.name));
    let onetime_frames = ((args.onetime_seconds * r.fps).round() as usize).clamp(1, n);
    if want("onetime") {
        let _ = std::fs::remove_file(&onetime_model);
        let t0 = Instant::now();
        let ingest0 = ingest_desc(args, &r, onetime_frames, iw, ih, kbps);
        let sr = format!(
            "srenhance name=sr_train adaptive=false save-model=\"{}\" {common}",
            onetime_model.display()
        );
        let desc = format!(
            "{ingest0} dec. ! queue ! {sr} ! video/x-raw,width={},height={} ! fakesink sync=false \
             p.patch_src ! queue ! sr_train.patch_sink",
            r.width, r.height
        );
        let pipeline = gst::parse::launch(&desc).map_err(|e| format!("{e}\n{desc}"))?;
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| e.to_string())?;
        let bus = pipeline.bus().ok_or("no bus")?;
        let mut err = None;
        for msg in bus.iter_timed(gst::ClockTime::NONE) {
            match msg.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(e) => {
                    err = Some(format!(
                        "one-time training: {} ({:?})",
                        e.error(),
                        e.debug()
                    ));
                    break;
                }
                _ => {}
            }
        }
        let _ = pipeline.set_state(gst::State::Null);
        if let Some(e) = err {
            return Err(e);
        }
        if !onetime_model.is_file() {
            return Err("one-time training saved no model".into());
        }
        eprintln!(
            "  {}: one-time model from {onetime_frames} frames ({:.0} s)",
            r.name,
            t0.elapsed().as_secs_f64()
        );
    }

    // (a)-(d) in one pipeline.
    let mut fixed = Vec::new();
    if want("bilinear") {
        fixed.push(("bilinear".into(), "videoscale method=bilinear".into()));
    }
    fixed.push(bicubic.clone());
    if want("generic") {
        fixed.push((
            "generic".into(),
            format!("srenhance name=sr_generic training=false {common}"),
        ));
    }
    let res = run_pipeline(&r, &ingest_uplink, &fixed, None)?;
    eprintln!(
        "  {}: (a)-(c) at {uplink_kbps} kbit/s in {:.0} s",
        r.name, res.wall_s
    );
    collect(res, uplink_kbps, &last_fraction)?;
    // (d) used patches (for its first seconds): the trained methods' video rate.
    if want("onetime") {
        let branches = vec![
            bicubic.clone(),
            (
                "onetime".into(),
                format!(
                    "srenhance name=sr_onetime training=false model=\"{}\" {common}",
                    onetime_model.display()
                ),
            ),
        ];
        let res = run_pipeline(&r, &ingest, &branches, None)?;
        eprintln!("  {}: (d) in {:.0} s", r.name, res.wall_s);
        let onetime_fraction = onetime_frames as f64 / n as f64;
        collect(res, kbps, &|_, _| onetime_fraction)?;
    }

    for (key, props) in [
        ("continuous", "adaptive=false".to_string()),
        ("adaptive", format!("adaptive=true {}", args.adaptive_props)),
    ] {
        if !want(key) {
            continue;
        }
        let branches = vec![
            bicubic.clone(),
            (
                key.to_string(),
                format!("srenhance name=sr_{key} {props} {common}"),
            ),
        ];
        let res = run_pipeline(&r, &ingest, &branches, Some(&format!("sr_{key}")))?;
        eprintln!("  {}: {} in {:.0} s", r.name, letter(key), res.wall_s);
        collect(res, kbps, &last_fraction)?;
    }
    results.sort_by_key(|v| {
        let k = if v.key == "bicubic-video" {
            "bicubic"
        } else {
            v.key.as_str()
        };
        (ALL.iter().position(|a| *a == k), v.key.len())
    });
    Ok(results)
}

fn main() {
    let args = parse_args();
    if let Err(e) = run(&args) {
        die(e)
    }
}

fn run(args: &Args) -> Result<(), String> {
    gst::init().map_err(|e| e.to_string())?;
    let plugin = args.plugin_dir.join("libgstsrenhance.so");
    gst::Plugin::load_file(&plugin).map_err(|e| {
        format!(
            "{}: {e} (build it with `cargo build [--release] -p gst-plugin-srenhance`, or \
             pass --plugin-dir)",
            plugin.display()
        )
    })?;
    let plots = args.out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| format!("{}: {e}", plots.display()))?;
    let t0 = Instant::now();
    let mut clips_json = Vec::new();
    let mut table: Vec<(String, Vec<VariantResult>, usize, usize, f64)> = Vec::new();
    for path in &args.clips {
        let r = Arc::new(read_reference(path, args.frames)?);
        eprintln!(
            "{}: {}x{}, {} frames at {:.2} fps",
            r.name,
            r.width,
            r.height,
            r.luma.len(),
            r.fps
        );
        let res = eval_clip(args, r.clone(), &args.out)?;
        // One series per method; `points` None leaves a method out of that panel.
        let panel = |title: String, x_label: &str, y_label: &str, points: &PointsOf<'_>| Panel {
            title,
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: res
                .iter()
                .filter_map(|v| {
                    Some(Series {
                        name: format!("{} {}", letter(&v.key), v.key),
                        points: points(v)?,
                    })
                })
                .collect(),
            log_x: false,
        };
        let per_epoch = |v: &VariantResult, f: fn(&Epoch) -> f64| {
            (!v.epochs.is_empty()).then(|| epoch_points(&v.epochs, args.epoch_seconds, f))
        };
        let panels = vec![
            panel(format!("{}: PSNR-Y per second", r.name), "s", "dB", &|v| {
                Some(per_second(&v.psnr, r.fps))
            }),
            panel("SSIM-Y per second".into(), "s", "SSIM", &|v| {
                Some(per_second(&v.ssim, r.fps))
            }),
            panel(
                "gain over bicubic on the epoch's new patches".into(),
                "epoch end (s)",
                "dB",
                &|v| per_epoch(v, |e| e.gain_vs_bicubic_db),
            ),
            panel(
                "training (1) or suspended (0) in the epoch".into(),
                "epoch end (s)",
                "state",
                &|v| per_epoch(v, |e| if e.trained { 1.0 } else { 0.0 }),
            ),
        ];
        let png = args.out.join("plots").join(format!("{}.png", r.name));
        grid_png(&png, &format!("srenhance-eval: {}", r.name), 2, 2, &panels)?;
        clips_json.push(json!({
            "clip": r.path.display().to_string(),
            "name": r.name,
            "width": r.width, "height": r.height, "fps": r.fps, "frames": r.luma.len(),
            "variants": res.iter().map(|v| json!({
                "key": v.key,
                "psnr_y": mean(&v.psnr),
                "ssim_y": mean(&v.ssim),
                "vmaf": mean(&v.vmaf),
                "training_fraction": v.training_fraction,
                "pipeline_wall_s": v.wall_s,
                "per_frame_psnr_y": v.psnr,
                "per_frame_ssim_y": v.ssim,
                "per_frame_vmaf": v.vmaf,
                "epochs": v.epochs,
            })).collect::<Vec<Value>>(),
        }));
        let ih = ((r.height as f64 / args.scale) as usize) & !1;
        let iw = ((r.width as f64 / args.scale) as usize) & !1;
        table.push((r.name.clone(), res, iw, ih, r.luma.len() as f64 / r.fps));
    }
    let report = report(args, &table);
    let md = args.out.join("report.md");
    std::fs::write(&md, &report).map_err(|e| format!("{}: {e}", md.display()))?;
    let results = json!({
        "tool": "srenhance-eval",
        "args": std::env::args().skip(1).collect::<Vec<_>>(),
        "wall_s": t0.elapsed().as_secs_f64(),
        "clips": clips_json,
    });
    let jp = args.out.join("results.json");
    std::fs::write(&jp, serde_json::to_string_pretty(&results).unwrap())
        .map_err(|e| format!("{}: {e}", jp.display()))?;
    print!("{report}");
    eprintln!(
        "wrote {} ({:.0} s)",
        args.out.join("report.md").display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn epoch_points(e: &[Epoch], epoch_s: f64, f: impl Fn(&Epoch) -> f64) -> Vec<(f64, f64)> {
    e.iter()
        .map(|e| ((e.epoch as f64 + 1.0) * epoch_s, f(e)))
        .collect()
}

type ClipRow = (String, Vec<VariantResult>, usize, usize, f64);

fn report(args: &Args, table: &[ClipRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# srenhance-eval\n\nIngest at 1/{} size, x264 `tune=zerolatency`; patches {} kbit/s \
         (scheduler off); {}; training {} steps per stream-second, {} s epochs; (d) trained on the \
         first {} s. PSNR-Y (dB), SSIM-Y and VMAF (v0.6.1, luma) are means over frames; Δ is against (b) bicubic.\n",
        args.scale,
        args.patch_kbps,
        if args.equal_uplink {
            "equal uplink: (a)-(c) get the patch rate as extra video bit rate, (b′) is bicubic \
             of the video the methods with patches get"
        } else {
            "patches for free: every method gets the same video"
        },
        args.steps_per_second,
        args.epoch_seconds,
        args.onetime_seconds
    );
    let get =
        |res: &[VariantResult], k: &str| res.iter().find(|v| v.key == k).map(|v| v.psnr.clone());
    for (name, res, iw, ih, dur) in table {
        let _ = writeln!(
            s,
            "## {name} (ingest {iw}x{ih}, {dur:.1} s)\n\n| method | PSNR-Y | Δ PSNR-Y | SSIM-Y | VMAF | training fraction |\n|---|---|---|---|---|---|"
        );
        let b = get(res, "bicubic").map(|v| mean(&v));
        for v in res {
            let p = mean(&v.psnr);
            let d = b.map_or(String::from("–"), |b| format!("{:+.3}", p - b));
            let frac = if matches!(v.key.as_str(), "onetime" | "continuous" | "adaptive") {
                format!("{:.2}", v.training_fraction)
            } else {
                "–".into()
            };
            let _ = writeln!(
                s,
                "| {} {} | {p:.3} | {d} | {:.4} | {:.2} | {frac} |",
                letter(&v.key),
                v.key,
                mean(&v.ssim),
                mean(&v.vmaf)
            );
        }
        s.push('\n');
    }
    // Averages over clips of the goal's differences.
    let avg = |a: &str, b: &str| -> Option<f64> {
        let d: Vec<f64> = table
            .iter()
            .filter_map(|(_, res, ..)| Some(mean(&get(res, a)?) - mean(&get(res, b)?)))
            .collect();
        (d.len() == table.len() && !d.is_empty()).then(|| mean(&d))
    };
    let frac = |k: &str| -> Option<f64> {
        let v: Vec<f64> = table
            .iter()
            .filter_map(|(_, res, ..)| res.iter().find(|v| v.key == k).map(|v| v.training_fraction))
            .collect();
        (!v.is_empty()).then(|| mean(&v))
    };
    let _ = writeln!(
        s,
        "## Goals (averaged over clips)\n\n| quantity | goal | measured |\n|---|---|---|"
    );
    let f = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:+.3} dB"));
    for (quantity, goal, other) in [
        ("(f) − (b) bicubic", "≥ +1.0 dB", "bicubic"),
        ("(f) − (c) generic", "≥ +0.5 dB", "generic"),
        ("(f) − (e) continuous", "≥ −0.1 dB", "continuous"),
        ("(f) − (a) bilinear", "(paper: +1.96 dB)", "bilinear"),
    ] {
        let _ = writeln!(s, "| {quantity} | {goal} | {} |", f(avg("adaptive", other)));
    }
    let ratio = match (frac("adaptive"), frac("continuous")) {
        (Some(a), Some(c)) if c > 0.0 => format!("{a:.2} / {c:.2} = {:.2}", a / c),
        _ => "–".into(),
    };
    let _ = writeln!(s, "| training time (f) / (e) | ≤ 0.5 | {ratio} |");
    // The same on each clip's second half (the online model has had time to learn).
    let half = |a: &str, b: &str| -> Option<f64> {
        let d: Vec<f64> = table
            .iter()
            .filter_map(|(_, res, ..)| {
                let (x, y) = (get(res, a)?, get(res, b)?);
                let h = x.len() / 2;
                Some(mean(&x[h..]) - mean(&y[h..]))
            })
            .collect();
        (d.len() == table.len() && !d.is_empty()).then(|| mean(&d))
    };
    for (quantity, other) in [
        ("second halves: (f) − (b) bicubic", "bicubic"),
        ("second halves: (f) − (c) generic", "generic"),
    ] {
        let _ = writeln!(s, "| {quantity} | | {} |", f(half("adaptive", other)));
    }
    // Worst epoch of (f) against (c): means over each epoch's frames.
    let mut worst: Option<(f64, String, usize)> = None;
    for (name, res, _, _, dur) in table {
        let (Some(a), Some(c)) = (get(res, "adaptive"), get(res, "generic")) else {
            continue;
        };
        let per = ((a.len() as f64 / dur * args.epoch_seconds).round() as usize).max(1);
        for (k, (x, y)) in a.chunks(per).zip(c.chunks(per)).enumerate() {
            let d = mean(x) - mean(y);
            if worst.as_ref().is_none_or(|w| d < w.0) {
                worst = Some((d, name.clone(), k + 1));
            }
        }
    }
    if let Some((d, name, k)) = worst {
        let _ = writeln!(
            s,
            "| worst epoch, (f) − (c) | ≥ −0.05 dB | {d:+.3} dB ({name}, epoch {k}) |"
        );
    }
    s
}
