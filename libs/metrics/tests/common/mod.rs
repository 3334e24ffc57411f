//! Helpers shared by the oracle agreement tests: clips held as a decoder hands them over,
//! the largest-difference tracker, and derived clips made with the oracle ffmpeg.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lv_testkit::oracle;
use lv_image::plane::Plane;
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
