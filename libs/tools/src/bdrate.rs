//! Bjøntegaard delta rate (BD-rate) and delta quality (BD-PSNR), computed the JCT-VC way:
//! log10(rate) is interpolated as a function of quality with a piecewise cubic Hermite
//! interpolant whose slopes are chosen by Fritsch–Carlson's monotone rule (PCHIP, the same
//! slope formulas as SciPy's `PchipInterpolator`), the interpolant is integrated exactly over
//! the quality interval both curves cover, and the difference of the two averages is turned into
//! a percentage: `(10^(avg_test - avg_anchor) - 1) * 100`. Negative = the test needs less rate
//! for the same quality.
//!
//! PCHIP rather than the original cubic polynomial fit (VCEG-M33) because a polynomial through
//! four or more RD points can overshoot between them; the monotone interpolant cannot, which is
//! why JCT-VC's reporting sheets switched to it.

use std::cmp::Ordering;

/// One rate–distortion point: `rate` in any unit (kbps, bytes), `quality` in the metric's unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RdPoint {
    pub rate: f64,
    pub quality: f64,
}

/// A monotone piecewise cubic Hermite interpolant through `(x[i], y[i])`, `x` strictly increasing.
#[derive(Clone, Debug)]
pub struct Pchip {
    x: Vec<f64>,
    y: Vec<f64>,
    d: Vec<f64>,
}

impl Pchip {
    /// `None` when there are fewer than two points or `x` is not strictly increasing.
    pub fn new(x: &[f64], y: &[f64]) -> Option<Pchip> {
        let n = x.len();
        if n < 2
            || y.len() != n
            || x.windows(2)
                .any(|w| w[1].partial_cmp(&w[0]) != Some(Ordering::Greater))
        {
            return None;
        }
        let h: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
        let m: Vec<f64> = (0..n - 1).map(|i| (y[i + 1] - y[i]) / h[i]).collect();
        let mut d = vec![0.0; n];
        if n == 2 {
            // Two points: the straight line (no curvature information).
            d[0] = m[0];
            d[1] = m[0];
        } else {
            for k in 1..n - 1 {
                // Interior slopes: zero at a local extremum (keeps the interpolant monotone
                // wherever the data are), else the weighted harmonic mean of the two secants.
                if m[k - 1] == 0.0 || m[k] == 0.0 || (m[k - 1] > 0.0) != (m[k] > 0.0) {
                    d[k] = 0.0;
                } else {
                    let w1 = 2.0 * h[k] + h[k - 1];
                    let w2 = h[k] + 2.0 * h[k - 1];
                    d[k] = (w1 + w2) / (w1 / m[k - 1] + w2 / m[k]);
                }
            }
            d[0] = edge_slope(h[0], h[1], m[0], m[1]);
            d[n - 1] = edge_slope(h[n - 2], h[n - 3], m[n - 2], m[n - 3]);
        }
        Some(Pchip {
            x: x.to_vec(),
            y: y.to_vec(),
            d,
        })
    }

    pub fn x_range(&self) -> (f64, f64) {
        (self.x[0], *self.x.last().unwrap())
    }

    /// The interpolant's value at `t` (inside the data range; the end cubics extend it outside).
    pub fn eval(&self, t: f64) -> f64 {
        let i = self.segment(t);
        let (x0, h) = (self.x[i], self.x[i + 1] - self.x[i]);
        let s = (t - x0) / h;
        let (y0, y1, d0, d1) = (self.y[i], self.y[i + 1], self.d[i] * h, self.d[i + 1] * h);
        let h00 = (1.0 + 2.0 * s) * (1.0 - s) * (1.0 - s);
        let h10 = s * (1.0 - s) * (1.0 - s);
        let h01 = s * s * (3.0 - 2.0 * s);
        let h11 = s * s * (s - 1.0);
        h00 * y0 + h10 * d0 + h01 * y1 + h11 * d1
    }

