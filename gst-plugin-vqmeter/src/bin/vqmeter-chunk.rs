// SPDX-License-Identifier: MPL-2.0

//! The worker of the chunked batch measurement (`scripts/vq-batch.sh`): each subcommand is
//! one step a task of the distributed engine runs, with `vqmeter` in a GStreamer pipeline.
//!
//!   vqmeter-chunk probe FILE
//!       decodes FILE and prints {"frames", "fps_n", "fps_d", "first_pts", "width", "height"}
//!   vqmeter-chunk measure --ref R --dist D --from A --to B --fps-n N --fps-d D
//!                         --first-pts NS [--model M] [--psnr] [--ssim] [--ms-ssim]
//!                         [--threads T] [--out FILE]
//!       measures frames [A, B) of the pair and prints their full-precision scores as JSON
//!   vqmeter-chunk assemble --out FILE [--format json|csv|xml] CHUNK.json...
//!       writes the title's results in libvmaf's layout, exactly as one `vqmeter` pass over
//!       the whole pair would, and prints each chunk's pooled scores
//!
//! Why frames A-1 and B are measured too: VMAF's motion of frame i compares the reference
//! frames i-1 and i, and the models use `motion2[i] = min(motion[i], motion[i+1])`. A chunk
//! that starts its measurement one frame early and ends it one frame late gives every frame
//! of [A, B) the very neighbours it has in a single pass, so the assembled scores are the
//! single pass's, bit for bit.

use gst::prelude::*;
use gstvqmeter::FrameMessage;
use lv_metrics::report::{Collector, ResultsFormat, ResultsWriter};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

type Res<T> = Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let res = match args.first().map(String::as_str) {
        Some("probe") if args.len() == 2 => probe(&args[1]).map(|v| println!("{v}")),
        Some("measure") => Opts::parse(&args[1..]).and_then(|o| measure(&o)),
        Some("assemble") => assemble(&args[1..]),
        _ => Err("usage: vqmeter-chunk probe FILE | measure --ref R --dist D --from A --to B \
                  --fps-n N --fps-d D --first-pts NS [--model M] [--psnr] [--ssim] [--ms-ssim] \
                  [--threads T] [--out FILE] | assemble --out FILE [--format json|csv|xml] CHUNK.json..."
            .into()),
    };
    if let Err(e) = res {
        eprintln!("vqmeter-chunk: {e}");
        std::process::exit(1);
    }
}

fn init() -> Res<()> {
    gst::init().map_err(|e| e.to_string())?;
    gstvqmeter::plugin_register_static().map_err(|e| e.to_string())
}

/// A whole-file decode, bounded in time, that stops at the first error.
fn run_to_eos(pipeline: &gst::Element, what: &str, limit: Duration) -> Res<()> {
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| format!("{what}: cannot start the pipeline"))?;
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let deadline = Instant::now() + limit;
    let res = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Err(format!("{what}: no end of stream within {limit:?}"));
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(left.as_millis() as u64))
        else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(..) => break Ok(()),
            gst::MessageView::Error(e) => {
                break Err(format!(
                    "{what}: {} ({})",
                    e.error(),
                    e.debug().unwrap_or_default()
                ))
            }
            _ => {}
        }
    };
    let _ = pipeline.set_state(gst::State::Null);
    res
}

/// Counts the frames of FILE by decoding it, and reads the rate and the first timestamp the
/// chunks' frame numbers are counted from.
fn probe(path: &str) -> Res<Value> {
    init()?;
    check_file(path)?;
    let launch = format!(
        "filesrc location=\"{}\" ! decodebin ! fakesink name=sink sync=false",
        path.replace('"', "\\\"")
    );
    let pipeline = gst::parse::launch(&launch).map_err(|e| e.to_string())?;
    let sink = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("sink"))
        .expect("sink");
    let seen = std::sync::Arc::new(std::sync::Mutex::new((0u64, None::<u64>, None)));
    let s = seen.clone();
    sink.static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            if let Some(b) = info.buffer() {
                let mut s = s.lock().unwrap();
                s.0 += 1;
                if let Some(p) = b.pts() {
                    s.1 = Some(s.1.map_or(p.nseconds(), |q: u64| q.min(p.nseconds())));
                }
                if s.2.is_none() {
                    s.2 = pad
                        .current_caps()
                        .and_then(|c| gst_video::VideoInfo::from_caps(&c).ok());
                }
            }
            gst::PadProbeReturn::Ok
        });
    run_to_eos(&pipeline, path, Duration::from_secs(24 * 3600))?;
    let (frames, first, info) = seen.lock().unwrap().clone();
    let info = info.ok_or_else(|| format!("{path}: no video frame decoded"))?;
    let fps = info.fps();
    if fps.numer() <= 0 || fps.denom() <= 0 {
        return Err(format!(
            "{path}: variable frame rate ({fps}): chunks are cut by frame number and need a fixed rate"
        ));
    }
    Ok(json!({
        "frames": frames,
        "fps_n": fps.numer(),
        "fps_d": fps.denom(),
        "first_pts": first.unwrap_or(0),
        "width": info.width(),
        "height": info.height(),
        "format": info.format().to_str().as_str(),
    }))
}

