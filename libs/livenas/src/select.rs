//! Patch sampler for the streamer (LiveNAS §5.2) and the token bucket that paces patches at
//! the scheduler's rate.
//!
//! The HR luma plane is cut into a grid of non-overlapping `P x P` cells (`P` = the network's
//! patch size, 96 by default; partial cells at the right and bottom edges are never used, as
//! the wire format requires). Cells are drawn at random, without replacement within one frame,
//! from a seeded generator, so a run is reproducible.
//!
//! When the client's own encoded-then-decoded low-resolution frame is available, the sampler
//! upscales its luma to the HR size with Catmull-Rom bicubic (`lv_image::resample`,
//! [`Kernel::CATMULL_ROM`], the interpolation the ingest server starts from) and keeps a cell
//! only when the cell's PSNR (upscaled decoded vs HR) is *below* the whole frame's PSNR: the
//! cells that encode worst are the most useful labels (§5.2: +0.1 to +0.3 dB over random
//! sampling in the paper). The comparison is made on mean squared errors (cell MSE > frame
//! MSE), which is the same test without infinities for perfectly coded content. Without the
//! decoded frame, cells are random.
//!
//! [`TokenBucket`] meters what is sent: every message costs its full encoded length (JPEG
//! payloads plus the `lvpatch` header and per-patch records). The bucket may go into debt by
//! one message (a 96x96 JPEG at quality 95 is several kbit, more than a second's worth at
//! LiveNAS' 25 kbit/s floor), so the long-run rate equals the configured rate exactly and a
//! message is sent whenever the balance is not negative.

use lv_image::plane::{Plane, Samples};
use lv_image::resample::{Kernel, Resampler};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use thiserror::Error;

/// LiveNAS uses 120-pixel patches for its network; ours refines at 96 (multiple of the
/// network's space-to-depth factor, and 1080p / 720p / 540p frames hold whole rows of them).
pub const DEFAULT_PATCH_SIZE: u16 = 96;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SelectError {
    #[error("the sampler needs 8-bit luma planes")]
    NotEightBit,
    #[error("frame {0}x{1} is smaller than one {2}x{2} patch")]
    FrameTooSmall(usize, usize, u16),
    #[error("patch size {0} is not usable (1..=4096)")]
    PatchSize(u16),
    #[error("decoded frame: {0}")]
    Resample(String),
}

/// The grid of non-overlapping cells of one frame size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    pub width: usize,
    pub height: usize,
    pub patch_size: usize,
    pub cols: usize,
    pub rows: usize,
}

impl Grid {
    /// `None` when not even one whole cell fits.
    pub fn new(width: usize, height: usize, patch_size: u16) -> Option<Grid> {
        let p = patch_size as usize;
        if p == 0 {
            return None;
        }
        let (cols, rows) = (width / p, height / p);
        // Cell indices travel as u16 on the wire.
        if cols == 0 || rows == 0 || cols > u16::MAX as usize || rows > u16::MAX as usize {
            return None;
        }
        Some(Grid {
            width,
            height,
            patch_size: p,
            cols,
            rows,
        })
    }

    pub fn cells(&self) -> usize {
        self.cols * self.rows
    }

    /// Cell `i` in raster order, as `(cell_x, cell_y)`.
    pub fn cell(&self, i: usize) -> (u16, u16) {
        ((i % self.cols) as u16, (i / self.cols) as u16)
    }

    /// Top-left luma sample of a cell.
    pub fn origin(&self, cell_x: u16, cell_y: u16) -> (usize, usize) {
        (
            cell_x as usize * self.patch_size,
            cell_y as usize * self.patch_size,
        )
    }
}

/// One chosen cell and its HR luma samples (`patch_size * patch_size`, packed rows).
#[derive(Clone, Debug, PartialEq)]
pub struct SelectedPatch {
    pub cell_x: u16,
    pub cell_y: u16,
    pub pixels: Vec<u8>,
    /// PSNR of the upscaled decoded cell against the HR cell (guided selection only).
    pub psnr_db: Option<f64>,
}

