//! Speed of `lv_image::resample` against ffmpeg's `scale` filter on the same 1080p natural clip,
//! in one run: 1080p -> 720p and -> 540p, luma and both chroma planes, Lanczos (and bicubic).
//!
//!   scripts/fetch-test-deps.sh --bench && cargo bench -p lvcore --bench resample
//!
//! Ours runs on frames already in memory. ffmpeg's end-to-end figure includes reading the y4m
//! file, so it is also shown net of a `-vf null` run over the same frames (`net`). Each
//! figure is the median of interleaved repeats, and CPU-time figures are shown beside the
//! wall-clock ones: on a busy machine the CPU-time ratio is the fairer comparison.
//! ffmpeg's `scale` is single-threaded by default (its `threads` option is 1); ours is shown
//! with one band and with one band per core.

use lv_image::plane::Plane;
use lv_image::resample::{Kernel, Resampler, ResamplerConfig};
use lv_testkit::oracle;
use std::process::Command;
use std::time::Instant;

const FRAMES: usize = 30;
const REPEATS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Wall-clock and CPU seconds (user + system, all threads, from `-benchmark`) for ffmpeg to
/// run `vf` over the first `FRAMES` frames of `clip`.
fn ffmpeg_secs(clip: &std::path::Path, vf: &str) -> (f64, f64) {
    let ff = oracle::ffmpeg().expect("oracle ffmpeg");
    let t = Instant::now();
    let out = Command::new(ff)
        .args([
            "-hide_banner",
            "-nostats",
            "-loglevel",
            "info",
            "-benchmark",
        ])
        .args(["-filter_threads", "1", "-i"])
        .arg(clip)
        .args([
            "-frames:v",
            &FRAMES.to_string(),
            "-vf",
            vf,
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    let wall = t.elapsed().as_secs_f64();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    let field = |line: &str, key: &str| -> f64 {
        let v = line.split(key).nth(1).expect("bench field");
        v.split('s').next().unwrap().parse().unwrap()
    };
    let line = text
        .lines()
        .find(|l| l.contains("bench: utime="))
        .expect("ffmpeg -benchmark line");
    (wall, field(line, "utime=") + field(line, "stime="))
}

/// CPU time of the calling thread (Linux `schedstat`), or `None` elsewhere.
fn thread_cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(s.split_whitespace().next()?.parse::<f64>().ok()? * 1e-9)
}

struct Target {
    w: usize,
    luma: Resampler,
    chroma: Resampler,
    out: [Vec<u8>; 3],
}

impl Target {
    fn new(w: usize, h: usize, kernel: Kernel, threads: usize) -> Target {
        let mk = |iw, ih, ow, oh| {
            let mut c = ResamplerConfig::new(iw, ih, ow, oh, kernel);
            c.threads = threads;
            Resampler::with_config(c).unwrap()
        };
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        Target {
            w,
            luma: mk(1920, 1080, w, h),
            chroma: mk(960, 540, cw, ch),
            out: [vec![0; w * h], vec![0; cw * ch], vec![0; cw * ch]],
        }
    }

    fn run(&mut self, frames: &[[Vec<u8>; 3]]) -> f64 {
        let t = Instant::now();
        let cw = self.w.div_ceil(2);
        for f in frames {
            self.luma.process_u8(
                &Plane::new_u8(&f[0], 1920, 1080, 1920),
                &mut self.out[0],
                self.w,
            );
            for (src, dst) in f[1..].iter().zip(&mut self.out[1..]) {
                self.chroma
                    .process_u8(&Plane::new_u8(src, 960, 540, 960), dst, cw);
            }
        }
        t.elapsed().as_secs_f64()
    }
}

fn main() {
    let clip = oracle::corpus_dir().join("bench/bbb_1920x1080_60f.y4m");
    assert!(
        clip.is_file(),
        "run scripts/fetch-test-deps.sh --bench first"
    );
    let f = std::fs::File::open(&clip).unwrap();
    let mut r = lv_testkit::y4m::Reader::new(std::io::BufReader::new(f)).unwrap();
    assert_eq!((r.header.width, r.header.height), (1920, 1080));
    let mut frames: Vec<[Vec<u8>; 3]> = Vec::new();
    while frames.len() < FRAMES {
        let Some(fr) = r.next_frame().unwrap() else {
            break;
        };
        let [y, u, v]: [Vec<u16>; 3] = fr.planes.try_into().unwrap();
        let to8 = |p: Vec<u16>| p.into_iter().map(|s| s as u8).collect::<Vec<u8>>();
        frames.push([to8(y), to8(u), to8(v)]);
    }
    let n = frames.len();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "clip {} (1920x1080 4:2:0, {n} frames), {cores} cores, median of {REPEATS}",
        clip.display()
    );
    let base: Vec<(f64, f64)> = (0..REPEATS).map(|_| ffmpeg_secs(&clip, "null")).collect();
    let (base_wall, base_cpu) = (
        median(base.iter().map(|b| b.0).collect()),
        median(base.iter().map(|b| b.1).collect()),
    );
    println!(
        "ffmpeg -vf null (reading the clip): {:.1} fps wall, {:.3} s CPU",
        n as f64 / base_wall,
        base_cpu
    );
    println!(
        "fps: wall-clock; [cpu]: frames per CPU-second (ours: the thread's own time; ffmpeg: \
         user+system of all its threads, net of the null run)"
    );

    // The f32 path used by training code (no ffmpeg counterpart): luma only.
    {
        let r = Resampler::new(1920, 1080, 960, 540, Kernel::LANCZOS3).unwrap();
        let x: Vec<f32> = frames[0][0].iter().map(|&v| v as f32 / 255.0).collect();
        let mut y = vec![0f32; 960 * 540];
        let mut g = vec![0f32; 1920 * 1080];
        r.process_f32(&x, 1920, &mut y, 960);
        r.process_f32_transpose(&y, 960, &mut g, 1920);
        let (mut tf, mut tt) = (Vec::new(), Vec::new());
        for _ in 0..REPEATS {
            let t = Instant::now();
            for _ in 0..10 {
                r.process_f32(&x, 1920, &mut y, 960);
            }
            tf.push(t.elapsed().as_secs_f64() / 10.0);
            let t = Instant::now();
            for _ in 0..10 {
                r.process_f32_transpose(&y, 960, &mut g, 1920);
            }
            tt.push(t.elapsed().as_secs_f64() / 10.0);
        }
        println!(
            "f32 luma 1920x1080 -> 960x540 lanczos, 1 thread: forward {:.1} ms, transpose {:.1} ms",
            1e3 * median(tf),
            1e3 * median(tt)
        );
    }

    for (kname, kernel) in [
        ("lanczos", Kernel::LANCZOS3),
        ("bicubic", Kernel::BICUBIC_SWS),
    ] {
        for (w, h) in [(1280, 720), (960, 540)] {
            let mut one = Target::new(w, h, kernel, 1);
            let mut many = Target::new(w, h, kernel, cores);
            let vf = kernel.ffmpeg_scale(w, h);
            // Warm up (first use allocates the intermediate buffers).
            one.run(&frames[..1]);
            many.run(&frames[..1]);
            let (mut t1, mut c1, mut tn, mut tf, mut cf) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..REPEATS {
                let c0 = thread_cpu_secs();
                t1.push(one.run(&frames));
                if let (Some(a), Some(b)) = (c0, thread_cpu_secs()) {
                    c1.push(b - a);
                }
                tn.push(many.run(&frames));
                let (wall, cpu) = ffmpeg_secs(&clip, &vf);
                tf.push(wall);
                cf.push(cpu);
            }
            let fps = |t: f64| n as f64 / t;
            let (t1, tn, tf, cf) = (median(t1), median(tn), median(tf), median(cf));
            let c1 = if c1.is_empty() { f64::NAN } else { median(c1) };
            let net_wall = if tf > base_wall {
                fps(tf - base_wall)
            } else {
                f64::NAN
            };
            let net_cpu = if cf > base_cpu {
                fps(cf - base_cpu)
            } else {
                f64::NAN
            };
            println!(
                "1920x1080 -> {w}x{h} {kname:<8} ours: 1 thread {:>6.1} fps [{:>6.1} cpu], \
                 {cores} threads {:>6.1} fps | ffmpeg: {:>6.1} fps end-to-end, net {:>6.1} fps \
                 [{:>6.1} cpu] | ours/ffmpeg 1 thread: {:.2}x wall, {:.2}x cpu",
                fps(t1),
                fps(c1),
                fps(tn),
                fps(tf),
                net_wall,
                net_cpu,
                fps(t1) / net_wall,
                fps(c1) / net_cpu
            );
        }
    }
}