fn check_file(path: &str) -> Res<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(format!("{path}: not a file")),
        Err(e) => Err(format!("{path}: {e}")),
    }
}

struct Opts {
    reference: String,
    dist: String,
    from: u64,
    to: u64,
    fps_n: u64,
    fps_d: u64,
    first_pts: u64,
    model: String,
    psnr: bool,
    ssim: bool,
    ms_ssim: bool,
    threads: u32,
    out: Option<String>,
}

impl Opts {
    fn parse(args: &[String]) -> Res<Opts> {
        let mut o = Opts {
            reference: String::new(),
            dist: String::new(),
            from: 0,
            to: 0,
            fps_n: 0,
            fps_d: 0,
            first_pts: 0,
            model: "vmaf_v0.6.1".into(),
            psnr: false,
            ssim: false,
            ms_ssim: false,
            threads: 1,
            out: None,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{a} needs a value"))
            };
            let num = |v: String| v.parse::<u64>().map_err(|e| format!("{a} {v}: {e}"));
            match a.as_str() {
                "--ref" => o.reference = val()?,
                "--dist" => o.dist = val()?,
                "--from" => o.from = num(val()?)?,
                "--to" => o.to = num(val()?)?,
                "--fps-n" => o.fps_n = num(val()?)?,
                "--fps-d" => o.fps_d = num(val()?)?,
                "--first-pts" => o.first_pts = num(val()?)?,
                "--model" => o.model = val()?,
                "--threads" => o.threads = num(val()?)? as u32,
                "--out" => o.out = Some(val()?),
                "--psnr" => o.psnr = true,
                "--ssim" => o.ssim = true,
                "--ms-ssim" => o.ms_ssim = true,
                other => return Err(format!("unknown option {other}")),
            }
        }
        if o.reference.is_empty() || o.dist.is_empty() {
            return Err("--ref and --dist are needed".into());
        }
        if o.to <= o.from || o.fps_n == 0 || o.fps_d == 0 {
            return Err("--from A --to B with A < B, --fps-n and --fps-d are needed".into());
        }
        Ok(o)
    }

    /// Start time of frame `i`.
    fn time(&self, i: u64) -> u64 {
        self.first_pts
            + (i as u128 * self.fps_d as u128 * 1_000_000_000 / self.fps_n as u128) as u64
    }

    /// The frame a timestamp belongs to (nearest).
    fn index(&self, pts: u64) -> i64 {
        let rel = pts as i128 - self.first_pts as i128;
        let num = rel * self.fps_n as i128;
        let den = self.fps_d as i128 * 1_000_000_000;
        (num + den / 2).div_euclid(den) as i64
    }
}

