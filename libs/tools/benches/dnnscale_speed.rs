//! Speed of the `dnnscale` element against `videoscale method=lanczos` and ffmpeg's Lanczos
//! `scale`, on the same 1080p natural clip (the first 30 frames of a pan over a photo), for
//! 1080p→540p and 1080p→720p, with 1 and 2 threads. Prints a markdown table of frames per
//! second and ratios.
//!
//! Decode cost is kept out the same way for all three: the GStreamer scalers get frames that
//! were decoded once into memory and are pushed from an `appsrc` (so the timing is the
//! scaler's, plus pushing buffers, measured by a baseline pipeline without scaler); ffmpeg
//! reads the y4m file, so its baseline is the same command without the `scale` filter. The
//! "net" figures divide the frames by (time − baseline time); the "raw" ones by the time.
//! The 30 frames are looped (`LV_BENCH_FRAMES`, default 150 in all) for a measurable
//! duration; each configuration runs `LV_BENCH_REPS` (default 3) times and keeps the fastest.
//! GStreamer timings start at the first buffer reaching the sink, so the element's start-up
//! (model loading, graph optimisation for the size) is not counted; the first frame's own
//! time is the only thing left out.
//!
//! Needs `cargo build --release -p gst-plugin-dnnscale` (target/release/libgstdnnscale.so, or
//! the directory in `DNNSCALE_PLUGIN_DIR`),
//! the model (`DNNSCALE_MODEL`, default models/dnnscale/dnnscale.onnx), the bench clip
//! (scripts/fetch-eval-clips.sh) and the oracle ffmpeg.
//!
//! Kernel paths: dnnscale 1080p→540p (1 and 2 threads, and the issue's own pipeline
//! `filesrc ! y4mdec ! dnnscale ! video/x-raw,width=960,height=540 ! fakesink` on the 60-frame
//! y4m: no property set, so the embedded default model and all cores) once per native kernel
//! path the CPU has (scalar, avx, avx512). The path is
//! chosen once per process from `LV_NATIVE_ISA`, so each runs in a child process of this bench
//! (`LV_BENCH_PATH_FRAMES` frames, default 60). The load average is printed before and after:
//! the machine is shared, and a busy core halves the 2-thread figures.
//!
//! Run: `cargo bench -p lv-tools --bench dnnscale_speed`; `LV_BENCH_GPU=1` runs only issue
//! #17's GPU rows instead (`gpu_rows`: 2160p → 1080p and 1080p → 540p, `backend=cuda` beside
//! `backend=cpu`).

use gst::prelude::*;
use lv_testkit::bench::{env_usize, launch_timed, SharedBytes, Timed};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

const SRC_W: usize = 1920;
const SRC_H: usize = 1080;

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("dnnscale_speed: {msg}");
    std::process::exit(1)
}

/// Runs `appsrc ! <scaler> ! caps ! fakesink` over `total` frames; returns the seconds from the
/// first buffer at the sink to the last, and the number of buffers the sink saw.
fn gst_run(
    frames: &[Arc<Vec<u8>>],
    total: usize,
    scaler: &str,
    out: (usize, usize),
) -> (f64, usize) {
    gst_run_from(frames, total, scaler, (SRC_W, SRC_H), out)
}

/// [`gst_run`] from frames of another size.
fn gst_run_from(
    frames: &[Arc<Vec<u8>>],
    total: usize,
    scaler: &str,
    inp: (usize, usize),
    out: (usize, usize),
) -> (f64, usize) {
    let desc = format!(
        "appsrc name=src format=time is-live=false block=true max-buffers=4 \
         caps=video/x-raw,format=I420,width={},height={},framerate=30/1,pixel-aspect-ratio=1/1 \
         ! {scaler} ! video/x-raw,format=I420,width={},height={} ! fakesink name=sink sync=false",
        inp.0, inp.1, out.0, out.1
    );
    let Timed {
        pipeline,
        src,
        arrivals: stamps,
    } = launch_timed(&desc, scaler, total).unwrap_or_else(|e| fail(e));
    let bus = pipeline.bus().unwrap();
    let pusher = {
        let frames = frames.to_vec();
        let src = src.clone();
        std::thread::spawn(move || {
            let dur = gst::ClockTime::from_nseconds(1_000_000_000 / 30);
            for i in 0..total {
                let mut b = gst::Buffer::from_slice(SharedBytes(frames[i % frames.len()].clone()));
                {
                    let b = b.get_mut().unwrap();
                    b.set_pts(dur * i as u64);
                    b.set_duration(dur);
                }
                let r = src.emit_by_name::<gst::FlowReturn>("push-buffer", &[&b]);
                if r != gst::FlowReturn::Ok {
                    return;
                }
            }
            let _ = src.emit_by_name::<gst::FlowReturn>("end-of-stream", &[]);
        })
    };
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(600),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    let _ = pusher.join();
    pipeline.set_state(gst::State::Null).unwrap();
    match msg {
        Some(m) => {
            if let gst::MessageView::Error(e) = m.view() {
                fail(format!("{scaler}: {} ({:?})", e.error(), e.debug()));
            }
        }
        None => fail(format!("{scaler}: no EOS within 600 s")),
    }
    let s = stamps.lock().unwrap();
    if s.len() != total {
        fail(format!(
            "{scaler}: the sink saw {} of {total} frames",
            s.len()
        ));
    }
    ((s[s.len() - 1] - s[0]).as_secs_f64(), s.len() - 1)
}

