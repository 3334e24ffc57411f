//! The project's main job: a small bitrate ladder made twice from one natural clip, once by
//! `dnnscale` and once by Lanczos (ffmpeg's swscale, the anchor of models/dnnscale/EVAL.md), each
//! rung encoded by GStreamer's `x264enc` at the same target bitrates, decoded, upscaled back to
//! the source size with `videoscale` (Catmull-Rom bicubic) and measured against the source by `vqmeter`
//! (VMAF, VMAF NEG, PSNR-Y). Prints one table row per encode, the equal-rate and BD-rate
//! differences per rung, and writes the RD curves as a PNG.
//!
//! Every stage but the Lanczos downscale is a GStreamer pipeline, run as a user would write it
//! with `gst-launch-1.0`, so the job also shows how the elements compose. The plugins are found
//! through `GST_PLUGIN_PATH` (scripts/main-job.sh sets it).
//!
//! `ladder-demo --source SRC.y4m --out DIR [--rungs 960x540:500,900,1600;640x360:...]`

use gst::prelude::*;
use lv_tools::bdrate::{bd_rate, RdPoint};
use lv_tools::plot::{grid_png, Panel, Series};
use std::path::{Path, PathBuf};
use std::process::Command;

const METHODS: [&str; 2] = ["lanczos", "dnnscale"];
/// (name in vqmeter's pooled message, column title).
const METRICS: [(&str, &str); 3] = [
    ("vmaf", "VMAF"),
    ("vmaf_v0.6.1neg", "VMAF NEG"),
    ("psnr_y", "PSNR-Y"),
];

struct Rung {
    w: u32,
    h: u32,
    kbps: Vec<u32>,
}

struct Point {
    method: &'static str,
    rung: usize,
    target_kbps: u32,
    kbps: f64,
    scores: Vec<f64>,
}

fn die(msg: impl AsRef<str>) -> ! {
    eprintln!("ladder-demo: {}", msg.as_ref());
    std::process::exit(1)
}

/// x264enc's highest `bitrate` (kbit/s).
const X264_MAX_KBPS: u32 = 2_048_000;

fn parse_rungs(s: &str) -> Vec<Rung> {
    s.split(';')
        .map(|r| {
            let (size, rates) = r
                .split_once(':')
                .unwrap_or_else(|| die(format!("bad rung {r}")));
            // Even sizes: 4:2:0 and the models' 2x2 alignment.
            let dim = |d: &str| d.parse::<u32>().ok().filter(|&d| d >= 2 && d % 2 == 0);
            let (w, h) = size
                .split_once('x')
                .and_then(|(w, h)| Some((dim(w)?, dim(h)?)))
                .unwrap_or_else(|| die(format!("bad size {size}: WxH with even W, H >= 2")));
            // x264enc's bitrate range; 0 is out of it, and x264enc would fall back to its
            // default rate while the table reports the target.
            let kbps = rates
                .split(',')
                .map(|k| {
                    k.parse::<u32>()
                        .ok()
                        .filter(|k| (1..=X264_MAX_KBPS).contains(k))
                        .unwrap_or_else(|| {
                            die(format!(
                                "bad rate {k} in rung {r}: kbit/s in 1..={X264_MAX_KBPS}"
                            ))
                        })
                })
                .collect();
            Rung { w, h, kbps }
        })
        .collect()
}

/// Runs a pipeline to EOS; returns the structures of the element messages named `want`.
fn run(desc: &str, want: &str) -> Vec<gst::Structure> {
    let pipeline = gst::parse::launch(desc).unwrap_or_else(|e| die(format!("{desc}: {e}")));
    let bus = pipeline.bus().unwrap();
    pipeline
        .set_state(gst::State::Playing)
        .unwrap_or_else(|e| die(format!("{desc}: {e}")));
    let mut found = Vec::new();
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(..) => break,
            gst::MessageView::Error(e) => {
                let _ = pipeline.set_state(gst::State::Null);
                die(format!("{desc}: {} ({:?})", e.error(), e.debug()))
            }
            gst::MessageView::Element(m) => {
                if let Some(s) = m.structure().filter(|s| s.name() == want) {
                    found.push(s.to_owned());
                }
            }
            _ => {}
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    found
}

/// Size, frame count and frame rate of a y4m file.
/// Runs a pipeline to EOS in its own `gst-launch-1.0` process. The encodes run this way: x264enc
/// gave a different bitstream for the same input now and then when it ran in this process after
/// other pipelines (never in a process of its own, see docs/NOTES.md), and equal inputs must give
/// equal bits for the comparison to be fair and the job reproducible.
fn launch(desc: &str) {
    let ok = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(desc.split_whitespace())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        die(format!("gst-launch-1.0 {desc} failed"));
    }
}

