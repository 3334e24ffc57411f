//! Frame-parallel measurement: several frames measured at once, one per worker, the way
//! libvmaf's own `n_threads` works.
//!
//! [`Meter`] runs the extractors of *one* frame side by side, which scales only as far as
//! the extractors are balanced (VIF alone is about half of VMAF's work, so two threads
//! gained almost nothing). Here each worker owns a whole meter (a *lane*) and measures
//! whole frames; the extractors that carry state from frame to frame (motion) run on the
//! caller's thread, in order, on a meter of their own. A frame's scores are final once its
//! lane is done and the next frame's motion is known, and come back in frame order.
//!
//! The price is delay: a frame's scores come back up to [`FrameParallelMeter::max_delay`]
//! frames after it was pushed, against one frame for [`Meter`]. The values are identical
//! (same code per frame, same order of motion), which the tests check bit for bit.

use crate::meter::{FrameScores, Meter, MeterConfig, MeterError, Part, Pending};
use lv_image::plane::{OwnedPlane, Plane};
use std::collections::{BTreeMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};

/// What a lane hands back: itself, the frame's spatial values, and the copies of the
/// pictures for reuse.
struct Done {
    lane: Meter,
    index: u64,
    result: Result<Pending, String>,
    pictures: Vec<OwnedPlane>,
}

/// Motion scores of one frame, per extractor (`None` where an extractor is not temporal).
type Motion = Vec<crate::meter::MotionOut>;

pub struct FrameParallelMeter {
    /// Runs the temporal extractors, in frame order, and fuses the models.
    temporal: Meter,
    idle: Vec<Meter>,
    lanes: usize,
    pool: rayon::ThreadPool,
    tx: Sender<Done>,
    rx: Receiver<Done>,
    in_flight: usize,
    /// Frames pushed and not yet returned, in order.
    order: VecDeque<u64>,
    spatial: BTreeMap<u64, Pending>,
    motion: BTreeMap<u64, Motion>,
    /// The last frame given to the temporal meter, whose motion the next frame completes.
    last: Option<u64>,
    spare: Vec<Vec<OwnedPlane>>,
}

impl FrameParallelMeter {
    /// `lanes` frames are measured at once (0 = one per core); `cfg.threads` is ignored.
    pub fn new(cfg: MeterConfig, lanes: usize) -> Result<Self, MeterError> {
        let lanes = crate::meter::resolve_threads(lanes).max(1);
        let temporal = Meter::build(cfg.clone(), false)?;
        let idle = (0..lanes)
            .map(|_| Meter::build(cfg.clone(), false))
            .collect::<Result<Vec<_>, _>>()?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(lanes)
            .thread_name(|i| format!("vqmeter-frame-{i}"))
            .build()
            .map_err(|e| MeterError::Unsupported(e.to_string()))?;
        let (tx, rx) = channel();
        Ok(FrameParallelMeter {
            temporal,
            idle,
            lanes,
            pool,
            tx,
            rx,
            in_flight: 0,
            order: VecDeque::new(),
            spatial: BTreeMap::new(),
            motion: BTreeMap::new(),
            last: None,
            spare: Vec::new(),
        })
    }

    pub fn metric_names(&self) -> &[String] {
        self.temporal.metric_names()
    }

    pub fn config(&self) -> &MeterConfig {
        self.temporal.config()
    }

    /// How many frames after a frame was pushed its scores can come back at the latest:
    /// every lane busy with later frames, plus the one frame motion waits for.
    pub fn max_delay(&self) -> usize {
        self.lanes + 1
    }

