// SPDX-License-Identifier: MPL-2.0

//! The chunked batch measurement (`scripts/vq-batch.sh`, Dask + the `vqmeter-chunk` worker)
//! against one `vqmeter` pass over the whole pair: the assembled results file must be the
//! single pass's, byte for byte, whatever the chunking; a worker killed mid-run and a corrupt
//! chunk must not lose or duplicate a frame. Each test starts and stops its own local cluster.

use gst::prelude::*;
use lv_testkit::oracle;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn scratch(name: &str) -> PathBuf {
    let d = oracle::scratch_dir().join("vq-batch").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// 60 frames of natural content with a scene cut at frame 30 (Big Buck Bunny, then the
/// bikes clip), as y4m; the distorted copy is x264 at CRF 32 in MP4, so the chunks seek in
/// an encoded input as well as in a raw one.
fn clip_pair() -> (PathBuf, PathBuf) {
    // The tests run side by side: the clip is made once.
    static CLIP: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    CLIP.get_or_init(make_clip_pair).clone()
}

fn make_clip_pair() -> (PathBuf, PathBuf) {
    let dir = oracle::scratch_dir().join("vq-batch");
    std::fs::create_dir_all(&dir).unwrap();
    let r = dir.join("cuts_320x180_60f.y4m");
    let d = dir.join("cuts_320x180_60f_x264crf32.mp4");
    let t = oracle::corpus_dir().join("test");
    oracle::ffmpeg_to(
        &r,
        Command::new(oracle::ffmpeg().unwrap())
            .arg("-i")
            .arg(t.join("bbb_320x180_30f.y4m"))
            .arg("-i")
            .arg(t.join("bikes_320x136_30f.y4m"))
            .args([
                "-filter_complex",
                "[1:v]scale=320:180:flags=lanczos,setsar=1[b];[0:v]setsar=1[a];[a][b]concat=n=2:v=1,format=yuv420p",
                "-f",
                "yuv4mpegpipe",
            ]),
    )
    .unwrap();
    oracle::ffmpeg_to(
        &d,
        Command::new(oracle::ffmpeg().unwrap())
            .arg("-i")
            .arg(&r)
            .args([
                "-c:v", "libx264", "-crf", "32", "-g", "12", "-bf", "2", "-f", "mp4",
            ]),
    )
    .unwrap();
    (r, d)
}

/// One `vqmeter` pass over the whole pair, written by the element itself.
fn single_pass(r: &Path, d: &Path, out: &Path, format: &str, props: &str) {
    gst::init().unwrap();
    let _ = gstvqmeter::plugin_register_static();
    let launch = format!(
        "vqmeter name=m {props} results-filename={} results-format={format} ! fakesink \
         filesrc location={} ! decodebin ! m.ref_sink filesrc location={} ! decodebin ! m.dist_sink",
        out.display(),
        r.display(),
        d.display()
    );
    let p = gst::parse::launch(&launch).unwrap();
    p.set_state(gst::State::Playing).unwrap();
    let msg = p
        .bus()
        .unwrap()
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("single pass ends");
    assert_eq!(msg.type_(), gst::MessageType::Eos, "{msg:?}");
    p.set_state(gst::State::Null).unwrap();
}

/// `vq-batch.sh measure R D --chunk-frames C --workers W --out OUT` and `extra`.
fn vq_batch(
    r: &Path,
    d: &Path,
    chunk: usize,
    workers: usize,
    out: &Path,
    extra: &[&str],
) -> Output {
    Command::new("bash")
        .arg(root().join("scripts/vq-batch.sh"))
        .arg("measure")
        .args([r, d])
        .args(["--chunk-frames", &chunk.to_string()])
        .args(["--workers", &workers.to_string()])
        .arg("--out")
        .arg(out)
        .args(extra)
        .env("VQ_BATCH_WORKER", env!("CARGO_BIN_EXE_vqmeter-chunk"))
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "rc {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn report(out: &Path) -> serde_json::Value {
    let p = format!("{}.report.json", out.display());
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

#[test]
fn chunked_results_equal_one_pass_at_several_chunk_sizes() {
    let (r, d) = clip_pair();
    let dir = scratch("sizes");
    let props = "psnr=true ssim=true";
    let one = dir.join("single.json");
    single_pass(&r, &d, &one, "json", props);
    let want = std::fs::read_to_string(&one).unwrap();
    let v: serde_json::Value = serde_json::from_str(&want).unwrap();
    assert_eq!(v["frames"].as_array().unwrap().len(), 60);
    // 7: chunks cut across the cut; 10: a chunk starts on the cut (frame 30); 59: the last
    // chunk is one frame; 60: one chunk.
    for (size, workers) in [(7, 2), (10, 2), (59, 2), (60, 1)] {
        let out = dir.join(format!("chunked-{size}.json"));
        let o = vq_batch(&r, &d, size, workers, &out, &["--psnr", "--ssim"]);
        assert!(o.status.success(), "{size}: {}", text(&o));
        let got = std::fs::read_to_string(&out).unwrap();
        assert!(
            got == want,
            "chunks of {size}: results differ from the single pass\n{}",
            text(&o)
        );
        let rep = report(&out);
        let chunks = rep["chunks"].as_array().unwrap();
        assert_eq!(chunks.len(), 60usize.div_ceil(size));
        assert!(chunks.iter().all(|c| c["status"] == "measured"));
        assert!(chunks[0]["pooled"]["vmaf"]["mean"].is_number());
    }
    // CSV too, and a rerun of the same command reuses every chunk it measured.
    let one_csv = dir.join("single.csv");
    single_pass(&r, &d, &one_csv, "csv", props);
    let out = dir.join("chunked-10.csv");
    let o = vq_batch(
        &r,
        &d,
        10,
        2,
        &dir.join("chunked-10.json"),
        &["--psnr", "--ssim"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let rep = report(&dir.join("chunked-10.json"));
    assert!(rep["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["status"] == "reused"));
    let o = vq_batch(
        &r,
        &d,
        13,
        2,
        &out,
        &["--format", "csv", "--psnr", "--ssim"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(&one_csv).unwrap()
    );
}

/// Pids of the processes whose command line holds `needle`, with their parents.
fn processes_with(needle: &str) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if !String::from_utf8_lossy(&cmd).contains(needle) {
            continue;
        }
        let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        if let Some(pp) = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse().ok())
        {
            out.push((pid, pp));
        }
    }
    out
}

#[test]
fn a_worker_killed_mid_run_is_retried_and_every_frame_comes_once() {
    let (r0, d0) = clip_pair();
    let dir = scratch("kill");
    // Copies of its own, so that only this test's worker processes are found and killed
    // while the other tests run theirs.
    let (r, d) = (dir.join("kill-ref.y4m"), dir.join("kill-dist.mp4"));
    std::fs::copy(&r0, &r).unwrap();
    std::fs::copy(&d0, &d).unwrap();
    let one = dir.join("single.json");
    single_pass(&r, &d, &one, "json", "");
    let out = dir.join("chunked.json");
    // Kills the Dask worker process that runs the first chunk measured, while it runs.
    let stop = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(std::sync::Mutex::new(None));
    let killer = {
        let (stop, killed) = (stop.clone(), killed.clone());
        let needle = format!("measure\0--ref\0{}", r.display());
        std::thread::spawn(move || {
            let t = Instant::now();
            while !stop.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(120) {
                if let Some(&(pid, parent)) = processes_with(&needle).iter().find(|(_, pp)| *pp > 1)
                {
                    // SAFETY: a plain kill(2) of a process this test's command started.
                    unsafe { libc_kill(parent as i32, 9) };
                    *killed.lock().unwrap() = Some((pid, parent));
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let o = vq_batch(&r, &d, 6, 2, &out, &[]);
    stop.store(true, Ordering::SeqCst);
    killer.join().unwrap();
    assert!(killed.lock().unwrap().is_some(), "no worker was killed");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(&one).unwrap(),
        "{}",
        text(&o)
    );
    let rep = report(&out);
    let retried: Vec<_> = rep["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["retries"].as_u64().unwrap() > 0)
        .collect();
    // The dead worker's running chunk, and any the scheduler had queued on it.
    assert!(!retried.is_empty(), "{rep:#}");
    for c in &retried {
        assert_eq!(c["retries"], 1, "{rep:#}");
        assert!(
            c["errors"][0].as_str().unwrap().contains("KilledWorker"),
            "{rep:#}"
        );
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn a_corrupt_chunk_is_a_clear_error_and_the_other_chunks_are_kept() {
    let (r, _) = clip_pair();
    let dir = scratch("corrupt");
    // The distorted copy of the reference with frame 25's header destroyed.
    let bytes = std::fs::read(&r).unwrap();
    let header = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let frame = (bytes.len() - header) / 60;
    let mut bad = bytes.clone();
    let at = header + 25 * frame;
    assert_eq!(&bad[at..at + 5], b"FRAME");
    bad[at..at + 5].copy_from_slice(b"XXXXX");
    let d = dir.join("corrupt.y4m");
    std::fs::write(&d, &bad).unwrap();
    let out = dir.join("chunked.json");
    let o = vq_batch(&r, &d, 10, 2, &out, &["--retries", "1", "--psnr"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("chunk 20..30 failed"), "{}", text(&o));
    assert!(!out.exists(), "no results file for an incomplete title");
    let rep = report(&out);
    for c in rep["chunks"].as_array().unwrap() {
        let from = c["from"].as_u64().unwrap();
        let want = if from == 20 { "failed" } else { "measured" };
        assert_eq!(c["status"], want, "{rep:#}");
    }
    let kept = std::fs::read_dir(format!("{}.chunks", out.display()))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert_eq!(kept, 5, "the other chunks' results are kept");
}

/// Kills a child process when dropped, so a failing test leaves no cluster behind.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn joins_an_existing_cluster_by_address() {
    let (r, d) = clip_pair();
    let dir = scratch("address");
    let one = dir.join("single.json");
    single_pass(&r, &d, &one, "json", "");
    // Sets the environment up if no other test has yet.
    let st = Command::new("bash")
        .arg(root().join("scripts/vq-batch.sh"))
        .arg("setup")
        .status()
        .unwrap();
    assert!(st.success());
    let dask = root().join(".cache/vq-batch/venv/bin/dask");
    let port = 20000 + (std::process::id() % 20000) as u16;
    let addr = format!("tcp://127.0.0.1:{port}");
    let _scheduler = Child(
        Command::new(&dask)
            .args([
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .args(["--dashboard-address", ":0"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _worker = Child(
        Command::new(&dask)
            .args(["worker", &addr, "--nworkers", "2", "--nthreads", "1"])
            .args(["--dashboard-address", ":0"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let out = dir.join("chunked.json");
    let o = vq_batch(&r, &d, 16, 1, &out, &["--address", &addr]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("joined the cluster at {addr}")),
        "{}",
        text(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(&one).unwrap()
    );
}

/// `assemble` refuses chunks that cannot tile a title: overlapping, empty, reversed, with a
/// score that is no number; each with a one-line reason and no results file.
#[test]
fn assemble_refuses_chunks_that_do_not_tile_the_title() {
    let (r, _) = clip_pair();
    let dir = scratch("assemble");
    let worker = env!("CARGO_BIN_EXE_vqmeter-chunk");
    let probe = Command::new(worker).arg("probe").arg(&r).output().unwrap();
    let info: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("probe's JSON");
    let (fps_n, fps_d) = (info["fps_n"].to_string(), info["fps_d"].to_string());
    let measure = |from: u64, to: u64| {
        let out = dir.join(format!("{from}-{to}.json"));
        let o = Command::new(worker)
            .args(["measure", "--ref", r.to_str().unwrap(), "--dist"])
            .arg(&r)
            .args([
                "--fps-n", &fps_n, "--fps-d", &fps_d, "--psnr", "--model", "",
            ])
            .args(["--from", &from.to_string(), "--to", &to.to_string()])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        out
    };
    let (a, b) = (measure(0, 5), measure(3, 8));
    let edit = |name: &str, f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
        f(&mut v);
        let p = dir.join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p
    };
    let text_score = edit("text.json", &|v| v["frames"][1]["values"][0] = "abc".into());
    let reversed = edit("reversed.json", &|v| {
        v["from"] = 5.into();
        v["to"] = 3.into();
        v["frames"] = serde_json::json!([]);
    });
    let huge = edit("huge.json", &|v| v["to"] = (1u64 << 63).into());
    let out = dir.join("title.json");
    for (chunks, says) in [
        (vec![&a, &b], "overlaps the chunk before it"),
        (vec![&a, &a], "overlaps the chunk before it"),
        (vec![&text_score], "is not a score"),
        (vec![&a, &reversed], "holds no frame"),
        (vec![&huge], "does not hold each of its frames once"),
    ] {
        let o = Command::new(worker)
            .arg("assemble")
            .arg("--out")
            .arg(&out)
            .args(chunks)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{says}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(says),
            "{}",
            text(&o)
        );
        assert!(!out.exists());
    }
}
