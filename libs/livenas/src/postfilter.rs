// SPDX-License-Identifier: MPL-2.0

//! A content-adaptive post-filter on the generic network's luma, fitted online by least
//! squares on the streamer's patches (docs/NOTES.md, session 18).
//!
//! Online gradient training of the network gains almost nothing at LiveNAS's patch rate (a few
//! dozen patches an epoch; models/srenhance/EVAL.md), because a few hundred Adam steps move a
//! network little. A linear filter, by contrast, has a closed-form optimum: RAISR (Romano et
//! al., IEEE TCI 2017) hashes each pixel by its local gradient (angle, strength, coherence of
//! the structure tensor) and keeps one small filter per hash bucket, each the least-squares
//! fit of target against input. Here the input is the frozen network's output and the target
//! the high-quality patch, so the filter learns what the network still gets wrong on this
//! stream (its codec, its noise, its textures). The normal equations of a few hundred patches
//! take a fraction of a second to sum, and the fit is a 25x25 Cholesky per bucket.
//!
//! Hand-written because no maintained crate does hashed filter learning; the linear algebra is
//! a small Cholesky per bucket, not worth a dependency.
//!
//! Measured before it was built (numpy, the 60-s pans clip, LR = x264 800 kbit/s): +0.25 dB
//! PSNR-Y over the generic network once settled, −0.3 dB right after a change of scene, which
//! is why [`crate::serve`] only serves it when it wins on the epoch's fresh patches.

use std::sync::Arc;

/// Taps each side of the centre.
pub const RADIUS: usize = 2;
const SIDE: usize = 2 * RADIUS + 1;
/// Unknowns per bucket: every neighbour's difference to the centre, and a bias.
pub const K: usize = SIDE * SIDE;
const ANGLES: usize = 8;
const STRENGTHS: usize = 3;
const COHERENCES: usize = 3;
pub const BUCKETS: usize = ANGLES * STRENGTHS * COHERENCES;
/// Bucket edges: the structure tensor's largest eigenvalue's root (8-bit gradient units) and
/// the coherence (λ1½ − λ2½) / (λ1½ + λ2½). Flat, textured and edge pixels need different
/// corrections; three levels each keep a bucket fed at a few dozen patches an epoch.
const STRENGTH_EDGES: [f32; 2] = [2.0, 8.0];
const COHERENCE_EDGES: [f32; 2] = [0.25, 0.5];
/// Half-size of the structure tensor's box window.
const BOX: usize = 2;
/// Ridge weight per sample: the fit minimises |Aw − b|² + LAMBDA·n·|w|², which pulls a bucket
/// that saw few or ambiguous samples toward the identity (w = 0).
pub const LAMBDA: f64 = 0.3;
/// Ridge weight toward the generic filter in an online refit ([`Normal::solve_toward`]), in
/// AᵀA's units (squared 8-bit differences summed over samples): about 200 samples of a
/// textured bucket's worth, so a few patches of a new scene bend the generic filter without
/// replacing it. Chosen in the numpy simulation of session 19 (2·10⁴ against 2·10⁵ and the
/// per-sample ridge toward the identity; docs/eval/2026-12-07-generic-filter/).
pub const PRIOR_WEIGHT: f64 = 2e4;
/// Context a pixel's output reads on each side: the taps, or the gradient (1) and the box.
pub const CONTEXT: usize = if RADIUS > BOX + 1 { RADIUS } else { BOX + 1 };

/// The fitted filter: `K` weights per bucket (24 neighbour differences, then the bias).
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    weights: Vec<f32>,
    /// Per bucket the 5x5 kernel on the pixels themselves (the centre's weight is 1 − Σ wₖ
    /// once the differences are expanded), then the bias: what the fast path reads.
    dense: Vec<f32>,
    /// Buckets that had enough samples to be fitted (the rest are the identity).
    pub fitted: usize,
}

/// Normal equations per bucket, summed over the samples added (and decayed per epoch).
#[derive(Clone, Debug)]
pub struct Normal {
    /// Upper triangles of AᵀA, `K * K` per bucket (only `i <= j` is kept up to date).
    ata: Vec<f64>,
    atb: Vec<f64>,
    /// Samples per bucket (AᵀA's bias entry).
    n: Vec<f64>,
}