/// What one call to [`PatchSampler::sample`] chose.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    pub patches: Vec<SelectedPatch>,
    /// PSNR of the whole upscaled decoded frame against the HR frame (guided selection only).
    pub frame_psnr_db: Option<f64>,
    /// Cells looked at (guided selection rejects some).
    pub examined: usize,
}

fn u8_samples<'a>(p: &Plane<'a>) -> Result<&'a [u8], SelectError> {
    match p.samples {
        Samples::U8(d) if p.bpc == 8 => Ok(d),
        _ => Err(SelectError::NotEightBit),
    }
}

/// Sum of squared differences over a `w x h` window of two strided 8-bit planes.
fn sse(a: &[u8], a_stride: usize, b: &[u8], b_stride: usize, w: usize, h: usize) -> u64 {
    let mut total = 0u64;
    for y in 0..h {
        let ra = &a[y * a_stride..y * a_stride + w];
        let rb = &b[y * b_stride..y * b_stride + w];
        let row: u32 = ra
            .iter()
            .zip(rb)
            .map(|(&x, &y)| {
                let d = x as i32 - y as i32;
                (d * d) as u32
            })
            .sum();
        total += row as u64;
    }
    total
}

/// PSNR in dB for 8-bit samples from a mean squared error (infinite for zero error).
pub fn psnr_from_mse(mse: f64) -> f64 {
    if mse <= 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// PSNR of two equally sized strided 8-bit windows.
pub fn psnr_u8(a: &[u8], a_stride: usize, b: &[u8], b_stride: usize, w: usize, h: usize) -> f64 {
    let n = (w * h).max(1) as f64;
    psnr_from_mse(sse(a, a_stride, b, b_stride, w, h) as f64 / n)
}

/// Copies one cell of an 8-bit plane into a packed `P x P` buffer.
pub fn crop_cell(plane: &Plane<'_>, grid: &Grid, cell_x: u16, cell_y: u16) -> Vec<u8> {
    let Samples::U8(d) = plane.samples else {
        unreachable!("crop_cell on a 16-bit plane")
    };
    let p = grid.patch_size;
    let (x0, y0) = grid.origin(cell_x, cell_y);
    let mut out = Vec::with_capacity(p * p);
    for y in y0..y0 + p {
        let o = y * plane.stride + x0;
        out.extend_from_slice(&d[o..o + p]);
    }
    out
}

/// The LiveNAS patch sampler: random grid cells, filtered by encoded quality when the
/// decoded frame is known.
pub struct PatchSampler {
    patch_size: u16,
    rng: Pcg64,
    /// Catmull-Rom upscaler of the last (decoded size, HR size) pair, with its output.
    upscaler: Option<Resampler>,
    upscaled: Vec<u8>,
    order: Vec<u32>,
}

impl PatchSampler {
    pub fn new(patch_size: u16, seed: u64) -> Result<Self, SelectError> {
        if patch_size == 0 || patch_size > 4096 {
            return Err(SelectError::PatchSize(patch_size));
        }
        Ok(PatchSampler {
            patch_size,
            rng: Pcg64::seed_from_u64(seed),
            upscaler: None,
            upscaled: Vec::new(),
            order: Vec::new(),
        })
    }

    pub fn patch_size(&self) -> u16 {
        self.patch_size
    }

    /// A random permutation prefix: after the call, `self.order[..k]` holds `k` distinct cell
    /// indices drawn uniformly (partial Fisher–Yates), `k = min(n, cells)`.
    fn shuffle_prefix(&mut self, cells: usize, k: usize) {
        self.order.clear();
        self.order.extend(0..cells as u32);
        let k = k.min(cells);
        for i in 0..k {
            let j = self.rng.random_range(i..cells);
            self.order.swap(i, j);
        }
    }

    /// Picks up to `max` cells of `hr` (8-bit luma). With `decoded` (the client's decoded
    /// low-resolution luma, any size), only cells that encode worse than the frame are kept;
    /// every cell of the frame may be examined, in random order, until `max` are kept.
    pub fn sample(
        &mut self,
        hr: &Plane<'_>,
        decoded: Option<&Plane<'_>>,
        max: usize,
    ) -> Result<Selection, SelectError> {
        let hr_data = u8_samples(hr)?;
        let grid = Grid::new(hr.width, hr.height, self.patch_size).ok_or(
            SelectError::FrameTooSmall(hr.width, hr.height, self.patch_size),
        )?;
        let Some(dec) = decoded else {
            self.shuffle_prefix(grid.cells(), max);
            let n = max.min(grid.cells());
            let patches = (0..n)
                .map(|i| {
                    let (cx, cy) = grid.cell(self.order[i] as usize);
                    SelectedPatch {
                        cell_x: cx,
                        cell_y: cy,
                        pixels: crop_cell(hr, &grid, cx, cy),
                        psnr_db: None,
                    }
                })
                .collect();
            return Ok(Selection {
                patches,
                frame_psnr_db: None,
                examined: n,
            });
        };
        u8_samples(dec)?;
        let (w, h) = (hr.width, hr.height);
        let rebuild = match &self.upscaler {
            Some(r) => {
                let c = r.config();
                (c.in_w, c.in_h, c.out_w, c.out_h) != (dec.width, dec.height, w, h)
            }
            None => true,
        };
        if rebuild {
            self.upscaler = Some(
                Resampler::new(dec.width, dec.height, w, h, Kernel::CATMULL_ROM)
                    .map_err(|e| SelectError::Resample(e.to_string()))?,
            );
        }
        self.upscaled.resize(w * h, 0);
        self.upscaler
            .as_ref()
            .expect("built above")
            .process_u8(dec, &mut self.upscaled, w);
        let frame_sse = sse(hr_data, hr.stride, &self.upscaled, w, w, h);
        let frame_mse = frame_sse as f64 / (w * h) as f64;
        let cell_px = (grid.patch_size * grid.patch_size) as f64;

        self.shuffle_prefix(grid.cells(), grid.cells());
        let mut sel = Selection {
            frame_psnr_db: Some(psnr_from_mse(frame_mse)),
            ..Default::default()
        };
        for i in 0..grid.cells() {
            if sel.patches.len() >= max {
                break;
            }
            sel.examined += 1;
            let (cx, cy) = grid.cell(self.order[i] as usize);
            let (x0, y0) = grid.origin(cx, cy);
            let p = grid.patch_size;
            let cell_sse = sse(
                &hr_data[y0 * hr.stride + x0..],
                hr.stride,
                &self.upscaled[y0 * w + x0..],
                w,
                p,
                p,
            );
            let cell_mse = cell_sse as f64 / cell_px;
            if cell_mse > frame_mse {
                sel.patches.push(SelectedPatch {
                    cell_x: cx,
                    cell_y: cy,
                    pixels: crop_cell(hr, &grid, cx, cy),
                    psnr_db: Some(psnr_from_mse(cell_mse)),
                });
            }
        }
        Ok(sel)
    }
}

/// A token bucket in bits, driven by stream or wall time in nanoseconds.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate_bps: f64,
    /// Largest positive balance, in seconds of the current rate.
    burst_s: f64,
    tokens: f64,
    last_ns: Option<u64>,
}