/// Measures [from, to) in one pipeline: a flushing, accurate seek to frame `from - 1` (or
/// none when that is the first frame), then frames until `to - 1`'s scores are final.
fn measure(o: &Opts) -> Res<()> {
    init()?;
    check_file(&o.reference)?;
    check_file(&o.dist)?;
    let q = |p: &str| p.replace('"', "\\\"");
    let launch = format!(
        "vqmeter name=m model-filename=\"{}\" psnr={} ssim={} ms-ssim={} threads={} threading=frames \
         ! fakesink sync=false \
         filesrc location=\"{}\" ! decodebin ! m.ref_sink \
         filesrc location=\"{}\" ! decodebin ! m.dist_sink",
        q(&o.model),
        o.psnr,
        o.ssim,
        o.ms_ssim,
        o.threads,
        q(&o.reference),
        q(&o.dist)
    );
    let pipeline = gst::parse::launch(&launch).map_err(|e| e.to_string())?;
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let what = format!("frames {}..{}", o.from, o.to);
    // The frame the measurement starts on; from 1, frame 0 is that frame anyway.
    let start = o.from.saturating_sub(1);
    let seek_to = (start > 0).then(|| {
        // Half a frame early: timestamps rounded either way still land on `start`; a frame
        // before it that comes along too only adds a frame nobody keeps.
        let half = (o.fps_d as u128 * 500_000_000 / o.fps_n as u128) as u64;
        o.time(start).saturating_sub(half)
    });
    let deadline = Instant::now() + Duration::from_secs(24 * 3600);
    let mut frames: std::collections::BTreeMap<u64, FrameMessage> = Default::default();
    let mut first_measured: Option<i64> = None;
    let mut names: Option<Vec<String>> = None;
    if let Some(t) = seek_to {
        pipeline
            .set_state(gst::State::Paused)
            .map_err(|_| format!("{what}: cannot start the pipeline"))?;
        wait_async_done(&pipeline, &what)?;
        pipeline
            .seek(
                1.0,
                gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
                gst::SeekType::Set,
                gst::ClockTime::from_nseconds(t),
                gst::SeekType::None,
                gst::ClockTime::NONE,
            )
            .map_err(|_| format!("{what}: the inputs cannot seek to {t} ns"))?;
    }
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| format!("{what}: cannot start the pipeline"))?;
    let res: Res<()> = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(left.as_millis() as u64))
        else {
            break Err(format!("{what}: timed out"));
        };
        match msg.view() {
            gst::MessageView::Eos(..) => break Ok(()),
            gst::MessageView::Error(e) => {
                break Err(format!(
                    "{what}: {} ({})",
                    e.error(),
                    e.debug().unwrap_or_default()
                ))
            }
            gst::MessageView::Element(e) => {
                let Some(s) = e.structure() else { continue };
                if s.name() != "vqmeter-frame" {
                    continue;
                }
                let f = FrameMessage::try_from(s)?;
                let (Some(pts), Some(rt)) = (f.pts, f.running_time) else {
                    break Err(format!("{what}: frame {} has no timestamp", f.index));
                };
                // Frames measured while prerolling, before the seek, run from time 0 with
                // their running time equal to their timestamp; after the seek the running
                // time restarts at the seek position.
                if seek_to.is_some() && pts <= rt {
                    continue;
                }
                let i = o.index(pts.nseconds());
                first_measured.get_or_insert(i);
                if names.is_none() {
                    names = Some(f.scores.iter().map(|(n, _)| n.clone()).collect());
                }
                if i >= o.from as i64 && i < o.to as i64 && frames.insert(i as u64, f).is_some() {
                    break Err(format!("{what}: frame {i} measured twice"));
                }
                if i >= o.to as i64 - 1 {
                    // Its motion already used frame `to`: nothing more is needed.
                    break Ok(());
                }
            }
            _ => {}
        }
    };
    let _ = pipeline.set_state(gst::State::Null);
    res?;
    match first_measured {
        Some(f) if f <= start as i64 => {}
        Some(f) => return Err(format!(
            "{what}: the measurement started at frame {f}, after frame {start} that motion needs \
                 (an input that cannot seek accurately?)"
        )),
        None => {
            return Err(format!(
                "{what}: no frame measured (the inputs end before frame {})",
                o.from
            ))
        }
    }
    let missing: Vec<u64> = (o.from..o.to).filter(|i| !frames.contains_key(i)).collect();
    if !missing.is_empty() {
        return Err(format!(
            "{what}: {} frame(s) not measured, first {} (the inputs end early or have gaps)",
            missing.len(),
            missing[0]
        ));
    }
    let names = names.unwrap_or_default();
    let frames: Vec<Value> = frames
        .into_iter()
        .map(|(i, f)| {
            let values: Vec<f64> = names
                .iter()
                .map(|n| {
                    f.scores
                        .iter()
                        .find(|(m, _)| m == n)
                        .map_or(f64::NAN, |s| s.1)
                })
                .collect();
            json!({ "index": i, "values": values })
        })
        .collect();
    let out = json!({ "from": o.from, "to": o.to, "names": names, "frames": frames });
    match &o.out {
        Some(p) => std::fs::write(p, out.to_string()).map_err(|e| format!("{p}: {e}")),
        None => {
            println!("{out}");
            Ok(())
        }
    }
}

fn wait_async_done(pipeline: &gst::Element, what: &str) -> Res<()> {
    let bus = pipeline.bus().expect("a pipeline has a bus");
    loop {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_seconds(600)) else {
            return Err(format!("{what}: the pipeline did not preroll"));
        };
        match msg.view() {
            gst::MessageView::AsyncDone(..) => return Ok(()),
            gst::MessageView::Error(e) => {
                return Err(format!(
                    "{what}: {} ({})",
                    e.error(),
                    e.debug().unwrap_or_default()
                ))
            }
            gst::MessageView::Eos(..) => {
                return Err(format!("{what}: the inputs ended while prerolling"))
            }
            _ => {}
        }
    }
}

