// SPDX-License-Identifier: MPL-2.0

//! The worker of the chunked batch measurement (`scripts/vq-batch.sh`): each subcommand is
//! one step a task of the distributed engine runs, with `vqmeter` in a GStreamer pipeline.
//!
//!   vqmeter-chunk probe FILE
//!       decodes FILE and prints {"frames", "fps_n", "fps_d", "first_pts", "width", "height"}
//!   vqmeter-chunk measure --ref R --dist D --from A --to B --fps-n N --fps-d D
//!                         --first-pts NS --ref-first-pts NS --title-start K [--model M] [--psnr] [--ssim] [--ms-ssim]
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
use gst_video::prelude::*;
use gstvqmeter::FrameMessage;
use lv_metrics::report::{Collector, ResultsFormat, ResultsWriter};
use serde_json::{json, Value};
use std::path::Path;

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

/// Counts the frames of FILE (a y4m file by its size, anything else by decoding it) and
/// reads the rate and the first timestamp the chunks' frame numbers are counted from.
fn probe(path: &str) -> Res<Value> {
    init()?;
    check_file(path)?;
    let (frames, first, info) = match Y4m::open(path)? {
        Some(y) => (y.frames, 0, y.info.clone()),
        None => {
            let mut d = Decoded::open(path, None, true)?;
            let (mut frames, mut first, mut info) = (0u64, None::<u64>, None);
            while let Some(sample) = d.next()? {
                frames += 1;
                if let Some(t) = stream_time(&sample) {
                    first = Some(first.map_or(t, |q| q.min(t)));
                }
                if info.is_none() {
                    info = sample
                        .caps()
                        .and_then(|c| gst_video::VideoInfo::from_caps(c).ok());
                }
            }
            let info = info.ok_or_else(|| format!("{path}: no video frame decoded"))?;
            (frames, first.unwrap_or(0), info)
        }
    };
    let fps = info.fps();
    if fps.numer() <= 0 || fps.denom() <= 0 {
        return Err(format!(
            "{path}: no fixed frame rate (a still image, or a variable rate: {fps}); chunks are cut by frame number and need one"
        ));
    }
    Ok(json!({
        "frames": frames,
        "fps_n": fps.numer(),
        "fps_d": fps.denom(),
        "first_pts": first,
        "width": info.width(),
        "height": info.height(),
        "format": info.format().to_str().as_str(),
    }))
}

/// A y4m file read frame by frame at computed offsets. GStreamer 1.22's y4mdec misreads
/// after a flushing seek that follows preroll (its parser keeps the bytes it had), so a
/// y4m input is read here and fed to the pipeline through an appsrc.
struct Y4m {
    file: std::fs::File,
    header_len: u64,
    /// Bytes of one frame's samples (its "FRAME\n" line not counted).
    frame_len: u64,
    frames: u64,
    info: gst_video::VideoInfo,
    next: u64,
    /// One frame as stored, reused frame after frame.
    raw: Vec<u8>,
}

