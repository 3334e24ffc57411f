//! Helpers shared by the oracle agreement tests: clips held as a decoder hands them over,
//! the largest-difference tracker, and derived clips made with the oracle ffmpeg.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lv_image::plane::Plane;
use lv_testkit::oracle;
use lv_testkit::y4m::{self, Header};

pub const TOL_PSNR: f64 = 1e-4;
pub const TOL_SSIM: f64 = 1e-5;
pub const TOL_VMAF: f64 = 0.01;

/// A clip with its planes in the storage a decoder would hand over (u8 for 8-bit).
pub struct Clip {
    pub h: Header,
    pub frames: Vec<Vec<Store>>,
}

pub enum Store {
    U8(Vec<u8>),
    U16(Vec<u16>),
}

impl Clip {
    pub fn load(p: &Path) -> Clip {
        let (h, frames) = y4m::read_all(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let frames = frames
            .into_iter()
            .map(|f| {
                f.planes
                    .into_iter()
                    .map(|pl| {
                        if h.bpc == 8 {
                            Store::U8(pl.into_iter().map(|v| v as u8).collect())
                        } else {
                            Store::U16(pl)
                        }
                    })
                    .collect()
            })
            .collect();
        Clip { h, frames }
    }

    pub fn plane(&self, f: usize, i: usize) -> Plane<'_> {
        let (w, h) = self.h.plane_dims(i);
        match &self.frames[f][i] {
            Store::U8(d) => Plane::new_u8(d, w, h, w),
            Store::U16(d) => Plane::new_u16(d, w, h, w, self.h.bpc),
        }
    }

    pub fn planes(&self, f: usize) -> Vec<Plane<'_>> {
        (0..self.h.n_planes()).map(|i| self.plane(f, i)).collect()
    }
}

/// Largest |ours - libvmaf| per feature, with where it happened.
#[derive(Default)]
pub struct MaxDiff(pub BTreeMap<String, (f64, String)>);

impl MaxDiff {
    pub fn add(&mut self, feature: &str, ours: f64, theirs: f64, at: &str) {
        let d = (ours - theirs).abs();
        let d = if d.is_nan() { f64::INFINITY } else { d };
        let e = self
            .0
            .entry(feature.to_string())
            .or_insert((0.0, String::new()));
        if d >= e.0 {
            *e = (d, format!("{at} ours={ours:.8} libvmaf={theirs:.6}"));
        }
    }

    pub fn report_and_check(&self, title: &str, tol: impl Fn(&str) -> f64) {
        println!("== {title}: largest per-frame |delta| vs libvmaf");
        for (k, (d, at)) in &self.0 {
            println!("  {k:<16} {d:.3e}  ({at})");
        }
        for (k, (d, at)) in &self.0 {
            assert!(
                *d <= tol(k),
                "{title}: {k} differs by {d:e} > {} at {at}",
                tol(k)
            );
        }
    }
}

pub fn metric(m: &serde_json::Map<String, serde_json::Value>, k: &str) -> f64 {
    m.get(k)
        .and_then(|v| v.as_f64())
        .unwrap_or_else(|| panic!("libvmaf log has no {k}: {m:?}"))
}

pub fn tolerance(feature: &str) -> f64 {
    if feature.starts_with("psnr") {
        TOL_PSNR
    } else if feature.starts_with("vmaf") {
        TOL_VMAF
    } else {
        TOL_SSIM
    }
}

/// Makes (once) a derived clip in the scratch directory with ffmpeg `args` applied to `src`.
pub fn derive(src: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = oracle::scratch_dir().join(name);
    if out.is_file() {
        return out;
    }
    let ff = oracle::ffmpeg().expect("oracle ffmpeg");
    let tmp = oracle::unique_tmp(&out);
    let st = Command::new(ff)
        .args(["-v", "error", "-y", "-i"])
        .arg(src)
        .args(args)
        .args(["-f", "yuv4mpegpipe", "-strict", "-1"])
        .arg(&tmp)
        .status()
        .expect("run ffmpeg");
    assert!(st.success(), "ffmpeg failed making {name}");
    std::fs::rename(&tmp, &out).unwrap();
    out
}

/// The corpus clip converted to `pix_fmt`, as `<stem>_<tag>.y4m` in the scratch directory.
pub fn converted(src: &Path, tag: &str, pix_fmt: &str) -> PathBuf {
    let stem = src.file_stem().unwrap().to_string_lossy();
    derive(src, &format!("{stem}_{tag}.y4m"), &["-pix_fmt", pix_fmt])
}

pub fn dims(p: &Path) -> (usize, usize) {
    let f = std::io::BufReader::new(std::fs::File::open(p).unwrap());
    let r = y4m::Reader::new(f).unwrap();
    (r.header.width, r.header.height)
}

/// `src` against each of the named distortions of it, made in the same size and `pix_fmt`.
pub fn distortions_of(src: &Path, pix_fmt: &str, names: &[&str]) -> Vec<(PathBuf, PathBuf)> {
    let (w, h) = dims(src);
    names
        .iter()
        .map(|n| {
            let d = oracle::distort(src, n, w, h, pix_fmt).expect("distort");
            (src.to_path_buf(), d)
        })
        .collect()
}

pub fn all_distortions() -> Vec<&'static str> {
    oracle::DISTORTIONS.iter().map(|(n, _)| *n).collect()
}