fn ffmpeg_run(ff: &Path, clip: &Path, loops: usize, vf: Option<&str>, threads: usize) -> f64 {
    lv_testkit::oracle::time_ffmpeg_null(ff, clip, loops, vf, threads).unwrap_or_else(|e| fail(e))
}

fn best(reps: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..reps).map(|_| f()).fold(f64::INFINITY, f64::min)
}

/// Set in the children that time one kernel path (its value is the path's name).
const CHILD_ENV: &str = "LV_BENCH_PATH_CHILD";

/// `/proc/loadavg`'s three load averages, or a note that it is unreadable.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// The issue's pipeline, `filesrc ! y4mdec ! dnnscale ! 960x540 ! fakesink`, on `clip`, with
/// no property set (the plugin's embedded default model, not `DNNSCALE_MODEL`); the frames per
/// second from the first frame at the sink to the last.
fn issue_pipeline_fps(clip: &Path) -> f64 {
    let desc = format!(
        "filesrc location=\"{}\" ! y4mdec ! dnnscale ! video/x-raw,width=960,height=540 \
         ! fakesink name=sink",
        clip.display()
    );
    let pipeline = gst::parse::launch(&desc)
        .unwrap_or_else(|e| fail(format!("{desc}: {e}")))
        .downcast::<gst::Pipeline>()
        .unwrap();
    let stamps = Arc::new(std::sync::Mutex::new(Vec::new()));
    let st = stamps.clone();
    pipeline
        .by_name("sink")
        .and_then(|s| s.static_pad("sink"))
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            st.lock().unwrap().push(std::time::Instant::now());
            gst::PadProbeReturn::Ok
        });
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = pipeline.bus().unwrap().timed_pop_filtered(
        gst::ClockTime::from_seconds(600),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    pipeline.set_state(gst::State::Null).unwrap();
    match msg {
        Some(m) => {
            if let gst::MessageView::Error(e) = m.view() {
                fail(format!("{desc}: {} ({:?})", e.error(), e.debug()));
            }
        }
        None => fail(format!("{desc}: no EOS within 600 s")),
    }
    let s = stamps.lock().unwrap();
    if s.len() < 2 {
        fail(format!("{desc}: {} frames at the sink", s.len()));
    }
    (s.len() - 1) as f64 / (s[s.len() - 1] - s[0]).as_secs_f64()
}

/// One kernel path's figures, as a child prints them for the parent.
struct PathRow {
    isa: String,
    /// 0: the issue's pipeline (all cores); else appsrc with `threads=` this.
    threads: usize,
    raw_fps: f64,
    net_fps: f64,
}

/// The child's side: the kernel path in `LV_NATIVE_ISA`, timed on 1080p→540p; one `path ...`
/// line per figure on stdout.
fn child(isa: &str, frames: &[Arc<Vec<u8>>], model: &Path, y4m: &Path, reps: usize) {
    let got = lv_infer::NativeIsa::selected();
    if got.name() != isa {
        fail(format!("LV_NATIVE_ISA={isa} ran {got}"));
    }
    let total = env_usize("LV_BENCH_PATH_FRAMES", 60);
    for threads in [1usize, 2] {
        let gb = best(reps, || {
            let (t, n) = gst_run(frames, total, "identity", (SRC_W, SRC_H));
            t / n as f64
        });
        let scaler = format!("dnnscale model=\"{}\" threads={threads}", model.display());
        let per = best(reps, || {
            let (t, n) = gst_run(frames, total, &scaler, (960, 540));
            t / n as f64
        });
        println!(
            "path {isa} {threads} {} {}",
            1.0 / per,
            1.0 / (per - gb).max(1e-9)
        );
    }
    let fps = (0..reps)
        .map(|_| issue_pipeline_fps(y4m))
        .fold(0.0, f64::max);
    println!("path {isa} 0 {fps} {fps}");
}