    /// Exact integral of the interpolant over `[a, b]` (a <= b, inside the data range).
    pub fn integrate(&self, a: f64, b: f64) -> f64 {
        let mut total = 0.0;
        for i in 0..self.x.len() - 1 {
            let (lo, hi) = (self.x[i].max(a), self.x[i + 1].min(b));
            if hi > lo {
                total += self.segment_integral(i, lo, hi);
            }
        }
        total
    }

    fn segment(&self, t: f64) -> usize {
        let n = self.x.len();
        match self.x[1..n - 1].iter().position(|&xi| t < xi) {
            Some(p) => p,
            None => n - 2,
        }
    }

    /// Integral over `[lo, hi]` within segment `i`: the antiderivative of the Hermite basis in
    /// the local coordinate s, evaluated at both ends.
    fn segment_integral(&self, i: usize, lo: f64, hi: f64) -> f64 {
        let (x0, h) = (self.x[i], self.x[i + 1] - self.x[i]);
        let (y0, y1, d0, d1) = (self.y[i], self.y[i + 1], self.d[i] * h, self.d[i + 1] * h);
        // ∫ h00 = s - s^3 + s^4/2, ∫ h10 = s^2/2 - 2 s^3/3 + s^4/4,
        // ∫ h01 = s^3 - s^4/2,     ∫ h11 = s^4/4 - s^3/3.
        let prim = |s: f64| {
            let (s2, s3, s4) = (s * s, s * s * s, s * s * s * s);
            y0 * (s - s3 + s4 / 2.0)
                + d0 * (s2 / 2.0 - 2.0 * s3 / 3.0 + s4 / 4.0)
                + y1 * (s3 - s4 / 2.0)
                + d1 * (s4 / 4.0 - s3 / 3.0)
        };
        h * (prim((hi - x0) / h) - prim((lo - x0) / h))
    }
}

/// SciPy's three-point end slope, limited so the end segment stays shape-preserving.
fn edge_slope(h0: f64, h1: f64, m0: f64, m1: f64) -> f64 {
    let d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
    if sign(d) != sign(m0) {
        0.0
    } else if sign(m0) != sign(m1) && d.abs() > 3.0 * m0.abs() {
        3.0 * m0
    } else {
        d
    }
}

/// -1, 0 or 1 (unlike `f64::signum`, zero has its own sign class, as in NumPy).
fn sign(v: f64) -> i8 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

/// Sorts by the abscissa and drops repeated abscissae (a PCHIP needs a strictly increasing
/// abscissa; two encodes with identical quality carry no extra shape information, the lower
/// ordinate is kept, i.e. the cheaper encode for a rate curve).
fn curve(points: &[(f64, f64)]) -> Option<Pchip> {
    let mut p: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    p.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    p.dedup_by(|b, a| a.0 == b.0);
    let (x, y): (Vec<f64>, Vec<f64>) = p.into_iter().unzip();
    Pchip::new(&x, &y)
}

/// Average difference `test - anchor` of two interpolated functions over their common abscissa
/// interval; `None` when the intervals do not overlap (the curves are not comparable).
fn avg_diff(anchor: &[(f64, f64)], test: &[(f64, f64)]) -> Option<f64> {
    let (a, t) = (curve(anchor)?, curve(test)?);
    let (a0, a1) = a.x_range();
    let (t0, t1) = t.x_range();
    let (lo, hi) = (a0.max(t0), a1.min(t1));
    if hi <= lo {
        return None;
    }
    Some((t.integrate(lo, hi) - a.integrate(lo, hi)) / (hi - lo))
}

/// A curve as (x, y) points.
type Curve = Vec<(f64, f64)>;

