//! The independent reference: the static ffmpeg (with libvmaf 3.x) from the PyPI wheel
//! `imageio-ffmpeg==0.8.1`, installed by `scripts/fetch-test-deps.sh`. Tests, benches and
//! evaluation tools call it through here so there is one place that knows its command lines.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Repository root (the workspace directory), found from this crate's manifest.
pub fn repo_root() -> PathBuf {
    // libs/testkit -> libs -> the root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// The oracle ffmpeg: `$LV_FFMPEG`, else `.cache/ffmpeg/ffmpeg` in the repository.
pub fn ffmpeg() -> Result<PathBuf, String> {
    let p = std::env::var_os("LV_FFMPEG")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache/ffmpeg/ffmpeg"));
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "oracle ffmpeg not found at {} (run scripts/fetch-test-deps.sh or set LV_FFMPEG)",
            p.display()
        ))
    }
}

/// The natural-content corpus: `$LV_CORPUS`, else `.cache/corpus` in the repository.
pub fn corpus_dir() -> PathBuf {
    std::env::var_os("LV_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache/corpus"))
}

/// A scratch directory for derived files (distorted clips, oracle logs), kept across runs.
pub fn scratch_dir() -> PathBuf {
    let d = repo_root().join("target/oracle-scratch");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs a command with stdin closed (ffmpeg would otherwise read it for key presses), returning
/// its stderr and stdout on failure: the tools' messages are the diagnosis.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

/// Makes `out` unless it exists, by `cmd` (an ffmpeg command line up to its output, with the
/// output format given by `-f`: the file is written under a temporary name, then renamed, so
/// a run that stops half way leaves no file behind to be taken for a whole one).
pub fn ffmpeg_to(out: &Path, cmd: &mut Command) -> Result<PathBuf, String> {
    if !out.is_file() {
        let tmp = unique_tmp(out);
        run(cmd.args(["-v", "error", "-y"]).arg(&tmp))?;
        std::fs::rename(&tmp, out).map_err(|e| e.to_string())?;
    }
    Ok(out.to_path_buf())
}

/// The distortions the agreement tests use, as ffmpeg filter/encoder arguments.
pub const DISTORTIONS: &[(&str, &str)] = &[
    ("x264crf23", "x264:23"),
    ("x264crf35", "x264:35"),
    ("x264crf45", "x264:45"),
    (
        "downup",
        "scale=iw/2:-2:flags=bilinear,scale=SRC_W:SRC_H:flags=bicubic",
    ),
    ("blur", "gblur=sigma=1.5"),
    ("noise", "noise=alls=12:allf=t+u"),
];

/// Makes (or reuses) a distorted copy of `src` as I420/other y4m with the same size and format.
pub fn distort(
    src: &Path,
    name: &str,
    width: usize,
    height: usize,
    pix_fmt: &str,
) -> Result<PathBuf, String> {
    let spec = DISTORTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| format!("unknown distortion {name}"))?
        .1;
    let stem = src.file_stem().unwrap().to_string_lossy();
    let out = scratch_dir().join(format!("{stem}__{name}.y4m"));
    if out.is_file() {
        return Ok(out);
    }
    let ff = ffmpeg()?;
    let tmp = out.with_extension("tmp.y4m");
    if let Some(crf) = spec.strip_prefix("x264:") {
        let mp4 = out.with_extension("mp4");
        run(Command::new(&ff)
            .args(["-v", "error", "-y", "-i"])
            .arg(src)
            .args([
                "-c:v", "libx264", "-preset", "medium", "-crf", crf, "-threads", "2",
            ])
            .arg(&mp4))?;
        run(Command::new(&ff)
            .args(["-v", "error", "-y", "-i"])
            .arg(&mp4)
            .args(["-pix_fmt", pix_fmt, "-f", "yuv4mpegpipe", "-strict", "-1"])
            .arg(&tmp))?;
    } else {
        let vf = spec
            .replace("SRC_W", &width.to_string())
            .replace("SRC_H", &height.to_string());
        run(Command::new(&ff)
            .args(["-v", "error", "-y", "-i"])
            .arg(src)
            .args([
                "-vf",
                &vf,
                "-pix_fmt",
                pix_fmt,
                "-f",
                "yuv4mpegpipe",
                "-strict",
                "-1",
            ])
            .arg(&tmp))?;
    }
    std::fs::rename(&tmp, &out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// A temporary sibling of `out`, unique per process *and* per call: the tests that make the same
/// derived clip run on parallel threads of one process, so the pid alone collides.
pub fn unique_tmp(out: &Path) -> PathBuf {
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}-{n}.tmp", std::process::id()));
    out.with_file_name(name)
}

/// Runs libvmaf through the oracle ffmpeg and returns each frame's `metrics` object.
///
/// `models` is a `|`-separated list of libvmaf model specs, e.g. `version=vmaf_v0.6.1:name=vmaf`
/// (the `:` are escaped here); `features` a `|`-separated feature list, e.g. `name=psnr|name=float_ssim`.
pub fn libvmaf_frames(
    reference: &Path,
    distorted: &Path,
    models: &str,
    features: &str,
    threads: usize,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, String> {
    let ff = ffmpeg()?;
    let log = scratch_dir().join(format!(
        "libvmaf-{}-{}.json",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut filter = format!(
        "[0:v][1:v]libvmaf=log_fmt=json:log_path={}:n_threads={threads}",
        log.display()
    );
    if !models.is_empty() {
        filter.push_str(&format!(":model='{}'", models.replace(':', "\\:")));
    }
    if !features.is_empty() {
        filter.push_str(&format!(":feature='{}'", features.replace(':', "\\:")));
    }
    run(Command::new(&ff)
        .args(["-v", "error", "-i"])
        .arg(distorted)
        .arg("-i")
        .arg(reference)
        .args(["-lavfi", &filter, "-f", "null", "-"]))?;
    let text = std::fs::read_to_string(&log).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&log);
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(v["frames"]
        .as_array()
        .ok_or("libvmaf log has no frames")?
        .iter()
        .map(|f| f["metrics"].as_object().cloned().unwrap_or_default())
        .collect())
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Natural test clips of the corpus's `test` part (made by `scripts/fetch-test-deps.sh`).
pub fn test_clips() -> Vec<PathBuf> {
    [
        "bbb_320x180_30f.y4m",
        "bikes_320x136_30f.y4m",
        "carphone_pristine_176x144_30f.y4m",
    ]
    .iter()
    .map(|n| corpus_dir().join("test").join(n))
    .collect()
}

/// Wall seconds the oracle ffmpeg takes to read `input` `loops` times, run the filter graph `vf`
/// (none: the read alone, the benches' baseline) with `threads` threads, and discard the frames.
/// The speed benches run their peer through this, so every peer is timed the same way.
pub fn time_ffmpeg_null(
    ff: &Path,
    input: &Path,
    loops: usize,
    vf: Option<&str>,
    threads: usize,
) -> Result<f64, String> {
    let mut cmd = Command::new(ff);
    cmd.args(["-v", "error", "-nostdin", "-stream_loop"])
        .arg(loops.saturating_sub(1).to_string())
        .arg("-i")
        .arg(input)
        .args([
            "-threads",
            &threads.to_string(),
            "-filter_threads",
            &threads.to_string(),
        ]);
    if let Some(vf) = vf {
        cmd.args(["-vf", vf]);
    }
    cmd.args(["-f", "null", "-"])
        .stdout(std::process::Stdio::null());
    let t = std::time::Instant::now();
    let out = cmd.output().map_err(|e| format!("ffmpeg: {e}"))?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!("ffmpeg: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(secs)
}