impl Default for Normal {
    fn default() -> Self {
        Normal {
            ata: vec![0.0; BUCKETS * K * K],
            atb: vec![0.0; BUCKETS * K],
            n: vec![0.0; BUCKETS],
        }
    }
}

/// Bucket of a structure tensor [[a, b], [b, c]] (box means of gx², gx·gy, gy²).
fn bucket(a: f32, b: f32, c: f32) -> u8 {
    let (u, v) = (a - c, 2.0 * b);
    let tr = a + c;
    let det = (u * u + v * v).sqrt();
    let l1 = ((tr + det) * 0.5).max(0.0).sqrt();
    let l2 = ((tr - det) * 0.5).max(0.0).sqrt();
    let coherence = (l1 - l2) / (l1 + l2 + 1e-6);
    let s = (l1 >= STRENGTH_EDGES[0]) as usize + (l1 >= STRENGTH_EDGES[1]) as usize;
    let k = (coherence >= COHERENCE_EDGES[0]) as usize + (coherence >= COHERENCE_EDGES[1]) as usize;
    ((angle(u, v) * STRENGTHS + s) * COHERENCES + k) as u8
}

/// The dominant orientation in eighths of a half turn: floor((θ + π/2) / π · 8) mod 8 with
/// θ = atan2(v, u) / 2, by comparisons (atan2 per pixel would cost as much as the filter).
fn angle(u: f32, v: f32) -> usize {
    let (au, av) = (u.abs(), v.abs());
    if v >= 0.0 {
        if u > 0.0 && v < u {
            4
        } else if u > 0.0 {
            5
        } else if v > au {
            6
        } else if v == 0.0 && u == 0.0 {
            4
        } else if v == 0.0 {
            0
        } else {
            7
        }
    } else if u < 0.0 {
        if av < au {
            0
        } else {
            1
        }
    } else if av > u {
        2
    } else {
        3
    }
}

/// Buckets of rows `y0..y1` of a `w x h` image (rows `stride` apart), edges replicated.
fn buckets(img: &[u8], w: usize, h: usize, stride: usize, y0: usize, y1: usize) -> Vec<u8> {
    let row = |y: usize| &img[y * stride..y * stride + w];
    let n_rows = y1 - y0 + 2 * BOX;
    // Per row (y0 - BOX ..= y1 - 1 + BOX, replicated outside the image): the products gx²,
    // gx·gy, gy² of the central differences (one-sided at the edges), summed over BOX
    // samples each side along the row.
    let mut sums = vec![0f32; n_rows * 3 * w];
    let pw = w + 2 * BOX;
    let mut prod = vec![0f32; 3 * pw];
    for i in 0..n_rows {
        let y = (y0 as isize + i as isize - BOX as isize).clamp(0, h as isize - 1) as usize;
        let (up, down) = (y.saturating_sub(1), (y + 1).min(h - 1));
        let sy = if down - up == 2 { 0.5 } else { 1.0 };
        let (r, ru, rd) = (row(y), row(up), row(down));
        {
            let (pxx, rest) = prod.split_at_mut(pw);
            let (pxy, pyy) = rest.split_at_mut(pw);
            for x in 0..w {
                let (l, rr) = (x.saturating_sub(1), (x + 1).min(w - 1));
                let sx = if rr - l == 2 { 0.5 } else { 1.0 };
                let gx = (r[rr] as f32 - r[l] as f32) * sx;
                let gy = (rd[x] as f32 - ru[x] as f32) * sy;
                pxx[x + BOX] = gx * gx;
                pxy[x + BOX] = gx * gy;
                pyy[x + BOX] = gy * gy;
            }
        }
        let out = &mut sums[i * 3 * w..(i + 1) * 3 * w];
        for (p, o) in prod.chunks_mut(pw).zip(out.chunks_mut(w)) {
            for e in 0..BOX {
                p[e] = p[BOX];
                p[w + BOX + e] = p[w + BOX - 1];
            }
            for (x, o) in o.iter_mut().enumerate() {
                *o = p[x..x + 2 * BOX + 1].iter().sum();
            }
        }
    }
    let norm = 1.0 / (SIDE * SIDE) as f32;
    let mut out = Vec::with_capacity((y1 - y0) * w);
    let mut t = vec![0f32; 3 * w];
    for i in 0..y1 - y0 {
        t.fill(0.0);
        for k in 0..2 * BOX + 1 {
            for (a, b) in t
                .iter_mut()
                .zip(&sums[(i + k) * 3 * w..(i + k + 1) * 3 * w])
            {
                *a += b;
            }
        }
        let (a, rest) = t.split_at(w);
        let (b, c) = rest.split_at(w);
        out.extend(
            a.iter()
                .zip(b)
                .zip(c)
                .map(|((&a, &b), &c)| bucket(a * norm, b * norm, c * norm)),
        );
    }
    out
}