/// One chunk's result as `measure` wrote it.
struct Chunk {
    from: u64,
    to: u64,
    names: Vec<String>,
    frames: Vec<(u64, Vec<f64>)>,
}

fn read_chunk(path: &str) -> Res<Chunk> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let u = |k: &str| v[k].as_u64().ok_or_else(|| format!("{path}: no {k}"));
    let names = v["names"]
        .as_array()
        .ok_or_else(|| format!("{path}: no names"))?
        .iter()
        .map(|n| {
            n.as_str()
                .map(String::from)
                .ok_or_else(|| format!("{path}: bad name"))
        })
        .collect::<Res<Vec<_>>>()?;
    let frames = v["frames"]
        .as_array()
        .ok_or_else(|| format!("{path}: no frames"))?
        .iter()
        .map(|f| {
            let i = f["index"]
                .as_u64()
                .ok_or_else(|| format!("{path}: bad frame"))?;
            let vals = f["values"]
                .as_array()
                .ok_or_else(|| format!("{path}: bad frame {i}"))?
                .iter()
                .map(|x| x.as_f64().unwrap_or(f64::NAN))
                .collect::<Vec<_>>();
            if vals.len() != names.len() {
                return Err(format!("{path}: frame {i} has {} values", vals.len()));
            }
            Ok((i, vals))
        })
        .collect::<Res<Vec<_>>>()?;
    Ok(Chunk {
        from: u("from")?,
        to: u("to")?,
        names,
        frames,
    })
}

fn assemble(args: &[String]) -> Res<()> {
    let mut out = None;
    let mut format = ResultsFormat::Json;
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => out = it.next().cloned(),
            "--format" => {
                format = match it.next().map(String::as_str) {
                    Some("json") => ResultsFormat::Json,
                    Some("csv") => ResultsFormat::Csv,
                    Some("xml") => ResultsFormat::Xml,
                    other => return Err(format!("--format {other:?}: json, csv or xml")),
                }
            }
            f => files.push(f.to_string()),
        }
    }
    let out = out.ok_or("--out FILE is needed")?;
    let mut chunks = files
        .iter()
        .map(|f| read_chunk(f))
        .collect::<Res<Vec<_>>>()?;
    chunks.sort_by_key(|c| c.from);
    let names = chunks.first().ok_or("no chunk given")?.names.clone();
    // Every frame once: the chunks must tile the title without gap or overlap.
    let mut next = 0;
    for c in &chunks {
        if c.names != names {
            return Err(format!("chunk {}..{} measured other metrics", c.from, c.to));
        }
        if c.from != next {
            return Err(format!("frames {next}..{} are in no chunk", c.from));
        }
        let idx: Vec<u64> = c.frames.iter().map(|f| f.0).collect();
        if idx != (c.from..c.to).collect::<Vec<_>>() {
            return Err(format!(
                "chunk {}..{} does not hold each of its frames once",
                c.from, c.to
            ));
        }
        next = c.to;
    }
    // Written as the element writes its results file, so one pass and the chunks compare
    // byte for byte.
    let version = concat!("vqmeter ", env!("CARGO_PKG_VERSION"));
    let tmp = format!("{out}.tmp");
    let mut w = ResultsWriter::create(Path::new(&tmp), format, &names, version)
        .map_err(|e| format!("{tmp}: {e}"))?;
    let mut title = Collector::new(&names);
    let mut segments = Vec::new();
    for c in &chunks {
        let mut seg = Collector::new(&names);
        for (i, v) in &c.frames {
            w.frame(*i, v).map_err(|e| format!("{tmp}: {e}"))?;
            title.push(v);
            seg.push(v);
        }
        segments.push(json!({ "from": c.from, "to": c.to, "pooled": pooled_json(&seg) }));
    }
    w.finish(&title.pooled())
        .map_err(|e| format!("{tmp}: {e}"))?;
    std::fs::rename(&tmp, &out).map_err(|e| format!("{out}: {e}"))?;
    println!(
        "{}",
        json!({ "frames": next, "pooled": pooled_json(&title), "segments": segments })
    );
    Ok(())
}

fn pooled_json(c: &Collector) -> Value {
    let m: serde_json::Map<String, Value> = c
        .pooled()
        .into_iter()
        .map(|(n, p)| (n, serde_json::to_value(p).unwrap_or(Value::Null)))
        .collect();
    Value::Object(m)
}