/// Both curves as the (x, y) points `axes` makes of each point, or `None` where a rate is
/// not positive (the axes take its log; a NaN rate counts as not positive).
fn curves(
    anchor: &[RdPoint],
    test: &[RdPoint],
    axes: fn(&RdPoint) -> (f64, f64),
) -> Option<(Curve, Curve)> {
    if anchor
        .iter()
        .chain(test)
        .any(|p| p.rate.partial_cmp(&0.0) != Some(Ordering::Greater))
    {
        return None;
    }
    let f = |c: &[RdPoint]| -> Vec<(f64, f64)> { c.iter().map(axes).collect() };
    Some((f(anchor), f(test)))
}

/// BD-rate in percent of `test` against `anchor` (negative: `test` saves rate at equal quality).
/// `None` if a curve has fewer than two distinct qualities, a rate is not positive, or the
/// quality ranges do not overlap.
pub fn bd_rate(anchor: &[RdPoint], test: &[RdPoint]) -> Option<f64> {
    let (a, t) = curves(anchor, test, |p| (p.quality, p.rate.log10()))?;
    avg_diff(&a, &t).map(|d| (10f64.powf(d) - 1.0) * 100.0)
}

/// BD-quality (BD-PSNR when the metric is PSNR): the average quality difference `test - anchor`
/// over the common log-rate interval, quality interpolated as a function of log10(rate).
pub fn bd_quality(anchor: &[RdPoint], test: &[RdPoint]) -> Option<f64> {
    let (a, t) = curves(anchor, test, |p| (p.rate.log10(), p.quality))?;
    avg_diff(&a, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(r: &[f64], q: &[f64]) -> Vec<RdPoint> {
        r.iter()
            .zip(q)
            .map(|(&rate, &quality)| RdPoint { rate, quality })
            .collect()
    }

    // RD curves and their reference results from an independent implementation, SciPy 1.17.1:
    //   p = PchipInterpolator(q_sorted, log10(r_sorted)); lo/hi = the common quality interval
    //   d = (p_test.integrate(lo, hi) - p_anchor.integrate(lo, hi)) / (hi - lo)
    //   bd_rate = (10**d - 1) * 100; BD-quality: the same with the axes swapped.
    // run once on these numbers; the constants below are its printout.
    const ANCHOR_R: [f64; 4] = [9487.76, 4593.60, 2486.44, 1358.24];
    const ANCHOR_Q: [f64; 4] = [40.037, 38.615, 36.845, 34.851];
    const TEST_R: [f64; 4] = [9787.80, 4469.40, 2451.52, 1287.50];
    const TEST_Q: [f64; 4] = [40.268, 38.777, 36.980, 34.796];

    const B_R: [f64; 5] = [310.0, 520.0, 880.0, 1650.0, 3100.0];
    const B_Q: [f64; 5] = [52.1, 63.4, 74.9, 84.2, 91.0];
    const C_R: [f64; 5] = [295.0, 470.0, 845.0, 1500.0, 2950.0];
    const C_Q: [f64; 5] = [55.3, 64.0, 77.2, 85.0, 91.3];

    fn close(got: f64, want: f64, tol: f64) {
        assert!((got - want).abs() < tol, "got {got}, SciPy gave {want}");
    }

    #[test]
    fn matches_scipy_pchip_reference() {
        // BD-rate to 1e-3 percentage points (it agrees to ~1e-12; the tolerance is the brief's).
        let (a, t) = (pts(&ANCHOR_R, &ANCHOR_Q), pts(&TEST_R, &TEST_Q));
        close(bd_rate(&a, &t).unwrap(), -6.846564247342513, 1e-3);
        close(bd_quality(&a, &t).unwrap(), 0.1959709413610395, 1e-6);
        let (b, c) = (pts(&B_R, &B_Q), pts(&C_R, &C_Q));
        close(bd_rate(&b, &c).unwrap(), -13.927992748825812, 1e-3);
        close(bd_quality(&b, &c).unwrap(), 2.467785157237575, 1e-6);
        // Partial overlap, four points against three.
        let (b4, c3) = (pts(&B_R[..4], &B_Q[..4]), pts(&C_R[1..], &C_Q[1..]));
        close(bd_rate(&b4, &c3).unwrap(), -15.610348081526105, 1e-3);
        close(bd_quality(&b4, &c3).unwrap(), 2.8305434927648574, 1e-6);
    }

    #[test]
    fn identical_curves_give_zero() {
        let a = pts(&ANCHOR_R, &ANCHOR_Q);
        assert!(bd_rate(&a, &a).unwrap().abs() < 1e-12);
        assert!(bd_quality(&a, &a).unwrap().abs() < 1e-12);
    }

    #[test]
    fn scaled_rate_gives_exact_percentage() {
        // Rate × k at every quality shifts log10(rate) by log10(k) everywhere, whatever the
        // interpolant, so the result must be (k - 1) * 100 up to rounding.
        let a = pts(&ANCHOR_R, &ANCHOR_Q);
        for k in [0.5, 0.9, 1.0, 1.07, 2.0] {
            let t: Vec<RdPoint> = a
                .iter()
                .map(|p| RdPoint {
                    rate: p.rate * k,
                    quality: p.quality,
                })
                .collect();
            let bd = bd_rate(&a, &t).unwrap();
            assert!((bd - (k - 1.0) * 100.0).abs() < 1e-9, "k={k}: {bd}");
            // Swapping the roles inverts the ratio.
            let inv = bd_rate(&t, &a).unwrap();
            assert!((inv - (1.0 / k - 1.0) * 100.0).abs() < 1e-9, "k={k}: {inv}");
        }
    }

    #[test]
    fn quality_shift_gives_exact_bd_quality() {
        let a = pts(&ANCHOR_R, &ANCHOR_Q);
        let t: Vec<RdPoint> = a
            .iter()
            .map(|p| RdPoint {
                rate: p.rate,
                quality: p.quality + 0.37,
            })
            .collect();
        assert!((bd_quality(&a, &t).unwrap() - 0.37).abs() < 1e-12);
        // Better quality at the same rate must mean a rate saving.
        assert!(bd_rate(&a, &t).unwrap() < 0.0);
    }

    #[test]
    fn order_of_points_does_not_matter() {
        let a = pts(&ANCHOR_R, &ANCHOR_Q);
        let mut t = pts(&TEST_R, &TEST_Q);
        let x = bd_rate(&a, &t).unwrap();
        t.reverse();
        t.swap(0, 2);
        assert_eq!(x, bd_rate(&a, &t).unwrap());
    }

    #[test]
    fn no_overlap_or_too_few_points_is_none() {
        let a = pts(&[1000.0, 2000.0], &[30.0, 32.0]);
        let b = pts(&[3000.0, 4000.0], &[33.0, 35.0]);
        assert!(bd_rate(&a, &b).is_none());
        assert!(bd_rate(&a, &a[..1]).is_none());
        assert!(bd_rate(&a, &pts(&[0.0, 10.0], &[30.0, 31.0])).is_none());
    }

    #[test]
    fn pchip_interpolates_and_stays_monotone() {
        let x = [0.0, 1.0, 2.5, 3.0, 5.0];
        let y = [0.0, 0.1, 3.0, 3.05, 3.1];
        let p = Pchip::new(&x, &y).unwrap();
        for (xi, yi) in x.iter().zip(&y) {
            assert!((p.eval(*xi) - yi).abs() < 1e-12);
        }
        let mut prev = f64::NEG_INFINITY;
        for i in 0..=500 {
            let v = p.eval(5.0 * i as f64 / 500.0);
            assert!(v >= prev - 1e-12, "not monotone at {i}");
            prev = v;
        }
        // The exact integral agrees with a fine midpoint sum.
        let n = 200_000;
        let mid: f64 = (0..n)
            .map(|i| p.eval(0.3 + 4.4 * (i as f64 + 0.5) / n as f64))
            .sum::<f64>()
            * 4.4
            / n as f64;
        assert!((p.integrate(0.3, 4.7) - mid).abs() < 1e-8);
    }
}