fn y4m_info(path: &Path) -> (usize, usize, u64, f64) {
    let fail = |e: std::io::Error| -> ! { die(format!("{}: {e}", path.display())) };
    let file = std::fs::File::open(path).unwrap_or_else(|e| fail(e));
    let mut r =
        lv_testkit::y4m::Reader::new(std::io::BufReader::new(file)).unwrap_or_else(|e| fail(e));
    let h = r.header.clone();
    let mut n = 0;
    while r.next_frame().unwrap_or_else(|e| fail(e)).is_some() {
        n += 1;
    }
    (
        h.width,
        h.height,
        n,
        h.fps_num as f64 / h.fps_den.max(1) as f64,
    )
}

fn main() {
    let mut source = None;
    let mut out = PathBuf::from("out/ladder");
    let mut rungs = parse_rungs("960x540:700,1200,2000;640x360:350,600,1000;480x270:200,350,600");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut v = || {
            args.next()
                .unwrap_or_else(|| die(format!("{a} needs a value")))
        };
        match a.as_str() {
            "--source" => source = Some(PathBuf::from(v())),
            "--out" => out = PathBuf::from(v()),
            "--rungs" => rungs = parse_rungs(&v()),
            _ => die(format!("unknown argument {a}")),
        }
    }
    let source = source.unwrap_or_else(|| die("--source SRC.y4m is required"));
    let src = source.display().to_string();
    // The paths go into launch lines as they are.
    if src.contains(char::is_whitespace) || out.display().to_string().contains(char::is_whitespace)
    {
        die("--source and --out must be paths without white space");
    }
    std::fs::create_dir_all(&out).unwrap_or_else(|e| die(format!("{}: {e}", out.display())));
    gst::init().unwrap_or_else(|e| die(format!("GStreamer: {e}")));
    for element in ["dnnscale", "vqmeter", "x264enc", "avdec_h264", "y4mdec"] {
        if gst::ElementFactory::find(element).is_none() {
            die(format!("element {element} not found (GST_PLUGIN_PATH?)"));
        }
    }
    let (sw, sh, frames, fps) = y4m_info(&source);
    // dnnscale only downscales: check every rung before the first encode.
    for r in &rungs {
        if r.w as usize > sw || r.h as usize > sh {
            die(format!(
                "rung {}x{} is larger than the source {sw}x{sh} (dnnscale only downscales); \
                 pass --rungs",
                r.w, r.h
            ));
        }
    }
    let ffmpeg = lv_testkit::oracle::ffmpeg().unwrap_or_else(|e| die(e));
    eprintln!("source {src}: {sw}x{sh}, {frames} frames at {fps:.2} fps");

    let mut points = Vec::new();
    for (ri, r) in rungs.iter().enumerate() {
        for method in METHODS {
            let down = out.join(format!("{method}_{}x{}.y4m", r.w, r.h));
            let dn = down.display();
            match method {
                "dnnscale" => {
                    launch(&format!(
                        "filesrc location={src} ! y4mdec ! dnnscale ! \
                         video/x-raw,width={},height={} ! y4menc ! filesink location={dn}",
                        r.w, r.h
                    ));
                }
                _ => {
                    let ok = Command::new(&ffmpeg)
                        .args(["-v", "error", "-y", "-i", &src, "-vf"])
                        .arg(format!("scale={}:{}", r.w, r.h))
                        .args([
                            "-sws_flags",
                            "lanczos+accurate_rnd+full_chroma_int+bitexact",
                        ])
                        .args(["-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe"])
                        .arg(&down)
                        .status()
                        .map(|s| s.success())
                        .unwrap_or(false);
                    if !ok {
                        die(format!("ffmpeg Lanczos downscale to {dn} failed"));
                    }
                }
            }
            for &k in &r.kbps {
                let es = out.join(format!("{method}_{}x{}_{k}k.h264", r.w, r.h));
                let esn = es.display();
                // One x264 thread: multi-threaded x264 is not bit-reproducible.
                launch(&format!(
                    "filesrc location={dn} ! y4mdec ! x264enc bitrate={k} pass=cbr \
                     speed-preset=medium threads=1 key-int-max=60 ! \
                     video/x-h264,stream-format=byte-stream ! filesink location={esn}"
                ));
                let bytes = std::fs::metadata(&es).map(|m| m.len()).unwrap_or(0);
                let kbps = bytes as f64 * 8.0 / (frames as f64 / fps) / 1000.0;
                let pooled = run(
                    &format!(
                        "vqmeter name=m model-filename=vmaf_v0.6.1,vmaf_v0.6.1neg psnr=true \
                         frame-message=false ! fakesink \
                         filesrc location={src} ! y4mdec ! m.ref_sink \
                         filesrc location={esn} ! h264parse ! avdec_h264 ! videoconvert ! \
                         videoscale method=catrom ! video/x-raw,format=I420,width={sw},height={sh} ! \
                         m.dist_sink"
                    ),
                    "vqmeter-pooled",
                );
                let p = pooled
                    .first()
                    .unwrap_or_else(|| die("vqmeter posted no vqmeter-pooled message"));
                let scores = METRICS
                    .iter()
                    .map(|(m, _)| {
                        p.get::<gst::Structure>(*m)
                            .ok()
                            .and_then(|s| s.get::<f64>("mean").ok())
                            .unwrap_or_else(|| die(format!("no pooled {m} in {p}")))
                    })
                    .collect::<Vec<_>>();
                eprintln!(
                    "  {method:8} {}x{} {k:5} kbit/s target: {kbps:7.1} kbit/s, VMAF {:.2}",
                    r.w, r.h, scores[0]
                );
                points.push(Point {
                    method,
                    rung: ri,
                    target_kbps: k,
                    kbps,
                    scores,
                });
            }
        }
    }

    println!("\n## dnnscale vs Lanczos on a bitrate ladder ({src}, {sw}x{sh}, {frames} frames)\n");
    println!("Each rung downscaled by the method, x264enc (CBR) at the target rate, upscaled to");
    println!(
        "{sw}x{sh} with videoscale catrom (bicubic), measured by vqmeter against the source.\n"
    );
    println!("| rung | target kbit/s | method | kbit/s | VMAF | VMAF NEG | PSNR-Y |");
    println!("|---|---|---|---|---|---|---|");
    for p in &points {
        let r = &rungs[p.rung];
        println!(
            "| {}x{} | {} | {} | {:.1} | {:.2} | {:.2} | {:.3} |",
            r.w, r.h, p.target_kbps, p.method, p.kbps, p.scores[0], p.scores[1], p.scores[2]
        );
    }
    println!("\nDifferences, dnnscale minus Lanczos (equal-rate: mean over the target rates;");
    println!("BD-rate: negative means dnnscale needs fewer bits for the same quality):\n");
    println!("| rung | metric | equal-rate difference | BD-rate |");
    println!("|---|---|---|---|");
    let curve = |ri: usize, method: &str, mi: usize| -> Vec<RdPoint> {
        points
            .iter()
            .filter(|p| p.rung == ri && p.method == method)
            .map(|p| RdPoint {
                rate: p.kbps,
                quality: p.scores[mi],
            })
            .collect()
    };
    let mut panels = Vec::new();
    for (ri, r) in rungs.iter().enumerate() {
        for (mi, (_, title)) in METRICS.iter().enumerate() {
            let (a, t) = (curve(ri, "lanczos", mi), curve(ri, "dnnscale", mi));
            let diff = t
                .iter()
                .zip(&a)
                .map(|(t, a)| t.quality - a.quality)
                .sum::<f64>()
                / a.len().max(1) as f64;
            let bd = bd_rate(&a, &t)
                .map(|v| format!("{v:+.1} %"))
                .unwrap_or_else(|| "n/a (curves do not overlap)".into());
            println!("| {}x{} | {title} | {diff:+.3} | {bd} |", r.w, r.h);
            panels.push(Panel {
                title: format!("{}x{} {title}", r.w, r.h),
                x_label: "kbit/s".into(),
                y_label: title.to_string(),
                series: METHODS
                    .iter()
                    .map(|m| Series {
                        name: m.to_string(),
                        points: curve(ri, m, mi)
                            .iter()
                            .map(|p| (p.rate, p.quality))
                            .collect(),
                    })
                    .collect(),
                log_x: true,
            });
        }
    }
    let png = out.join("ladder.png");
    match grid_png(
        &png,
        "dnnscale vs Lanczos: x264 RD curves",
        rungs.len(),
        METRICS.len(),
        &panels,
    ) {
        Ok(text) => println!(
            "\nwrote {}{}",
            png.display(),
            if text {
                ""
            } else {
                " (no font found: lines only)"
            }
        ),
        Err(e) => die(e),
    }
}