/// The neighbour differences of pixel (x, y): `K - 1` values, then 1 for the bias.
#[inline]
fn features(img: &[u8], w: usize, h: usize, stride: usize, x: usize, y: usize) -> [f32; K] {
    let c = img[y * stride + x] as f32;
    let mut f = [0f32; K];
    let mut k = 0;
    let inside = x >= RADIUS && y >= RADIUS && x + RADIUS < w && y + RADIUS < h;
    for dy in -(RADIUS as isize)..=RADIUS as isize {
        for dx in -(RADIUS as isize)..=RADIUS as isize {
            if dx == 0 && dy == 0 {
                continue;
            }
            let v = if inside {
                img[(y as isize + dy) as usize * stride + (x as isize + dx) as usize]
            } else {
                let xx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
                let yy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
                img[yy * stride + xx]
            };
            f[k] = v as f32 - c;
            k += 1;
        }
    }
    f[K - 1] = 1.0;
    f
}

impl Normal {
    /// Adds the samples of one training pair: `out` is the network's output over a `w x h`
    /// window, `target` the `size x size` patch whose top-left sits at (`tx`, `ty`) in it.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        out: &[u8],
        w: usize,
        h: usize,
        target: &[u8],
        tx: usize,
        ty: usize,
        size: usize,
    ) {
        let b = buckets(out, w, h, w, ty, ty + size);
        for r in 0..size {
            for c in 0..size {
                let (x, y) = (tx + c, ty + r);
                let f = features(out, w, h, w, x, y);
                let res = target[r * size + c] as f64 - out[y * w + x] as f64;
                self.add_sample(b[r * w + x] as usize, &f, res);
            }
        }
    }

    /// Adds every pixel of a whole `w x h` output plane against its target plane (rows
    /// `stride` and `target_stride` apart): the offline fit of the generic filter.
    pub fn add_plane(
        &mut self,
        out: &[u8],
        stride: usize,
        target: &[u8],
        target_stride: usize,
        w: usize,
        h: usize,
    ) {
        if w == 0 || h == 0 {
            return;
        }
        for y0 in (0..h).step_by(BAND) {
            let y1 = (y0 + BAND).min(h);
            let b = buckets(out, w, h, stride, y0, y1);
            for y in y0..y1 {
                for x in 0..w {
                    let f = features(out, w, h, stride, x, y);
                    let res = target[y * target_stride + x] as f64 - out[y * stride + x] as f64;
                    self.add_sample(b[(y - y0) * w + x] as usize, &f, res);
                }
            }
        }
    }

    fn add_sample(&mut self, bi: usize, f: &[f32; K], res: f64) {
        let ata = &mut self.ata[bi * K * K..(bi + 1) * K * K];
        for i in 0..K {
            let fi = f[i] as f64;
            let row = &mut ata[i * K..(i + 1) * K];
            for j in i..K {
                row[j] += fi * f[j] as f64;
            }
            self.atb[bi * K + i] += fi * res;
        }
        self.n[bi] += 1.0;
    }

    /// Adds another's sums.
    pub fn merge(mut self, other: Normal) -> Normal {
        for (a, b) in [
            (&mut self.ata, &other.ata),
            (&mut self.atb, &other.atb),
            (&mut self.n, &other.n),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        self
    }

    /// Samples summed.
    pub fn samples(&self) -> f64 {
        self.n.iter().sum()
    }

    /// The ridge least-squares filter; `None` when no bucket has `K` samples yet.
    pub fn solve(&self) -> Option<Filter> {
        let f = self.solve_toward(None);
        (f.fitted > 0).then_some(f)
    }

    /// The ridge fit pulled toward `prior` (the generic filter) instead of the identity: each
    /// bucket minimises |Aw − b|² + PRIOR_WEIGHT·|w − w₀|², and a bucket with fewer than `K`
    /// samples keeps w₀. Without a prior: [`Self::solve`]'s fit, identity where unfitted.
    pub fn solve_toward(&self, prior: Option<&Filter>) -> Filter {
        let mut weights = match prior {
            Some(p) => p.weights.clone(),
            None => vec![0f32; BUCKETS * K],
        };
        let mut fitted = 0;
        for b in 0..BUCKETS {
            let n = self.n[b];
            if n < K as f64 {
                continue;
            }
            let (ridge, w0) = match prior {
                Some(p) => (PRIOR_WEIGHT, &p.weights[b * K..(b + 1) * K]),
                None => (LAMBDA * n, &[0f32; K][..]),
            };
            // Symmetric from the upper triangle, plus the ridge on the diagonal.
            let ata = &self.ata[b * K * K..(b + 1) * K * K];
            let m: [[f64; K]; K] = std::array::from_fn(|i| {
                std::array::from_fn(|j| {
                    let v = ata[i.min(j) * K + i.max(j)];
                    if i == j {
                        v + ridge
                    } else {
                        v
                    }
                })
            });
            let rhs: [f64; K] = std::array::from_fn(|i| self.atb[b * K + i] + ridge * w0[i] as f64);
            if let Some(x) = cholesky_solve(m, rhs) {
                for (w, v) in weights[b * K..(b + 1) * K].iter_mut().zip(x) {
                    *w = v as f32;
                }
                fitted += 1;
            }
        }
        Filter::from_weights(weights, fitted)
    }
}