impl TokenBucket {
    /// Starts with an empty balance (0 bits), so the first message may go at once.
    pub fn new(rate_kbps: f64, burst_s: f64) -> Self {
        TokenBucket {
            rate_bps: rate_kbps.max(0.0) * 1000.0,
            burst_s: burst_s.max(0.0),
            tokens: 0.0,
            last_ns: None,
        }
    }

    pub fn rate_kbps(&self) -> f64 {
        self.rate_bps / 1000.0
    }

    /// Changes the rate from now on (tokens already earned stay, capped at the new burst).
    pub fn set_rate_kbps(&mut self, kbps: f64) {
        self.rate_bps = if kbps.is_finite() { kbps.max(0.0) } else { 0.0 } * 1000.0;
        self.tokens = self.tokens.min(self.cap());
    }

    fn cap(&self) -> f64 {
        self.rate_bps * self.burst_s
    }

    /// Earns tokens for the time since the last call. A clock that goes backwards (a new
    /// segment, a seek) restarts the reference without earning anything.
    pub fn advance(&mut self, now_ns: u64) {
        if let Some(last) = self.last_ns {
            if now_ns > last {
                let dt = (now_ns - last) as f64 * 1e-9;
                self.tokens = (self.tokens + self.rate_bps * dt).min(self.cap());
            }
        }
        self.last_ns = Some(now_ns);
    }