/// Runs this bench again with `LV_NATIVE_ISA=isa` and reads the child's figures.
fn run_child(isa: lv_infer::NativeIsa) -> Vec<PathRow> {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .env("LV_NATIVE_ISA", isa.name())
        .env(CHILD_ENV, isa.name())
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| fail(format!("cannot run the {isa} child: {e}")));
    if !out.status.success() {
        fail(format!("the {isa} child failed: {}", out.status));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                ["path", name, t, raw, net] => Some(PathRow {
                    isa: name.to_string(),
                    threads: t.parse().ok()?,
                    raw_fps: raw.parse().ok()?,
                    net_fps: net.parse().ok()?,
                }),
                _ => None,
            }
        })
        .collect()
}

struct Row {
    scaler: &'static str,
    out: (usize, usize),
    threads: usize,
    raw_fps: f64,
    net_fps: f64,
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let root = lv_testkit::oracle::repo_root();
    let exe = std::env::current_exe().unwrap();
    // target/release/deps/dnnscale_speed-* → target/release, unless DNNSCALE_PLUGIN_DIR says.
    let profile_dir = std::env::var_os("DNNSCALE_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| exe.parent().and_then(Path::parent).unwrap().to_path_buf());
    let plugin = profile_dir.join("libgstdnnscale.so");
    if !plugin.is_file() {
        fail(format!(
            "{} missing: run `cargo build --release -p gst-plugin-dnnscale` first",
            plugin.display()
        ));
    }
    let model = std::env::var_os("DNNSCALE_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("models/dnnscale/dnnscale.onnx"));
    if !model.is_file() {
        fail(format!(
            "model {} missing (set DNNSCALE_MODEL)",
            model.display()
        ));
    }
    let ff = lv_testkit::oracle::ffmpeg().unwrap_or_else(|e| fail(e));
    let clip_src = lv_testkit::oracle::corpus_dir().join("bench/pan_seeding_1920x1080_60f.y4m");
    let total = env_usize("LV_BENCH_FRAMES", 150);
    let reps = env_usize("LV_BENCH_REPS", 3).max(1);

    // The first 30 frames, in memory (I420, GStreamer's default strides for 1920x1080 are the
    // packed widths) and as a y4m file for ffmpeg.
    let f = std::fs::File::open(&clip_src).unwrap_or_else(|e| {
        fail(format!(
            "{}: {e} (run scripts/fetch-eval-clips.sh)",
            clip_src.display()
        ))
    });
    let mut rd = lv_testkit::y4m::Reader::new(std::io::BufReader::new(f)).unwrap();
    assert_eq!(
        (rd.header.width, rd.header.height, rd.header.bpc),
        (SRC_W, SRC_H, 8)
    );
    let mut frames = Vec::new();
    while frames.len() < 30 {
        let Some(fr) = rd.next_frame().unwrap() else {
            break;
        };
        let bytes: Vec<u8> = fr.planes.iter().flatten().map(|&v| v as u8).collect();
        frames.push(Arc::new(bytes));
    }
    let work = root.join("target/dnnscale-speed");
    std::fs::create_dir_all(&work).unwrap();
    let clip30 = work.join("pan_seeding_1920x1080_30f.y4m");
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&clip30).unwrap());
        writeln!(w, "YUV4MPEG2 W{SRC_W} H{SRC_H} F30:1 Ip A1:1 C420jpeg").unwrap();
        for fr in &frames {
            w.write_all(b"FRAME\n").unwrap();
            w.write_all(fr).unwrap();
        }
    }
    let loops = total.div_ceil(frames.len());
    let ff_frames = loops * frames.len();

    std::env::set_var("GST_PLUGIN_PATH", &profile_dir);
    std::env::set_var("GST_REGISTRY", work.join("gst-registry.bin"));
    gst::init().unwrap();
    if gst::ElementFactory::find("dnnscale").is_none() {
        fail(format!("no dnnscale element in {}", plugin.display()));
    }
    if let Ok(isa) = std::env::var(CHILD_ENV) {
        child(&isa, &frames, &model, &clip_src, reps);
        return;
    }
    if std::env::var_os("LV_BENCH_GPU").is_some_and(|v| v == "1") {
        gpu_rows(&frames, &clip30, &ff, &work, &model, total, reps);
        return;
    }
    let load_before = loadavg();
    let supported: Vec<_> = lv_infer::NativeIsa::ALL
        .into_iter()
        .filter(|i| i.supported())
        .collect();
    println!(
        "load average before (1, 5, 15 min): {load_before}; {} cores; native kernel paths on \
         this CPU: {}; default: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        supported
            .iter()
            .map(|i| i.name())
            .collect::<Vec<_>>()
            .join(", "),
        lv_infer::NativeIsa::selected()
    );
    println!(
        "dnnscale_speed: {} ({} frames looped to {total}; ffmpeg {ff_frames}), best of {reps}, model {}",
        clip_src.display(),
        frames.len(),
        model.display()
    );

    let mut rows = Vec::new();
    let mut baselines = Vec::new();
    for threads in [1usize, 2] {
        // Baselines: the same shapes without the scaler.
        let gb = best(reps, || {
            let (t, n) = gst_run(&frames, total, "identity", (SRC_W, SRC_H));
            t / n as f64
        });
        let fb = best(reps, || ffmpeg_run(&ff, &clip30, loops, None, threads)) / ff_frames as f64;
        baselines.push((threads, gb, fb));
        for out in [(960usize, 540usize), (1280, 720)] {
            let cands: [(&'static str, String); 2] = [
                (
                    "dnnscale",
                    format!("dnnscale model=\"{}\" threads={threads}", model.display()),
                ),
                (
                    "videoscale lanczos",
                    format!("videoscale method=lanczos n-threads={threads}"),
                ),
            ];
            for (name, scaler) in cands {
                let per = best(reps, || {
                    let (t, n) = gst_run(&frames, total, &scaler, out);
                    t / n as f64
                });
                rows.push(Row {
                    scaler: name,
                    out,
                    threads,
                    raw_fps: 1.0 / per,
                    net_fps: 1.0 / (per - gb).max(1e-9),
                });
                println!(
                    "  {name:<20} {}x{} threads {threads}: {:.1} fps",
                    out.0,
                    out.1,
                    1.0 / per
                );
            }
            let vf = format!("scale={}:{}:flags=lanczos", out.0, out.1);
            let per = best(reps, || ffmpeg_run(&ff, &clip30, loops, Some(&vf), threads))
                / ff_frames as f64;
            rows.push(Row {
                scaler: "ffmpeg lanczos",
                out,
                threads,
                raw_fps: 1.0 / per,
                net_fps: 1.0 / (per - fb).max(1e-9),
            });
            println!(
                "  {:<20} {}x{} threads {threads}: {:.1} fps",
                "ffmpeg lanczos",
                out.0,
                out.1,
                1.0 / per
            );
        }
    }

    println!(
        "\n| scaler | 1920x1080 → | threads | fps (net) | fps (raw) | dnnscale ÷ this (net) |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for r in &rows {
        let dnn = rows
            .iter()
            .find(|x| x.scaler == "dnnscale" && x.out == r.out && x.threads == r.threads)
            .unwrap();
        println!(
            "| {} | {}x{} | {} | {:.1} | {:.1} | {:.2} |",
            r.scaler,
            r.out.0,
            r.out.1,
            r.threads,
            r.net_fps,
            r.raw_fps,
            dnn.net_fps / r.net_fps
        );
    }
    println!();
    for (t, gb, fb) in &baselines {
        println!(
            "baseline, {t} thread(s): appsrc ! identity ! fakesink {:.0} fps; ffmpeg y4m read {:.0} fps",
            1.0 / gb,
            1.0 / fb
        );
    }

    let paths: Vec<PathRow> = supported.iter().flat_map(|&i| run_child(i)).collect();
    let path_frames = env_usize("LV_BENCH_PATH_FRAMES", 60);
    println!(
        "\ndnnscale 1920x1080 → 960x540 per native kernel path ({path_frames} frames, best of \
         {reps}; threads 0: `filesrc ! y4mdec ! dnnscale ! fakesink` on {}, all cores)\n",
        clip_src.file_name().unwrap().to_string_lossy()
    );
    println!("| kernels | threads | fps (net) | fps (raw) | ÷ scalar (net) |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for r in &paths {
        let scalar = paths
            .iter()
            .find(|x| x.isa == "scalar" && x.threads == r.threads)
            .map_or(f64::NAN, |x| x.net_fps);
        let threads = match r.threads {
            0 => "0 (issue pipeline)".to_string(),
            t => t.to_string(),
        };
        println!(
            "| {} | {threads} | {:.1} | {:.1} | {:.2} |",
            r.isa,
            r.net_fps,
            r.raw_fps,
            r.net_fps / scalar
        );
    }

    let goal = rows
        .iter()
        .filter(|r| r.scaler == "dnnscale" && r.out == (960, 540))
        .map(|r| r.net_fps)
        .fold(0.0, f64::max);
    let default = lv_infer::NativeIsa::selected();
    let issue = paths
        .iter()
        .find(|r| r.threads == 0 && r.isa == default.name())
        .map_or(f64::NAN, |r| r.net_fps);
    println!(
        "\ngoal: dnnscale 1080p→540p >= 60 fps on this machine: best {goal:.1} fps (appsrc), \
         {issue:.1} fps (issue pipeline), {default} kernels — {}",
        if goal >= 60.0 && issue >= 60.0 {
            "met"
        } else {
            "missed"
        }
    );
    println!("load average after (1, 5, 15 min): {}", loadavg());
}