/// Solves m·x = rhs for a symmetric positive definite `m`; `None` if it is not.
fn cholesky_solve(mut m: [[f64; K]; K], rhs: [f64; K]) -> Option<[f64; K]> {
    for j in 0..K {
        let d = m[j][j] - (0..j).map(|k| m[j][k] * m[j][k]).sum::<f64>();
        if d.is_nan() || d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        m[j][j] = d;
        for i in j + 1..K {
            m[i][j] = (m[i][j] - (0..j).map(|k| m[i][k] * m[j][k]).sum::<f64>()) / d;
        }
    }
    let mut y = [0f64; K];
    for i in 0..K {
        y[i] = (rhs[i] - (0..i).map(|k| m[i][k] * y[k]).sum::<f64>()) / m[i][i];
    }
    let mut x = [0f64; K];
    for i in (0..K).rev() {
        x[i] = (y[i] - (i + 1..K).map(|k| m[k][i] * x[k]).sum::<f64>()) / m[i][i];
    }
    Some(x)
}

/// Rows filtered per parallel task: a band recomputes 2·BOX + 2 rows of gradients.
const BAND: usize = 32;

/// File format of a filter: this magic, then version, bucket count and taps per bucket
/// (little-endian u32), then `BUCKETS * K` little-endian f32 weights.
const MAGIC: &[u8; 4] = b"LVPF";
const VERSION: u32 = 1;
/// No fitted weight comes near this (a 5x5 filter of 8-bit differences); a file that has one
/// is not a filter this code wrote.
const MAX_WEIGHT: f32 = 1e3;