    /// Measures one pair: copies it, hands the copy to an idle lane (waiting for one when
    /// all are busy) and runs motion here. Returns every frame whose scores are now final,
    /// in order.
    pub fn push(
        &mut self,
        index: u64,
        reference: &[Plane],
        distorted: &[Plane],
    ) -> Result<Vec<FrameScores>, MeterError> {
        // Waiting also while lanes+1 frames are unreturned bounds the delay (and the copies
        // held) even when one lane falls behind the others.
        let mut out = Vec::new();
        while self.idle.is_empty() || self.order.len() > self.lanes {
            let done = self.rx.recv().map_err(|_| lost())?;
            self.take(done)?;
            out.extend(self.ready());
        }
        let mut lane = self.idle.pop().expect("an idle lane");
        let mut pictures = self.spare.pop().unwrap_or_default();
        let mut old = std::mem::take(&mut pictures).into_iter();
        for p in reference.iter().chain(distorted) {
            pictures.push(OwnedPlane::copy_from(p, old.next()));
        }
        let n_ref = reference.len();
        let tx = self.tx.clone();
        self.in_flight += 1;
        self.order.push_back(index);
        self.pool.spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(|| {
                let views: Vec<Plane> = pictures.iter().map(|p| p.view()).collect();
                let (r, d) = views.split_at(n_ref);
                lane.compute(index, r, d, Part::Spatial).0
            }))
            .map_err(panic_text);
            // The receiver is gone only when the meter was dropped: nothing to report to.
            let _ = tx.send(Done {
                lane,
                index,
                result,
                pictures,
            });
        });
        let (_, motion) = self
            .temporal
            .compute(index, reference, distorted, Part::Temporal);
        if let Some(prev) = self.last.replace(index) {
            self.motion.insert(prev, motion);
        }
        while let Ok(done) = self.rx.try_recv() {
            self.take(done)?;
        }
        out.extend(self.ready());
        Ok(out)
    }

    /// End of stream: waits for every lane and returns the remaining frames' scores.
    pub fn finish(&mut self) -> Result<Vec<FrameScores>, MeterError> {
        while self.in_flight > 0 {
            let done = self.rx.recv().map_err(|_| lost())?;
            self.take(done)?;
        }
        if let Some(last) = self.last.take() {
            let motion = self.temporal.flush_temporal();
            self.motion.insert(last, motion);
        }
        Ok(self.ready())
    }

    fn take(&mut self, done: Done) -> Result<(), MeterError> {
        self.in_flight -= 1;
        self.idle.push(done.lane);
        self.spare.push(done.pictures);
        let pending = done.result.map_err(|msg| {
            MeterError::Unsupported(format!("frame {}: measuring failed: {msg}", done.index))
        })?;
        self.spatial.insert(done.index, pending);
        Ok(())
    }

    /// The frames at the head of the order whose spatial and temporal values are both in.
    fn ready(&mut self) -> Vec<FrameScores> {
        let mut out = Vec::new();
        while let Some(&i) = self.order.front() {
            if !self.spatial.contains_key(&i) || !self.motion.contains_key(&i) {
                break;
            }
            self.order.pop_front();
            let p = self.spatial.remove(&i).unwrap();
            let m = self.motion.remove(&i).unwrap();
            out.push(self.temporal.finalize(p, &m));
        }
        out
    }
}

fn lost() -> MeterError {
    MeterError::Unsupported("a measuring thread ended unexpectedly".into())
}