impl Y4m {
    /// `None` when the file is not y4m.
    fn open(path: &str) -> Res<Option<Y4m>> {
        use std::io::Read;
        let mut file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
        let mut head = vec![0u8; 4096];
        let n = file.read(&mut head).map_err(|e| format!("{path}: {e}"))?;
        head.truncate(n);
        if !head.starts_with(b"YUV4MPEG2 ") {
            return Ok(None);
        }
        let end = head.iter().position(|&b| b == b'\n').ok_or_else(|| {
            if n < head.capacity() {
                format!("{path}: the y4m header is cut short (the file ends inside it)")
            } else {
                format!("{path}: y4m header longer than 4 kB")
            }
        })?;
        let header = String::from_utf8_lossy(&head[10..end]).to_string();
        let (mut w, mut h, mut fps, mut cs) = (0u32, 0u32, (0i32, 1i32), "420jpeg".to_string());
        for tag in header.split_ascii_whitespace() {
            let (k, v) = tag.split_at(1);
            match k {
                "W" => w = v.parse().map_err(|_| format!("{path}: bad width {v}"))?,
                "H" => h = v.parse().map_err(|_| format!("{path}: bad height {v}"))?,
                "F" => {
                    let (a, b) = v
                        .split_once(':')
                        .ok_or_else(|| format!("{path}: bad rate {v}"))?;
                    fps = (
                        a.parse().map_err(|_| format!("{path}: bad rate {v}"))?,
                        b.parse().map_err(|_| format!("{path}: bad rate {v}"))?,
                    );
                }
                "C" => cs = v.to_string(),
                _ => {}
            }
        }
        let format = match cs.as_str() {
            "420jpeg" | "420paldv" | "420mpeg2" | "420" => gst_video::VideoFormat::I420,
            "422" => gst_video::VideoFormat::Y42b,
            "444" => gst_video::VideoFormat::Y444,
            "mono" => gst_video::VideoFormat::Gray8,
            "420p10" => gst_video::VideoFormat::I42010le,
            "422p10" => gst_video::VideoFormat::I42210le,
            "444p10" => gst_video::VideoFormat::Y44410le,
            other => return Err(format!("{path}: y4m colour space {other} is not supported")),
        };
        if w == 0 || h == 0 || fps.0 <= 0 || fps.1 <= 0 {
            return Err(format!("{path}: y4m header without size or rate"));
        }
        let info = gst_video::VideoInfo::builder(format, w, h)
            .fps(gst::Fraction::new(fps.0, fps.1))
            .build()
            .map_err(|e| format!("{path}: {e}"))?;
        let finfo = info.format_info();
        let bytes = if finfo.depth()[0] > 8 { 2 } else { 1 };
        let frame_len: u64 = (0..finfo.n_components() as u8)
            .map(|c| finfo.scale_width(c, w) as u64 * finfo.scale_height(c, h) as u64 * bytes)
            .sum();
        let header_len = end as u64 + 1;
        let size = file.metadata().map_err(|e| format!("{path}: {e}"))?.len();
        if !(size - header_len).is_multiple_of(frame_len + 6) {
            eprintln!(
                "vqmeter-chunk: {path}: ends inside a frame; the partial frame is not measured"
            );
        }
        Ok(Some(Y4m {
            file,
            header_len,
            frame_len,
            frames: (size - header_len) / (frame_len + 6),
            info,
            next: 0,
            raw: vec![0; frame_len as usize + 6],
        }))
    }

    fn seek(&mut self, frame: u64) {
        self.next = frame;
    }

    /// The next frame as a buffer laid out as `info` says, timestamped from frame 0 at 0.
    fn next(&mut self) -> Res<Option<gst::Buffer>> {
        use std::io::{Read, Seek, SeekFrom};
        if self.next >= self.frames {
            return Ok(None);
        }
        let i = self.next;
        self.next += 1;
        let raw = &mut self.raw;
        self.file
            .seek(SeekFrom::Start(self.header_len + i * (self.frame_len + 6)))
            .and_then(|_| self.file.read_exact(raw))
            .map_err(|e| format!("frame {i}: {e}"))?;
        if !raw.starts_with(b"FRAME") || raw[5] != b'\n' {
            return Err(format!(
                "frame {i}: no FRAME marker where it belongs (a corrupt or variable-size y4m file)"
            ));
        }
        let mut buf = gst::Buffer::with_size(self.info.size()).map_err(|e| e.to_string())?;
        {
            let b = buf.get_mut().unwrap();
            let fps = self.info.fps();
            let t = |k: u64| {
                gst::ClockTime::from_nseconds(frame_time(k, fps.numer() as u64, fps.denom() as u64))
            };
            b.set_pts(t(i));
            b.set_duration(t(i + 1) - t(i));
            let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(b, &self.info)
                .map_err(|e| e.to_string())?;
            let finfo = self.info.format_info();
            let bytes = if finfo.depth()[0] > 8 { 2 } else { 1 };
            let mut at = 6usize;
            for c in 0..finfo.n_planes() {
                let pw = finfo.scale_width(c as u8, self.info.width()) as usize * bytes;
                let ph = finfo.scale_height(c as u8, self.info.height()) as usize;
                let stride = frame.plane_stride()[c as usize] as usize;
                let dst = frame.plane_data_mut(c).map_err(|e| e.to_string())?;
                for y in 0..ph {
                    dst[y * stride..y * stride + pw].copy_from_slice(&raw[at..at + pw]);
                    at += pw;
                }
            }
        }
        Ok(Some(buf))
    }
}

/// When a decoded frame is shown in the input's own timeline (its timestamp less the
/// container's start, e.g. an MP4 edit list's B-frame delay): what a single pass pairs by.
fn stream_time(sample: &gst::Sample) -> Option<u64> {
    let pts = sample.buffer()?.pts()?;
    let seg = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    seg.to_stream_time(pts).map(|t| t.nseconds())
}

/// Any other input, decoded by decodebin into an appsink; from a start time, by an
/// accurate flushing seek.
struct Decoded {
    pipeline: gst::Element,
    sink: gst::Element,
    what: String,
}