/// `LV_BENCH_GPU=1` (scripts/gpu-check.sh on a GPU): issue #17's rows instead of the above:
/// dnnscale 2160p → 1080p and 1080p → 540p with `backend=cuda` beside `backend=cpu` (all
/// cores), on the 1080p frames and on them upscaled to 2160p by ffmpeg's Lanczos. The element
/// says which backend it got (`backend-in-use`), printed with each row.
fn gpu_rows(
    frames: &[Arc<Vec<u8>>],
    clip30: &Path,
    ff: &Path,
    work: &Path,
    model: &Path,
    total: usize,
    reps: usize,
) {
    let uhd = work.join("pan_seeding_3840x2160_10f.y4m");
    lv_testkit::oracle::ffmpeg_to(
        &uhd,
        Command::new(ff)
            .arg("-i")
            .arg(clip30)
            .args(["-frames:v", "10", "-vf", "scale=3840:2160:flags=lanczos"])
            .args(["-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe"]),
    )
    .unwrap_or_else(|e| fail(e));
    let (_, uhd_frames) = lv_testkit::y4m::read_all(&uhd).unwrap_or_else(|e| fail(e));
    let uhd_frames: Vec<Arc<Vec<u8>>> = uhd_frames
        .iter()
        .map(|f| Arc::new(f.planes.iter().flatten().map(|&v| v as u8).collect()))
        .collect();
    println!("| dnnscale | backend | in use | fps |");
    println!("| --- | --- | --- | ---: |");
    type Case<'a> = (&'a [Arc<Vec<u8>>], (usize, usize), (usize, usize));
    let cases: [Case; 2] = [
        (&uhd_frames, (3840, 2160), (1920, 1080)),
        (frames, (SRC_W, SRC_H), (960, 540)),
    ];
    for (frames, inp, out) in cases {
        for backend in ["cuda", "cpu"] {
            let scaler = format!(
                "dnnscale name=d backend={backend} threads=0 model={}",
                model.display()
            );
            let fps = best(reps, || {
                let (t, n) = gst_run_from(frames, total, &scaler, inp, out);
                n as f64 / t
            });
            let in_use = backend_in_use(&scaler, inp, out);
            println!(
                "| {}x{} → {}x{} | {backend} | {in_use} | {fps:.1} |",
                inp.0, inp.1, out.0, out.1
            );
        }
    }
}

/// The backend a dnnscale with these properties picks for these sizes (one frame through).
fn backend_in_use(scaler: &str, inp: (usize, usize), out: (usize, usize)) -> String {
    let p = gst::parse::launch(&format!(
        "videotestsrc num-buffers=1 ! video/x-raw,format=I420,width={},height={} ! {scaler} \
         ! video/x-raw,width={},height={} ! fakesink",
        inp.0, inp.1, out.0, out.1
    ))
    .unwrap_or_else(|e| fail(e))
    .downcast::<gst::Pipeline>()
    .unwrap();
    p.set_state(gst::State::Playing).unwrap();
    let _ = p.bus().unwrap().timed_pop_filtered(
        gst::ClockTime::from_seconds(120),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    let v = p.by_name("d").unwrap().property::<String>("backend-in-use");
    p.set_state(gst::State::Null).unwrap();
    v
}