fn panic_text(e: Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| e.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// Either way of measuring, behind one interface: [`Meter`] (one frame at a time, its
/// extractors side by side, scores at most one frame late) or [`FrameParallelMeter`].
pub enum AnyMeter {
    Extractors(Meter),
    Frames(FrameParallelMeter),
}

impl AnyMeter {
    /// `frames`: measure several frames at once (with `cfg.threads` lanes). With one thread
    /// both ways are one frame at a time; [`Meter`] then keeps motion on the same thread, so
    /// `threads = 1` uses one core.
    pub fn new(cfg: MeterConfig, frames: bool) -> Result<Self, MeterError> {
        Ok(
            if frames && crate::meter::resolve_threads(cfg.threads) > 1 {
                let lanes = cfg.threads;
                AnyMeter::Frames(FrameParallelMeter::new(cfg, lanes)?)
            } else {
                AnyMeter::Extractors(Meter::new(cfg)?)
            },
        )
    }

    pub fn metric_names(&self) -> &[String] {
        match self {
            AnyMeter::Extractors(m) => m.metric_names(),
            AnyMeter::Frames(m) => m.metric_names(),
        }
    }

    /// Frames after a push at which its scores are final at the latest.
    pub fn max_delay(&self) -> usize {
        match self {
            AnyMeter::Extractors(_) => 1,
            AnyMeter::Frames(m) => m.max_delay(),
        }
    }

    pub fn push(
        &mut self,
        index: u64,
        reference: &[Plane],
        distorted: &[Plane],
    ) -> Result<Vec<FrameScores>, MeterError> {
        match self {
            AnyMeter::Extractors(m) => {
                Ok(m.push(index, reference, distorted).into_iter().collect())
            }
            AnyMeter::Frames(m) => m.push(index, reference, distorted),
        }
    }

    pub fn finish(&mut self) -> Result<Vec<FrameScores>, MeterError> {
        match self {
            AnyMeter::Extractors(m) => Ok(m.finish().into_iter().collect()),
            AnyMeter::Frames(m) => m.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VmafModel;
    use lv_image::plane::Chroma;

    /// A moving textured picture with a cut half way, so motion and its neighbours matter.
    fn picture(i: usize, w: usize, h: usize, salt: u32) -> Vec<Vec<u8>> {
        let cut = if i >= 7 { 97 } else { 0 };
        let luma = (0..w * h)
            .map(|k| {
                let (x, y) = (k % w, k / w);
                let v = ((x * 3 + y * 5 + i * 2 + cut) as u32 ^ (x as u32 * y as u32 + salt)) % 251;
                v as u8
            })
            .collect();
        let c = (w / 2) * (h / 2);
        vec![luma, vec![128; c], vec![(100 + i) as u8; c]]
    }

    fn views(f: &[Vec<u8>], w: usize, h: usize) -> Vec<Plane<'_>> {
        vec![
            Plane::new_u8(&f[0], w, h, w),
            Plane::new_u8(&f[1], w / 2, h / 2, w / 2),
            Plane::new_u8(&f[2], w / 2, h / 2, w / 2),
        ]
    }

    fn cfg(w: usize, h: usize) -> MeterConfig {
        MeterConfig {
            width: w,
            height: h,
            bpc: 8,
            chroma: Chroma::C420,
            models: vec![
                VmafModel::builtin("vmaf_v0.6.1").unwrap(),
                VmafModel::builtin("vmaf_float_v0.6.1").unwrap(),
            ],
            psnr: true,
            ssim: true,
            ms_ssim: true,
            cambi: Some(crate::cambi::CambiOptions {
                full_ref: true,
                ..Default::default()
            }),
            threads: 1,
            accel: None,
        }
    }

    #[test]
    fn frame_parallel_scores_are_identical_to_one_frame_at_a_time() {
        let (w, h, n) = (224usize, 180usize, 15usize);
        let refs: Vec<_> = (0..n).map(|i| picture(i, w, h, 0)).collect();
        let dists: Vec<_> = (0..n).map(|i| picture(i, w, h, 7 + i as u32)).collect();
        let mut one = Meter::new(cfg(w, h)).unwrap();
        let mut expect = Vec::new();
        for i in 0..n {
            expect.extend(one.push(i as u64, &views(&refs[i], w, h), &views(&dists[i], w, h)));
        }
        expect.extend(one.finish());
        for lanes in [1, 2, 3, 5] {
            let mut fp = FrameParallelMeter::new(cfg(w, h), lanes).unwrap();
            assert_eq!(fp.metric_names(), one.metric_names());
            let mut got = Vec::new();
            for i in 0..n {
                let out = fp
                    .push(i as u64, &views(&refs[i], w, h), &views(&dists[i], w, h))
                    .unwrap();
                for s in &out {
                    assert!(
                        i as u64 - s.index <= fp.max_delay() as u64,
                        "frame {} came back at push {i}",
                        s.index
                    );
                }
                got.extend(out);
            }
            got.extend(fp.finish().unwrap());
            assert_eq!(got.len(), n, "{lanes} lanes");
            for (g, e) in got.iter().zip(&expect) {
                assert_eq!(g.index, e.index);
                // Bit for bit, NaN-free: the same code on the same pictures.
                let gb: Vec<u64> = g.values.iter().map(|v| v.to_bits()).collect();
                let eb: Vec<u64> = e.values.iter().map(|v| v.to_bits()).collect();
                assert_eq!(gb, eb, "frame {} with {lanes} lanes", g.index);
            }
            // A second sequence after finish starts motion anew, as Meter does.
            let out = fp
                .push(0, &views(&refs[3], w, h), &views(&dists[3], w, h))
                .unwrap();
            assert!(out.is_empty());
            let last = fp.finish().unwrap();
            assert_eq!(last.len(), 1);
        }
    }

    #[test]
    fn psnr_only_needs_no_motion_and_still_comes_back_in_order() {
        let (w, h, n) = (32usize, 16usize, 9usize);
        let mut c = cfg(w, h);
        c.models.clear();
        c.ssim = false;
        c.ms_ssim = false;
        c.cambi = None;
        let refs: Vec<_> = (0..n).map(|i| picture(i, w, h, 0)).collect();
        let dists: Vec<_> = (0..n).map(|i| picture(i, w, h, 3)).collect();
        let mut m = AnyMeter::new(
            MeterConfig {
                threads: 3,
                ..c.clone()
            },
            true,
        )
        .unwrap();
        let mut got = Vec::new();
        for i in 0..n {
            got.extend(
                m.push(i as u64, &views(&refs[i], w, h), &views(&dists[i], w, h))
                    .unwrap(),
            );
        }
        got.extend(m.finish().unwrap());
        let idx: Vec<u64> = got.iter().map(|s| s.index).collect();
        assert_eq!(idx, (0..n as u64).collect::<Vec<_>>());
        assert!(got.iter().all(|s| s.values.len() == 3 && s.values[0] > 0.0));
    }
}