impl Decoded {
    /// `compressed`: stop at the demuxed stream (one buffer a frame, nothing decoded), to
    /// count frames cheaply.
    fn open(path: &str, start: Option<u64>, compressed: bool) -> Res<Decoded> {
        let launch = format!(
            "filesrc location=\"{}\" ! decodebin name=dec {} ! appsink name=sink sync=false max-buffers=4",
            path.replace('"', "\\\""),
            if compressed {
                "caps=\"video/x-raw;video/x-h264;video/x-h265;video/x-vp8;video/x-vp9;video/x-av1\""
            } else {
                ""
            }
        );
        let pipeline = gst::parse::launch(&launch).map_err(|e| e.to_string())?;
        // One worker is one core (Dask runs one task a worker): a decoder's own threads
        // would borrow the other workers' cores.
        if let Some(dec) = pipeline
            .downcast_ref::<gst::Bin>()
            .and_then(|b| b.by_name("dec"))
        {
            dec.downcast_ref::<gst::Bin>()
                .unwrap()
                .connect_deep_element_added(|_, _, e| {
                    if e.has_property("max-threads") {
                        e.set_property_from_str("max-threads", "1");
                    }
                });
        }
        let sink = pipeline
            .downcast_ref::<gst::Bin>()
            .and_then(|b| b.by_name("sink"))
            .expect("sink");
        let what = path.to_string();
        if let Some(t) = start {
            pipeline
                .set_state(gst::State::Paused)
                .map_err(|_| format!("{what}: cannot start decoding"))?;
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
                .map_err(|_| format!("{what}: cannot seek to {t} ns"))?;
        }
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| format!("{what}: cannot start decoding"))?;
        Ok(Decoded {
            pipeline,
            sink,
            what,
        })
    }

    /// The next decoded frame; `None` at the end.
    fn next(&mut self) -> Res<Option<gst::Sample>> {
        loop {
            let s = self
                .sink
                .emit_by_name::<Option<gst::Sample>>("try-pull-sample", &[&1_000_000_000u64]);
            if s.is_some() {
                return Ok(s);
            }
            let bus = self.pipeline.bus().expect("a pipeline has a bus");
            while let Some(msg) = bus.pop() {
                if let gst::MessageView::Error(e) = msg.view() {
                    return Err(bus_error(&self.what, e));
                }
            }
            if self.sink.property::<bool>("eos") {
                return Ok(None);
            }
        }
    }
}

impl Drop for Decoded {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// An error message from the bus, as this tool reports it.
fn bus_error(what: &str, e: &gst::message::Error) -> String {
    format!("{what}: {} ({})", e.error(), e.debug().unwrap_or_default())
}

/// Start time of frame `i` at `fps_n / fps_d` frames a second, frame 0 at 0.
fn frame_time(i: u64, fps_n: u64, fps_d: u64) -> u64 {
    (i as u128 * fps_d as u128 * 1_000_000_000 / fps_n as u128) as u64
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
    ref_first_pts: u64,
    title_start: u64,
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
            ref_first_pts: 0,
            title_start: 0,
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
                "--ref-first-pts" => o.ref_first_pts = num(val()?)?,
                "--title-start" => o.title_start = num(val()?)?,
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
        // Frame `to`'s time must be a clock time (u64::MAX is GStreamer's "none").
        let span = o.to as u128 * o.fps_d as u128 * 1_000_000_000 / o.fps_n as u128;
        if o.first_pts.max(o.ref_first_pts) as u128 + span >= u64::MAX as u128 {
            return Err(format!(
                "frame {} would be timed past the clock's range: check --to, the rate and the first timestamps",
                o.to
            ));
        }
        Ok(o)
    }

    /// Start time of frame `i`.
    fn time(&self, i: u64) -> u64 {
        self.first_pts + frame_time(i, self.fps_n, self.fps_d)
    }

    /// The frame a timestamp belongs to (nearest).
    fn index(&self, pts: u64) -> i64 {
        let rel = pts as i128 - self.first_pts as i128;
        let num = rel * self.fps_n as i128;
        let den = self.fps_d as i128 * 1_000_000_000;
        (num + den / 2).div_euclid(den) as i64
    }
}

/// An input from a start frame on, to feed an appsrc.
enum Source {
    Y4m(Y4m),
    Decoded(Decoded, Grid),
}

/// The frame times of an input: its first frame's stream time and the frame duration.
struct Grid {
    first: u64,
    dur: f64,
}