/// The 8-bit agreement set: every natural test clip against every distortion of it, then the
/// corpus's own pristine/distorted pair.
pub fn eight_bit_cases() -> Vec<(PathBuf, PathBuf)> {
    let mut cases = Vec::new();
    for clip in oracle::test_clips() {
        cases.extend(distortions_of(&clip, "yuv420p", &all_distortions()));
    }
    let dir = oracle::corpus_dir().join("test");
    cases.push((
        dir.join("carphone_pristine_176x144_30f.y4m"),
        dir.join("carphone_distorted_176x144_30f.y4m"),
    ));
    cases
}

/// One libvmaf run over a clip pair, with both clips loaded for our side of the comparison.
pub struct OracleRun {
    /// `<reference> vs <distorted>` file names, for reports.
    pub case: String,
    pub frames: Vec<serde_json::Map<String, serde_json::Value>>,
    pub reference: Clip,
    pub distorted: Clip,
}

impl OracleRun {
    pub fn new(reference: &Path, distorted: &Path, models: &str, features: &str) -> OracleRun {
        let frames =
            oracle::libvmaf_frames(reference, distorted, models, features, 1).expect("libvmaf run");
        let (r, d) = (Clip::load(reference), Clip::load(distorted));
        assert_eq!(
            (r.h.width, r.h.height, r.h.bpc),
            (d.h.width, d.h.height, d.h.bpc)
        );
        assert_eq!(frames.len(), r.frames.len());
        assert_eq!(r.frames.len(), d.frames.len());
        OracleRun {
            case: case_name(reference, distorted),
            frames,
            reference: r,
            distorted: d,
        }
    }

    /// Width, height and bit depth of the luma plane.
    pub fn format(&self) -> (usize, usize, u32) {
        (
            self.reference.h.width,
            self.reference.h.height,
            self.reference.h.bpc,
        )
    }

    /// The luma planes of frame `n`, reference first.
    pub fn luma(&self, n: usize) -> (Plane<'_>, Plane<'_>) {
        (self.reference.plane(n, 0), self.distorted.plane(n, 0))
    }
}

pub fn case_name(reference: &Path, distorted: &Path) -> String {
    format!(
        "{} vs {}",
        reference.file_name().unwrap().to_string_lossy(),
        distorted.file_name().unwrap().to_string_lossy()
    )
}

/// `count_leading_zeros_d` of libvmaf's output.c: zeros after the decimal point.
fn leading_zeros(x: f64) -> u32 {
    let x = x.abs();
    let mut frac = x - (x as i32) as f64;
    let mut n = 0;
    while frac < 1.0 && frac != 0.0 {
        frac *= 10.0;
        n += 1;
    }
    n
}

/// A score as libvmaf's JSON log writes it (`%.6f`, or `%.16f` when the fractional part
/// has more than 6 leading zeros) and as the oracle reads it back (serde_json's parser,
/// which can be an ulp off the correctly rounded value).
pub fn as_logged(x: f64) -> f64 {
    let s = if leading_zeros(x) <= 6 {
        format!("{x:.6}")
    } else {
        format!("{x:.16}")
    };
    serde_json::from_str(&s).unwrap()
}

/// A score printed to 6 decimals and parsed back.
pub fn to_6_decimals(x: f64) -> f64 {
    format!("{x:.6}").parse::<f64>().unwrap()
}

/// Per feature, the largest |ours - libvmaf| and where, and on how many frames our value,
/// printed the way the log prints it, differs from the log: bit-exact results show none.
#[derive(Debug)]
pub struct Worst {
    pub name: String,
    pub max: f64,
    pub frame: usize,
    pub case: String,
    pub digit_mismatches: usize,
}

/// The [`Worst`] of each feature seen, in the order first seen.
pub struct Exactness {
    pub worst: Vec<Worst>,
    /// How the log prints a value (and the oracle reads it back).
    printed: fn(f64) -> f64,
}

impl Exactness {
    pub fn new(printed: fn(f64) -> f64) -> Exactness {
        Exactness {
            worst: Vec::new(),
            printed,
        }
    }

    pub fn note(&mut self, name: &str, ours: f64, theirs: f64, frame: usize, case: &str) {
        let d = (ours - theirs).abs();
        let mismatch = usize::from((self.printed)(ours) != theirs);
        match self.worst.iter_mut().find(|x| x.name == name) {
            Some(x) => {
                x.digit_mismatches += mismatch;
                if d > x.max {
                    x.max = d;
                    x.frame = frame;
                    x.case = case.to_string();
                }
            }
            None => self.worst.push(Worst {
                name: name.to_string(),
                max: d,
                frame,
                case: case.to_string(),
                digit_mismatches: mismatch,
            }),
        }
    }

    /// Prints every feature's worst case, then fails on any beyond `tol` or any digit mismatch.
    pub fn report(&self, tol: f64) {
        let width = self.worst.iter().map(|x| x.name.len()).max().unwrap_or(0);
        for x in &self.worst {
            println!(
                "{:<width$} max|Δ| = {:.3e} (frame {}, {}), frames not matching to 6 decimals: {}",
                x.name, x.max, x.frame, x.case, x.digit_mismatches
            );
        }
        // Bit-exact results print exactly as libvmaf prints them.
        let bad: Vec<&Worst> = self
            .worst
            .iter()
            .filter(|x| x.max > tol || x.digit_mismatches > 0)
            .collect();
        assert!(bad.is_empty(), "disagreement with libvmaf: {bad:#?}");
    }
}