    /// Bits available now (negative: debt left by the last message).
    pub fn balance_bits(&self) -> f64 {
        self.tokens
    }

    /// A message may go when the rate is positive and the balance is not negative.
    pub fn may_send(&self) -> bool {
        self.rate_bps > 0.0 && self.tokens >= 0.0
    }

    /// Charges a sent message.
    pub fn consume_bits(&mut self, bits: u64) {
        self.tokens -= bits as f64;
    }

    /// Forgets the time reference (after a flush).
    pub fn reset_clock(&mut self) {
        self.last_ns = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(data: &[u8], w: usize, h: usize) -> Plane<'_> {
        Plane::new_u8(data, w, h, w)
    }

    /// A textured frame: a smooth gradient plus a fine checkerboard in the right half.
    fn frame(w: usize, h: usize) -> Vec<u8> {
        let mut v = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let base = (x * 100 / w + y * 60 / h) as u8 + 40;
                let fine = if x >= w / 2 && (x + y) % 2 == 0 {
                    80
                } else {
                    0
                };
                v[y * w + x] = base.saturating_add(fine);
            }
        }
        v
    }

    #[test]
    fn grid_skips_partial_cells() {
        let g = Grid::new(1920, 1080, 96).unwrap();
        assert_eq!((g.cols, g.rows), (20, 11));
        assert_eq!(g.cell(21), (1, 1));
        assert_eq!(g.origin(1, 1), (96, 96));
        assert!(Grid::new(95, 200, 96).is_none());
        assert!(Grid::new(100, 100, 0).is_none());
    }

    #[test]
    fn random_cells_are_distinct_reproducible_and_exact() {
        let (w, h) = (480, 288);
        let f = frame(w, h);
        let mut s = PatchSampler::new(96, 7).unwrap();
        let a = s.sample(&plane(&f, w, h), None, 10).unwrap();
        assert_eq!(a.patches.len(), 10);
        let mut cells: Vec<_> = a.patches.iter().map(|p| (p.cell_x, p.cell_y)).collect();
        cells.sort();
        cells.dedup();
        assert_eq!(cells.len(), 10, "cells repeat within one frame");
        for p in &a.patches {
            let (x0, y0) = (p.cell_x as usize * 96, p.cell_y as usize * 96);
            assert!(x0 + 96 <= w && y0 + 96 <= h);
            for y in 0..96 {
                assert_eq!(
                    &p.pixels[y * 96..y * 96 + 96],
                    &f[(y0 + y) * w + x0..][..96]
                );
            }
        }
        // 15 cells: asking for more returns them all.
        assert_eq!(
            s.sample(&plane(&f, w, h), None, 99).unwrap().patches.len(),
            15
        );
        let mut s2 = PatchSampler::new(96, 7).unwrap();
        assert_eq!(s2.sample(&plane(&f, w, h), None, 10).unwrap(), a);
        let mut s3 = PatchSampler::new(96, 8).unwrap();
        assert_ne!(s3.sample(&plane(&f, w, h), None, 10).unwrap(), a);
    }

    #[test]
    fn strided_planes_crop_correctly() {
        let (w, h, stride) = (200, 100, 256);
        let mut buf = vec![0u8; stride * h];
        for y in 0..h {
            for x in 0..w {
                buf[y * stride + x] = (x ^ y) as u8;
            }
        }
        let p = Plane::new_u8(&buf, w, h, stride);
        let mut s = PatchSampler::new(64, 1).unwrap();
        let sel = s.sample(&p, None, 3).unwrap();
        assert_eq!(sel.patches.len(), 3);
        for q in &sel.patches {
            let (x0, y0) = (q.cell_x as usize * 64, q.cell_y as usize * 64);
            assert_eq!(q.pixels[65], ((x0 + 1) ^ (y0 + 1)) as u8);
        }
    }

    #[test]
    fn guided_selection_keeps_only_cells_worse_than_the_frame() {
        let (w, h) = (384, 192);
        let f = frame(w, h);
        // The decoded frame: the HR frame downscaled by 2 (Catmull-Rom), so the smooth left
        // half comes back almost exactly and the checkerboard half does not.
        let down = Resampler::new(w, h, w / 2, h / 2, Kernel::CATMULL_ROM).unwrap();
        let mut lr = vec![0u8; w / 2 * h / 2];
        down.process_u8(&plane(&f, w, h), &mut lr, w / 2);
        let mut s = PatchSampler::new(96, 3).unwrap();
        let sel = s
            .sample(&plane(&f, w, h), Some(&plane(&lr, w / 2, h / 2)), 8)
            .unwrap();
        let frame_psnr = sel.frame_psnr_db.unwrap();
        assert_eq!(sel.examined, 8, "all cells were examined");
        assert_eq!(sel.patches.len(), 4, "only the right half encodes worse");
        for p in &sel.patches {
            assert!(p.cell_x >= 2, "{p:?}");
            assert!(p.psnr_db.unwrap() < frame_psnr);
        }
        // Same HR, same decoded frame, a perfect decode: nothing is worse than the frame.
        let mut s = PatchSampler::new(96, 3).unwrap();
        let sel = s
            .sample(&plane(&f, w, h), Some(&plane(&f, w, h)), 8)
            .unwrap();
        assert!(sel.patches.is_empty());
        assert_eq!(sel.frame_psnr_db, Some(f64::INFINITY));
    }

    #[test]
    fn errors_instead_of_panics() {
        let f = vec![0u8; 50 * 50];
        let mut s = PatchSampler::new(96, 0).unwrap();
        assert!(matches!(
            s.sample(&plane(&f, 50, 50), None, 1),
            Err(SelectError::FrameTooSmall(50, 50, 96))
        ));
        assert!(PatchSampler::new(0, 0).is_err());
        let w16 = vec![0u16; 200 * 200];
        let p16 = Plane::new_u16(&w16, 200, 200, 200, 10);
        assert_eq!(
            s.sample(&p16, None, 1).unwrap_err(),
            SelectError::NotEightBit
        );
    }

    #[test]
    fn token_bucket_meters_the_long_run_rate() {
        // 100 kbit/s, messages of 40 kbit (a bit more than 5 KB): over 60 s of 30 fps
        // frames, about 150 messages fit.
        let mut b = TokenBucket::new(100.0, 1.0);
        let mut sent_bits = 0u64;
        for frame in 0..1800u64 {
            b.advance(frame * 1_000_000_000 / 30);
            if b.may_send() {
                b.consume_bits(40_000);
                sent_bits += 40_000;
            }
        }
        let kbps = sent_bits as f64 / 60.0 / 1000.0;
        assert!((kbps - 100.0).abs() < 2.0, "{kbps}");
        // Rate 0: nothing goes.
        let mut z = TokenBucket::new(0.0, 1.0);
        z.advance(0);
        z.advance(10_000_000_000);
        assert!(!z.may_send());
        // Idle time does not bank more than the burst.
        let mut b = TokenBucket::new(100.0, 1.0);
        b.advance(0);
        b.advance(60_000_000_000);
        assert!((b.balance_bits() - 100_000.0).abs() < 1e-6);
        // A clock going backwards earns nothing.
        b.consume_bits(100_000);
        b.advance(1_000);
        assert_eq!(b.balance_bits(), 0.0);
    }
}