impl Source {
    /// The input from the frame shown at time `t` on; `first_pts` is its first frame's time.
    fn open(path: &str, t: u64, first_pts: u64, o: &Opts) -> Res<Source> {
        let dur = o.fps_d as f64 * 1e9 / o.fps_n as f64;
        if let Some(mut y) = Y4m::open(path)? {
            // A y4m file's frames are timed from 0 (as y4mdec times them, and `probe` says).
            if first_pts != 0 {
                return Err(format!(
                    "{path}: a y4m file's first frame is at 0, not at the first timestamp given ({first_pts} ns)"
                ));
            }
            y.seek(((t.saturating_sub(first_pts)) as f64 / dur).round() as u64);
            return Ok(Source::Y4m(y));
        }
        // A quarter frame into the frame at `t`: the frame before ends before it whatever
        // the rounding of timestamps; the decoder clips the first frame's start to it, which
        // `feed` puts back on the frame grid.
        let at = t + (dur / 4.0) as u64;
        Ok(Source::Decoded(
            Decoded::open(path, (t > first_pts).then_some(at), false)?,
            Grid {
                first: first_pts,
                dur,
            },
        ))
    }

    /// Pushes the frames up to the one shown at `end` (stream time) into `appsrc`, then ends
    /// the stream; stops early when the input ends or the pipeline stops. Reading no further
    /// keeps a damaged frame after the chunk out of it.
    fn feed(mut self, appsrc: gst::Element, end: Option<u64>, dur: f64) -> Res<()> {
        if let Source::Y4m(y) = &self {
            appsrc.set_property("caps", y.info.to_caps().map_err(|e| e.to_string())?);
        }
        loop {
            let buffer = match &mut self {
                Source::Y4m(y) => y.next()?,
                Source::Decoded(d, grid) => match d.next()? {
                    Some(sample) => {
                        if let Some(c) = sample.caps_owned() {
                            if appsrc.property::<Option<gst::Caps>>("caps").as_ref() != Some(&c) {
                                appsrc.set_property("caps", c);
                            }
                        }
                        let t = stream_time(&sample);
                        sample.buffer_owned().map(|mut b| {
                            // On the grid of frame times in stream time, as a single pass
                            // pairs the inputs (its running time is the stream time).
                            if let Some(t) = t {
                                let k =
                                    ((t as f64 - grid.first as f64) / grid.dur).round().max(0.0);
                                let b = b.make_mut();
                                b.set_pts(gst::ClockTime::from_nseconds(
                                    grid.first + (k * grid.dur).round() as u64,
                                ));
                            }
                            b
                        })
                    }
                    None => None,
                },
            };
            let Some(buffer) = buffer else {
                let _ = appsrc.emit_by_name::<gst::FlowReturn>("end-of-stream", &[]);
                return Ok(());
            };
            let last = match (end, buffer.pts()) {
                (Some(e), Some(p)) => p.nseconds() as f64 + dur / 2.0 >= e as f64,
                _ => false,
            };
            let ret = appsrc.emit_by_name::<gst::FlowReturn>("push-buffer", &[&buffer]);
            if ret != gst::FlowReturn::Ok {
                // Stopped: the measurement has what it needs, or failed and says why.
                return Ok(());
            }
            if last {
                let _ = appsrc.emit_by_name::<gst::FlowReturn>("end-of-stream", &[]);
                return Ok(());
            }
        }
    }
}