impl Filter {
    fn from_weights(weights: Vec<f32>, fitted: usize) -> Filter {
        let dense = weights
            .chunks(K)
            .flat_map(|w| {
                let centre = 1.0 - w[..K - 1].iter().sum::<f32>();
                let mut d = [0f32; K + 1];
                let mid = RADIUS * SIDE + RADIUS;
                d[..mid].copy_from_slice(&w[..mid]);
                d[mid] = centre;
                d[mid + 1..K].copy_from_slice(&w[mid..K - 1]);
                d[K] = w[K - 1];
                d
            })
            .collect();
        Filter {
            weights,
            dense,
            fitted,
        }
    }

    /// The filter as a file ([`Filter::from_bytes`] reads it back).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16 + 4 * self.weights.len());
        v.extend_from_slice(MAGIC);
        for n in [VERSION, BUCKETS as u32, K as u32] {
            v.extend_from_slice(&n.to_le_bytes());
        }
        for w in &self.weights {
            v.extend_from_slice(&w.to_le_bytes());
        }
        v
    }

    /// Reads a filter file, checking its header, its length and every weight.
    pub fn from_bytes(b: &[u8]) -> Result<Filter, String> {
        let want = 16 + 4 * BUCKETS * K;
        if b.len() < 16 || &b[..4] != MAGIC {
            return Err("not a post-filter file (no LVPF header)".into());
        }
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let (version, buckets, taps) = (word(4), word(8), word(12));
        if version != VERSION || buckets as usize != BUCKETS || taps as usize != K {
            return Err(format!(
                "post-filter file version {version} with {buckets} buckets of {taps} taps; \
                 this build reads version {VERSION}, {BUCKETS} buckets of {K} taps"
            ));
        }
        if b.len() != want {
            return Err(format!(
                "post-filter file is {} bytes, {want} expected",
                b.len()
            ));
        }
        let weights: Vec<f32> = b[16..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if let Some(w) = weights
            .iter()
            .find(|w| !w.is_finite() || w.abs() > MAX_WEIGHT)
        {
            return Err(format!("post-filter file has an impossible weight {w}"));
        }
        let fitted = weights
            .chunks(K)
            .filter(|w| w.iter().any(|&v| v != 0.0))
            .count();
        Ok(Filter::from_weights(weights, fitted))
    }

    #[allow(clippy::too_many_arguments)]
    fn pixel(
        &self,
        img: &[u8],
        w: usize,
        h: usize,
        stride: usize,
        x: usize,
        y: usize,
        b: u8,
    ) -> u8 {
        let wt = &self.weights[b as usize * K..(b as usize + 1) * K];
        let f = features(img, w, h, stride, x, y);
        let corr: f32 = wt.iter().zip(&f).map(|(a, b)| a * b).sum();
        (img[y * stride + x] as f32 + corr)
            .round()
            .clamp(0.0, 255.0) as u8
    }

    /// Filters rows `y0..y1` of `src` (`w x h`, rows `stride` apart) into `dst` (those rows
    /// only, `dst_stride` apart).
    #[allow(clippy::too_many_arguments)]
    fn rows(
        &self,
        src: &[u8],
        w: usize,
        h: usize,
        stride: usize,
        y0: usize,
        y1: usize,
        dst: &mut [u8],
        dst_stride: usize,
    ) {
        let b = buckets(src, w, h, stride, y0, y1);
        for y in y0..y1 {
            let bi = &b[(y - y0) * w..(y - y0 + 1) * w];
            let o = (y - y0) * dst_stride;
            let di = &mut dst[o..o + w];
            if y < RADIUS || y + RADIUS >= h || w <= 2 * RADIUS {
                for x in 0..w {
                    di[x] = self.pixel(src, w, h, stride, x, y, bi[x]);
                }
                continue;
            }
            // Inside the image: the taps straight from the rows, the centre's weight folded
            // into the kernel (c + Σ wₖ(xₖ − c) + bias = c(1 − Σ wₖ) + Σ wₖxₖ + bias).
            let rows: [&[u8]; SIDE] = std::array::from_fn(|k| {
                let o = (y + k - RADIUS) * stride;
                &src[o..o + w]
            });
            for x in 0..w {
                if x < RADIUS || x + RADIUS >= w {
                    di[x] = self.pixel(src, w, h, stride, x, y, bi[x]);
                    continue;
                }
                let bk = bi[x] as usize;
                let d = &self.dense[bk * (K + 1)..(bk + 1) * (K + 1)];
                let mut acc = d[K];
                for (r, dr) in rows.iter().zip(d.chunks_exact(SIDE)) {
                    for (&v, &wk) in r[x - RADIUS..x + RADIUS + 1].iter().zip(dr) {
                        acc += wk * v as f32;
                    }
                }
                di[x] = acc.round().clamp(0.0, 255.0) as u8;
            }
        }
    }

    /// The filtered `size x size` square at (`tx`, `ty`) of a `w x h` window (the window's
    /// edges replicated, as [`Normal::add`] saw it).
    pub fn apply_window(
        &self,
        out: &[u8],
        w: usize,
        h: usize,
        tx: usize,
        ty: usize,
        size: usize,
    ) -> Vec<u8> {
        let mut rows = vec![0u8; size * w];
        self.rows(out, w, h, w, ty, ty + size, &mut rows, w);
        let mut v = Vec::with_capacity(size * size);
        for r in 0..size {
            v.extend_from_slice(&rows[r * w + tx..r * w + tx + size]);
        }
        v
    }

    /// Filters a luma plane in place (`scratch` keeps the unfiltered copy between calls),
    /// bands of rows in parallel.
    pub fn apply_plane(
        &self,
        plane: &mut [u8],
        stride: usize,
        w: usize,
        h: usize,
        scratch: &mut Vec<u8>,
    ) {
        use rayon::prelude::*;
        if w == 0 || h == 0 {
            return;
        }
        scratch.clear();
        for r in 0..h {
            scratch.extend_from_slice(&plane[r * stride..r * stride + w]);
        }
        let src: &[u8] = scratch;
        plane[..stride * (h - 1) + w]
            .par_chunks_mut(stride * BAND)
            .enumerate()
            .for_each(|(i, band)| {
                let y0 = i * BAND;
                self.rows(src, w, h, w, y0, (y0 + BAND).min(h), band, stride);
            });
    }
}

