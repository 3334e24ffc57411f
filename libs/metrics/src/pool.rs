//! Pooling per-frame scores into one number per sequence.
//!
//! `mean`, `harmonic_mean`, `min` and `max` are computed as libvmaf's
//! `vmaf_feature_score_pooled` does (the harmonic mean is libvmaf's shifted one,
//! `n / sum(1 / (x + 1)) - 1`, which stays finite for zero scores).
//!
//! The "lows" are not in libvmaf. `low_1pct` / `low_5pct` are the **mean of the worst 1% /
//! 5% of frames**, where "worst" means lowest score and the count is `ceil(n * p)` frames (so
//! at least one: for fewer than 100 frames `low_1pct` equals `min`). A mean of the tail is
//! used rather than a percentile because it is stable for short clips and still reacts to
//! every bad frame in the tail. For metrics where lower is better (none of PSNR, SSIM,
//! MS-SSIM, VMAF) these would be the best frames instead.

use serde::Serialize;

/// Pooled statistics of one metric over a sequence.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Pooled {
    /// Number of frames pooled.
    pub frames: usize,
    pub mean: f64,
    /// libvmaf's harmonic mean: `n / sum(1 / (x + 1)) - 1`.
    pub harmonic_mean: f64,
    pub min: f64,
    pub max: f64,
    /// Mean of the lowest `ceil(n / 100)` scores.
    pub low_1pct: f64,
    /// Mean of the lowest `ceil(n / 20)` scores.
    pub low_5pct: f64,
}

impl Pooled {
    /// Pools `scores`; `None` for an empty slice. NaN scores make the statistics NaN (sorted
    /// last, so the lows skip them unless all frames are NaN).
    pub fn from_scores(scores: &[f64]) -> Option<Self> {
        let n = scores.len();
        if n == 0 {
            return None;
        }
        let (mut sum, mut i_sum) = (0.0f64, 0.0f64);
        let (mut min, mut max) = (scores[0], scores[0]);
        for &s in scores {
            sum += s;
            i_sum += 1.0 / (s + 1.0);
            if s < min {
                min = s;
            }
            if s > max {
                max = s;
            }
        }
        let mut sorted = scores.to_vec();
        sorted.sort_by(f64::total_cmp);
        // total_cmp puts -NaN first; keep those with the other NaNs at the end.
        sorted.sort_by_key(|v| v.is_nan());
        Some(Pooled {
            frames: n,
            mean: sum / n as f64,
            harmonic_mean: n as f64 / i_sum - 1.0,
            min,
            max,
            low_1pct: tail_mean(&sorted, 0.01),
            low_5pct: tail_mean(&sorted, 0.05),
        })
    }
}

/// Mean of the first `ceil(len * fraction)` (at least one) values of an ascending slice.
fn tail_mean(sorted: &[f64], fraction: f64) -> f64 {
    let k = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len());
    sorted[..k].iter().sum::<f64>() / k as f64
}

/// The `p`-th percentile (0..=100) with linear interpolation between ranks, as libvmaf uses
/// for its bootstrap confidence intervals; `None` for an empty slice.
pub fn percentile(scores: &[f64], p: f64) -> Option<f64> {
    if scores.is_empty() {
        return None;
    }
    let mut s = scores.to_vec();
    s.sort_by(f64::total_cmp);
    let pos = (p.clamp(0.0, 100.0) * (s.len() - 1) as f64) / 100.0;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(if lo == hi {
        s[lo]
    } else {
        s[lo] * (hi as f64 - pos) + s[hi] * (pos - lo as f64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_statistics() {
        assert!(Pooled::from_scores(&[]).is_none());
        let p = Pooled::from_scores(&[1.0, 3.0]).unwrap();
        assert_eq!(p.mean, 2.0);
        assert_eq!(p.min, 1.0);
        assert_eq!(p.max, 3.0);
        // 2 / (1/2 + 1/4) - 1
        assert!((p.harmonic_mean - (2.0 / 0.75 - 1.0)).abs() < 1e-12);
        assert_eq!(p.low_1pct, 1.0);
        let z = Pooled::from_scores(&[0.0, 0.0]).unwrap();
        assert_eq!(z.harmonic_mean, 0.0);
    }

    #[test]
    fn lows_are_tail_means() {
        let scores: Vec<f64> = (0..200).rev().map(|i| i as f64).collect();
        let p = Pooled::from_scores(&scores).unwrap();
        assert_eq!(p.low_1pct, 0.5); // mean of 0, 1
        assert_eq!(p.low_5pct, 4.5); // mean of 0..=9
        let p = Pooled::from_scores(&[5.0, 9.0, 7.0]).unwrap();
        assert_eq!(p.low_5pct, 5.0);
    }

    #[test]
    fn percentiles() {
        let s = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile(&s, 0.0), Some(1.0));
        assert_eq!(percentile(&s, 100.0), Some(4.0));
        assert_eq!(percentile(&s, 50.0), Some(2.5));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn serializes() {
        let p = Pooled::from_scores(&[1.0]).unwrap();
        let j = serde_json::to_value(p).unwrap();
        assert_eq!(j["frames"], 1);
        assert_eq!(j["low_5pct"], 1.0);
    }
}