/// Measures [from, to): each input read from frame `from - 1` on (frame 0 when that is the
/// first), both fed to `vqmeter` through appsrcs with their timestamps, until `to - 1`'s
/// scores are final.
fn measure(o: &Opts) -> Res<()> {
    init()?;
    check_file(&o.reference)?;
    check_file(&o.dist)?;
    let launch = format!(
        "vqmeter name=m model-filename=\"{}\" psnr={} ssim={} ms-ssim={} threads={} threading=frames \
         ! fakesink sync=false \
         appsrc name=r format=time block=true max-buffers=4 ! m.ref_sink \
         appsrc name=d format=time block=true max-buffers=4 ! m.dist_sink",
        o.model.replace('"', "\\\""),
        o.psnr,
        o.ssim,
        o.ms_ssim,
        o.threads,
    );
    let pipeline = gst::parse::launch(&launch).map_err(|e| e.to_string())?;
    let bin = pipeline.downcast_ref::<gst::Bin>().expect("a bin");
    let what = format!("frames {}..{}", o.from, o.to);
    // The frame before the chunk, unless the chunk starts the title's measured frames.
    let start = if o.from > o.title_start {
        o.from - 1
    } else {
        o.from
    };
    // Both inputs from the time of that distorted frame: vqmeter pairs frames by time, and so
    // does a single pass, even where the inputs' first timestamps differ.
    let t = o.time(start);
    let sources = [
        (
            Source::open(&o.reference, t, o.ref_first_pts, o)?,
            bin.by_name("r").unwrap(),
        ),
        (
            Source::open(&o.dist, t, o.first_pts, o)?,
            bin.by_name("d").unwrap(),
        ),
    ];
    if pipeline.set_state(gst::State::Playing).is_err() {
        // The element that refused to start says why on the bus (e.g. a missing model).
        let why = pipeline
            .bus()
            .and_then(|b| b.pop_filtered(&[gst::MessageType::Error]))
            .and_then(|m| match m.view() {
                gst::MessageView::Error(e) => Some(bus_error(&what, e)),
                _ => None,
            });
        let _ = pipeline.set_state(gst::State::Null);
        return Err(why.unwrap_or_else(|| format!("{what}: cannot start the pipeline")));
    }
    let feeders: Vec<_> = sources
        .into_iter()
        .map(|(src, appsrc)| {
            // Frame `to` is the last one needed (its motion completes frame `to - 1`).
            let end = o.time(o.to);
            let dur = o.fps_d as f64 * 1e9 / o.fps_n as f64;
            std::thread::spawn(move || {
                let res = src.feed(appsrc.clone(), Some(end), dur);
                if let Err(e) = &res {
                    // The pipeline would wait for the frames that will not come.
                    let _ = appsrc.post_message(
                        gst::message::Error::builder(gst::StreamError::Decode, e)
                            .src(&appsrc)
                            .build(),
                    );
                }
                res
            })
        })
        .collect();
    let bus = pipeline.bus().expect("a pipeline has a bus");
    let mut frames: std::collections::BTreeMap<u64, FrameMessage> = Default::default();
    let mut first_measured: Option<i64> = None;
    let mut names: Option<Vec<String>> = None;
    let mut res: Res<()> = loop {
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_seconds(3600)) else {
            break Err(format!("{what}: no progress for an hour"));
        };
        match msg.view() {
            gst::MessageView::Eos(..) => break Ok(()),
            gst::MessageView::Error(e) => break Err(bus_error(&what, e)),
            gst::MessageView::Element(e) => {
                let Some(s) = e.structure() else { continue };
                if s.name() != "vqmeter-frame" {
                    continue;
                }
                let f = FrameMessage::try_from(s)?;
                let Some(pts) = f.pts else {
                    break Err(format!("{what}: frame {} has no timestamp", f.index));
                };
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
    for f in feeders {
        match f.join() {
            Ok(Err(e)) if res.is_ok() || frames.len() < (o.to - o.from) as usize => {
                res = Err(format!("{what}: {e}"))
            }
            Err(_) => res = Err(format!("{what}: an input reader panicked")),
            _ => {}
        }
    }
    res?;
    match first_measured {
        Some(f) if f <= start as i64 => {}
        Some(f) => {
            return Err(format!(
            "{what}: the measurement started at frame {f}, after frame {start} that motion needs \
                 (an input that cannot seek accurately?)"
        ))
        }
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
            gst::MessageView::Error(e) => return Err(bus_error(what, e)),
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
                // `measure` writes a score JSON cannot hold (NaN) as null.
                .map(|x| match x {
                    Value::Null => Ok(f64::NAN),
                    x => x
                        .as_f64()
                        .ok_or_else(|| format!("{path}: frame {i}: {x} is not a score")),
                })
                .collect::<Res<Vec<_>>>()?;
            if vals.len() != names.len() {
                return Err(format!("{path}: frame {i} has {} values", vals.len()));
            }
            Ok((i, vals))
        })
        .collect::<Res<Vec<_>>>()?;
    let (from, to) = (u("from")?, u("to")?);
    if to <= from {
        return Err(format!("{path}: chunk {from}..{to} holds no frame"));
    }
    Ok(Chunk {
        from,
        to,
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
    let first = chunks[0].from;
    let mut next = first;
    for c in &chunks {
        if c.names != names {
            return Err(format!("chunk {}..{} measured other metrics", c.from, c.to));
        }
        if c.from < next {
            return Err(format!(
                "chunk {}..{} overlaps the chunk before it (frames {}..{next})",
                c.from, c.to, c.from
            ));
        }
        if c.from > next {
            return Err(format!("frames {next}..{} are in no chunk", c.from));
        }
        if !c.frames.iter().map(|f| f.0).eq(c.from..c.to) {
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
        json!({ "frames": next - first, "pooled": pooled_json(&title), "segments": segments })
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