/// The fit's state beside the online trainer: the filter fitted at the last epoch's end on
/// the online network's output, the generic filter it is pulled toward, and where the
/// current scene's pairs begin in the store.
#[derive(Clone, Debug, Default)]
pub struct PostFit {
    pub filter: Option<Arc<Filter>>,
    /// The generic filter fitted offline on the initial network's output (shipped beside
    /// it): part of what DNN_0 serves, and the prior every refit starts from.
    pub prior: Option<Arc<Filter>>,
    /// Sequence number of the first pair after the last scene cut.
    pub since: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn angle_bins_follow_atan2() {
        let mut rng = 12345u64;
        let mut next = || {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((rng >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
        };
        for _ in 0..100_000 {
            let (u, v) = (next(), next());
            let theta = 0.5 * (v as f64).atan2(u as f64);
            let want = (((theta + std::f64::consts::FRAC_PI_2) / std::f64::consts::PI * 8.0).floor()
                as usize)
                % 8;
            // Away from the bin edges, where f32 and f64 may round differently.
            let pos = (theta + std::f64::consts::FRAC_PI_2) / std::f64::consts::PI * 8.0;
            if (pos - pos.round()).abs() < 1e-4 {
                continue;
            }
            assert_eq!(angle(u, v), want, "u {u} v {v}");
        }
        assert_eq!(angle(0.0, 0.0), 4, "flat: atan2(0, 0) = 0");
    }

    fn textured(w: usize, h: usize, seed: u32) -> Vec<u8> {
        (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                let v = 128.0
                    + 60.0 * (x * 0.31 + y * 0.17 + seed as f32).sin()
                    + 30.0 * (x * 0.05 - y * 0.43).cos()
                    + ((i as u32).wrapping_mul(2654435761) >> 28) as f32;
                v.clamp(0.0, 255.0) as u8
            })
            .collect()
    }

    /// A known degradation (a 3-tap horizontal blur) is learnt back from pairs: the fitted
    /// filter's output is closer to the sharp target than the blurred input, on a pair it
    /// never saw.
    #[test]
    fn learns_to_undo_a_blur_on_unseen_content() {
        let (w, h) = (64usize, 64usize);
        let blur = |s: &[u8]| -> Vec<u8> {
            (0..w * h)
                .map(|i| {
                    let (x, y) = (i % w, i / w);
                    let l = s[y * w + x.saturating_sub(1)] as u32;
                    let r = s[y * w + (x + 1).min(w - 1)] as u32;
                    ((l + 2 * s[i] as u32 + r + 2) / 4) as u8
                })
                .collect()
        };
        let mut normal = Normal::default();
        let (m, size) = (8, 48);
        let crop = |img: &[u8]| -> Vec<u8> {
            (0..size)
                .flat_map(|r| img[(m + r) * w + m..(m + r) * w + m + size].to_vec())
                .collect()
        };
        for seed in 0..6 {
            let sharp = textured(w, h, seed);
            normal.add(&blur(&sharp), w, h, &crop(&sharp), m, m, size);
        }
        let filter = normal.solve().expect("fitted");
        let sharp = textured(w, h, 99);
        let soft = blur(&sharp);
        let target = crop(&sharp);
        let mse = |a: &[u8]| -> f64 {
            a.iter()
                .zip(&target)
                .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                .sum::<f64>()
                / a.len() as f64
        };
        let before = mse(&crop(&soft));
        let after = mse(&filter.apply_window(&soft, w, h, m, m, size));
        assert!(after < 0.5 * before, "mse {before} -> {after}");
    }

    /// The plane path (bands in parallel, row stride) gives the window path's pixels.
    #[test]
    fn plane_and_window_agree() {
        let (w, h, stride) = (70, 75, 80);
        let mut normal = Normal::default();
        let a = textured(w, h, 1);
        let b = textured(w, h, 2);
        normal.add(&a, w, h, &b[..40 * 40], 10, 10, 40);
        let filter = normal.solve().unwrap();
        let whole = filter.apply_window(&a, w, h, 0, 0, w.min(h));
        let mut plane = vec![7u8; stride * h];
        for r in 0..h {
            plane[r * stride..r * stride + w].copy_from_slice(&a[r * w..(r + 1) * w]);
        }
        filter.apply_plane(&mut plane, stride, w, h, &mut Vec::new());
        for r in 0..w.min(h) {
            for c in 0..w.min(h) {
                assert_eq!(plane[r * stride + c], whole[r * w.min(h) + c], "({c}, {r})");
            }
            assert!(plane[r * stride + w..(r + 1) * stride]
                .iter()
                .all(|&v| v == 7));
        }
    }

    #[test]
    fn nothing_is_fitted_without_samples_and_merging_adds_them() {
        let mut n = Normal::default();
        assert!(n.solve().is_none());
        let a = textured(32, 32, 3);
        n.add(&a, 32, 32, &a[..16 * 16], 0, 0, 16);
        assert_eq!(n.samples(), 256.0);
        let m = n.clone().merge(n.clone());
        assert_eq!(m.samples(), 512.0);
    }

    fn fitted_on_textures() -> (Normal, Filter) {
        let mut n = Normal::default();
        for seed in 0..4 {
            let a = textured(48, 48, seed);
            let b = textured(48, 48, seed + 10);
            n.add(&a, 48, 48, &b[..40 * 40], 4, 4, 40);
        }
        let f = n.solve().unwrap();
        (n, f)
    }

    #[test]
    fn a_filter_file_reads_back_and_bad_files_are_refused() {
        let (_, f) = fitted_on_textures();
        let bytes = f.to_bytes();
        let back = Filter::from_bytes(&bytes).unwrap();
        assert_eq!(back.weights, f.weights);
        assert_eq!(back.dense, f.dense);
        assert!(Filter::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(Filter::from_bytes(b"LVPF").is_err());
        assert!(Filter::from_bytes(&[]).is_err());
        let mut wrong = bytes.clone();
        wrong[0] = b'X';
        assert!(Filter::from_bytes(&wrong).unwrap_err().contains("header"));
        let mut dims = bytes.clone();
        dims[8] = 71;
        assert!(Filter::from_bytes(&dims).unwrap_err().contains("buckets"));
        let mut nan = bytes.clone();
        nan[16..20].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(Filter::from_bytes(&nan).unwrap_err().contains("weight"));
        let mut huge = bytes;
        huge[20..24].copy_from_slice(&1e9f32.to_le_bytes());
        assert!(Filter::from_bytes(&huge).is_err());
    }

    /// A filter file is a model file: every truncation and a sweep of corrupted bytes are
    /// errors or filters, never a panic, and a filter read from a corrupted file stays finite.
    #[test]
    fn damaged_filter_files_never_panic() {
        let (_, f) = fitted_on_textures();
        let bytes = f.to_bytes();
        for n in 0..bytes.len() {
            assert!(Filter::from_bytes(&bytes[..n]).is_err(), "truncated to {n}");
        }
        let mut rng = 0x2545f4914f6cdd1du64;
        for _ in 0..2000 {
            let mut b = bytes.clone();
            for _ in 0..4 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let i = (rng as usize) % b.len();
                b[i] = (rng >> 32) as u8;
            }
            if let Ok(g) = Filter::from_bytes(&b) {
                assert!(g
                    .weights
                    .iter()
                    .all(|w| w.is_finite() && w.abs() <= MAX_WEIGHT));
                let mut p = textured(16, 16, 1);
                g.apply_plane(&mut p, 16, 16, 16, &mut Vec::new());
            }
        }
    }

    /// All-zero weights are the identity: what a file of zeros gives back is its input.
    #[test]
    fn zero_weights_are_the_identity() {
        let bytes = Filter::from_weights(vec![0.0; BUCKETS * K], 0).to_bytes();
        let f = Filter::from_bytes(&bytes).unwrap();
        let a = textured(40, 30, 5);
        let mut plane = a.clone();
        f.apply_plane(&mut plane, 40, 40, 30, &mut Vec::new());
        assert_eq!(plane, a);
    }

    /// With a prior, buckets without samples keep it exactly, and a bucket with many samples
    /// moves from it toward its own fit.
    #[test]
    fn a_refit_starts_from_the_prior_and_moves_with_samples() {
        let (_, prior) = fitted_on_textures();
        let none = Normal::default().solve_toward(Some(&prior));
        assert_eq!(none.weights, prior.weights);
        assert_eq!(none.fitted, 0);
        // Another degradation, many samples: the refit lands nearer its own plain fit than
        // the prior is.
        let mut n = Normal::default();
        for seed in 20..40 {
            let a = textured(64, 64, seed);
            let b: Vec<u8> = a.iter().map(|&v| v.saturating_add(6)).collect();
            n.add(&a, 64, 64, &b[..56 * 56], 4, 4, 56);
        }
        let own = n.solve().unwrap();
        let refit = n.solve_toward(Some(&prior));
        let dist = |x: &Filter, y: &Filter| -> f32 {
            x.weights
                .iter()
                .zip(&y.weights)
                .map(|(a, b)| (a - b).powi(2))
                .sum()
        };
        assert!(refit.fitted > 0);
        assert!(dist(&refit, &own) < dist(&prior, &own));
        assert_ne!(refit.weights, prior.weights);
    }

    /// The whole-plane sums are the window sums over the same pixels.
    #[test]
    fn plane_samples_match_window_samples() {
        let (w, h) = (37, 37);
        let a = textured(w, h, 7);
        let b = textured(w, h, 8);
        let mut by_window = Normal::default();
        by_window.add(&a, w, h, &b, 0, 0, w);
        let mut stride_a = vec![0u8; 40 * h];
        for r in 0..h {
            stride_a[r * 40..r * 40 + w].copy_from_slice(&a[r * w..(r + 1) * w]);
        }
        let mut by_plane = Normal::default();
        by_plane.add_plane(&stride_a, 40, &b, w, w, h);
        assert_eq!(by_plane.n, by_window.n);
        assert_eq!(by_plane.atb, by_window.atb);
        assert_eq!(by_plane.ata, by_window.ata);
    }
}
