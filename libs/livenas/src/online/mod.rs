// SPDX-License-Identifier: MPL-2.0

//! Online training as the `srenhance` element runs it (docs/srenhance-design.md, "Online
//! training"), without GStreamer: decoded frames and high-quality patches go in, a background
//! [`Worker`] pairs them, trains, applies Algorithm 1 and reports each epoch to its [`Host`].
//!
//! Threads: the caller's video thread calls [`OnlineTrainer::push_frame`] and, in a non-live
//! stream, [`OnlineTrainer::advance`] (which hands the trainer each epoch's step budget and
//! waits for it: reproducible results); its patch thread calls
//! [`OnlineTrainer::push_patches`]; one thread of the caller's runs [`Worker::run`]. Every
//! wait also ends when the worker has died: a panic in it (or in the host's callbacks) is
//! caught at its boundary and turns into [`Interrupted::Failed`] for whoever waits or pushes.

mod frame_ring;
mod pairing;
mod worker;

pub use frame_ring::{Frame, FRAME_RING_BYTES, FRAME_RING_NS};
pub use worker::Worker;

use crate::adaptive::{Params, Transition};
use crate::postfilter::Filter;
use crate::trainer::{EpochQuality, TrainerConfig};
use crate::wire::{Feedback, TrainerState};
use frame_ring::FrameRing;
use lv_train::RefineNet;
use pairing::Pending;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError, WaitTimeoutResult};
use std::time::{Duration, Instant};

/// Default epoch length (the element's `epoch-duration`). 3 s rather than LiveNAS' longer epochs:
/// the safety net judges and the post-filter refits once an epoch, so a shorter epoch reaches a
/// new scene sooner, and Algorithm 1's two measured epochs before a suspension cost less
/// training (models/srenhance/EVAL.md, session 20).
pub const DEFAULT_EPOCH_NS: u64 = 3_000_000_000;
/// Decoded patches waiting for their frame.
pub const MAX_PENDING: usize = 512;
/// Non-live: longest wait (wall time) for the patch stream to reach an epoch boundary.
pub const PATCH_WAIT: Duration = Duration::from_millis(1500);

#[derive(Clone, Debug)]
pub struct OnlineConfig {
    pub trainer: TrainerConfig,
    /// Algorithm 1's thresholds; `adaptive: false` trains continuously.
    pub params: Params,
    pub adaptive: bool,
    /// The safety net ([`crate::serve`]): serve the best of the initial, online and blended
    /// weights each epoch, DNN_0 right after a scene cut. Off: the online network, always.
    pub serve_best: bool,
    /// Epoch length: wall time in a live stream, stream time otherwise.
    pub epoch_ns: u64,
    /// Non-live: training steps per second of stream time (each epoch's budget).
    pub steps_per_second: u32,
    /// Where [`OnlineTrainer::save`] writes the learned model (ONNX).
    pub save_path: Option<String>,
    /// Tests only: makes the worker fail on purpose.
    #[doc(hidden)]
    pub fault: Option<Fault>,
    /// Where the training steps' passes run (lv-gpu's kernels); `None`: the CPU.
    pub engine: Option<std::sync::Arc<dyn lv_train::BatchEngine>>,
    /// The generic post-filter served with the initial network and the prior of every refit
    /// (`trainer.post_filter` only; [`crate::postfilter`]).
    pub prior_filter: Option<std::sync::Arc<crate::postfilter::Filter>>,
}

impl Default for OnlineConfig {
    fn default() -> Self {
        OnlineConfig {
            trainer: TrainerConfig::default(),
            params: Params::default(),
            adaptive: true,
            serve_best: true,
            epoch_ns: DEFAULT_EPOCH_NS,
            steps_per_second: 20,
            save_path: None,
            fault: None,
            engine: None,
            prior_filter: None,
        }
    }
}

/// Tests only: a failure to inject into the worker.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Panic at the end of this epoch (1: the first).
    PanicAtEpoch(u64),
}

/// Counters and state, for the element's `stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub patch_buffers: u64,
    pub malformed: u64,
    pub patches: u64,
    pub bad_payloads: u64,
    pub dropped_no_frame: u64,
    pub dropped_size: u64,
    pub dropped_overflow: u64,
    /// Patches dropped on arrival because training was off.
    pub dropped_not_training: u64,
    /// Live: decoded frames not kept for training because the trainer held its lock (the
    /// video thread never waits for the trainer).
    pub frames_skipped: u64,
    pub pairs: u64,
    pub epochs: u64,
    /// Training steps taken since start (both modes).
    pub train_steps: u64,
    /// Training-step passes the engine (`OnlineConfig::engine`, the GPU) failed and the CPU
    /// ran instead.
    pub engine_failures: u64,
    /// `None` until the worker runs.
    pub state: Option<TrainerState>,
}

/// One epoch's end, as the worker reports it to its [`Host`].
#[derive(Clone, Copy, Debug)]
pub struct EpochReport {
    pub quality: EpochQuality,
    /// Algorithm 1's state before and after this epoch, and what changed.
    pub before: TrainerState,
    pub state: TrainerState,
    pub transition: Transition,
    /// Whether the epoch took training steps.
    pub trained: bool,
    /// What is served from now on (published before this report when it changed or trained).
    pub served: crate::serve::Served,
    /// Whether a scene cut fell in the epoch, and whether training restarted from DNN_0.
    pub cut: bool,
    pub reset: bool,
    /// Patches in the store.
    pub store: usize,
    /// Live: busy fraction of the wall time; non-live: fraction of epochs that trained.
    pub training_fraction: f64,
    /// What the streamer is told (non-finite gains sent as 0).
    pub feedback: Feedback,
}

/// The worker's outside world, called on the worker's thread.
pub trait Host: Send {
    /// Whether patches may still arrive: false ends a non-live epoch's wait for them at once.
    fn patches_connected(&self) -> bool {
        true
    }
    /// The network after a trained epoch (ONNX bytes) and the post-filter to run on its luma
    /// ([`crate::postfilter`]; `None`: none), for inference at the output size (`None`: not
    /// known yet); called before that epoch's [`Host::epoch`].
    fn publish(
        &mut self,
        _onnx: Vec<u8>,
        _filter: Option<Arc<Filter>>,
        _out_size: Option<(usize, usize)>,
    ) {
    }
    /// A refitted post-filter for the network published last, whose weights did not change
    /// (`None`: none), for the output size `out_size`. Returns whether the host took it;
    /// `false` (the default) makes the worker [`Host::publish`] the network again with it.
    fn publish_filter(
        &mut self,
        _filter: Option<Arc<Filter>>,
        _out_size: Option<(usize, usize)>,
    ) -> bool {
        false
    }
    fn epoch(&mut self, _report: &EpochReport) {}
    /// The outcome of a [`OnlineTrainer::save`].
    fn saved(&mut self, _path: &str, _result: std::io::Result<()>) {}
}

/// Why a call that waits for, or feeds, the worker returned early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interrupted {
    /// Flushing or stopping: the caller should stop the stream quietly.
    Flushing,
    /// The worker died (its panic message): an error for the application.
    Failed(String),
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Interrupted::Flushing => f.write_str("flushing"),
            Interrupted::Failed(m) => write!(f, "the online trainer failed: {m}"),
        }
    }
}

/// Decoded patches of one message, for one frame.
#[derive(Clone, Debug)]
pub struct PatchInput {
    /// The frame's timestamp (running time); `None`: the patches are dropped and counted.
    pub pts: Option<u64>,
    pub frame_w: usize,
    pub frame_h: usize,
    /// Side of the grid's cells.
    pub size: usize,
    /// Cell column, cell row, `size` × `size` luma.
    pub patches: Vec<(usize, usize, Vec<u8>)>,
    /// Payloads of the message that did not decode.
    pub bad_payloads: u64,
    /// Patches of the message not decoded: over the server's budget ([`crate::budget`]);
    /// counted as patches dropped for overflow.
    pub over_budget: u64,
}

/// A non-live epoch the video thread asked for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EpochJob {
    pub(crate) index: u64,
    pub(crate) boundary: u64,
    pub(crate) steps: u64,
    /// [`SharedInner::flush_gen`] when it was asked for: a flush since abandons it.
    pub(crate) flush_gen: u64,
}

#[derive(Default)]
pub(crate) struct SharedInner {
    pub(crate) frames: FrameRing,
    pub(crate) frame_tolerance: u64,
    pub(crate) pending: VecDeque<Pending>,
    /// Scene cuts (running time) the worker has not applied yet, oldest first.
    pub(crate) cuts: VecDeque<u64>,
    /// Output size (training pairs are cut at it; patches must be for it).
    pub(crate) out_size: Option<(usize, usize)>,
    /// Newest patch timestamp seen, and whether the patch stream ended.
    pub(crate) patch_pos: Option<u64>,
    pub(crate) patch_eos: bool,
    pub(crate) stats: Stats,
    pub(crate) job: Option<EpochJob>,
    pub(crate) jobs_done: u64,
    /// Requests to write the model now (answered by `saved`).
    pub(crate) save_requests: u64,
    pub(crate) saved: u64,
    pub(crate) stop: bool,
    pub(crate) flushing: bool,
    /// Counts flushes: the worker abandons a job asked for before the latest one.
    pub(crate) flush_gen: u64,
    pub(crate) live: bool,
    /// Training on: frames and patches are kept and the worker trains. Off: patches are
    /// dropped on arrival and the worker idles (the `training` property, while playing).
    pub(crate) enabled: bool,
    /// Set once, when the worker dies.
    pub(crate) failure: Option<String>,
    /// Non-live pacing, the video thread's: the next epoch boundary, the epochs asked for,
    /// and the end of the newest frame (its pts plus duration).
    next_boundary: Option<u64>,
    epoch_index: u64,
    stream_end: Option<u64>,
    /// Non-live step budget: steps are owed from `budget_origin` (stream time) at
    /// `steps_per_second`, and `steps_given` of them were handed out, so the fraction of a
    /// step that an epoch's budget rounds off is carried to the next (with epochs of under
    /// 1 / `steps_per_second`, most epochs get 0 steps, but the stream gets all of them).
    budget_origin: Option<u64>,
    steps_given: u64,
}

impl SharedInner {
    /// Whether a job asked for at flush generation `gen` should stop now.
    pub(crate) fn abandoned(&self, gen: u64) -> bool {
        self.stop || self.flushing || self.flush_gen != gen
    }

    /// The steps owed for stream time up to `until` that were not handed out yet.
    fn steps_until(&mut self, until: u64, steps_per_second: u32) -> u64 {
        let origin = *self.budget_origin.get_or_insert(until);
        let owed = (steps_per_second as u128 * until.saturating_sub(origin) as u128
            / 1_000_000_000u128) as u64;
        let steps = owed.saturating_sub(self.steps_given);
        self.steps_given += steps;
        steps
    }
}

impl SharedInner {
    /// The pending patches whose frames have arrived, as training pairs (all of them, or those
    /// before `before`, the epoch boundary of a non-live job).
    pub(crate) fn take_pairs(&mut self, before: Option<u64>) -> Vec<pairing::Ready> {
        pairing::take_pairs(
            &mut self.pending,
            &self.frames,
            self.out_size,
            self.frame_tolerance,
            &mut self.stats,
            before,
        )
    }
}

#[derive(Default)]
pub(crate) struct Shared {
    inner: Mutex<SharedInner>,
    cond: Condvar,
    /// Set with [`SharedInner::failure`]: the video thread checks it without the lock.
    failed: AtomicBool,
    /// [`Stats::frames_skipped`], counted without the lock.
    skipped: AtomicU64,
    /// [`SharedInner::enabled`], for the video thread without the lock.
    enabled: AtomicBool,
    /// [`SharedInner::live`], likewise.
    live: AtomicBool,
    /// Live: a scene cut (its running time + 1; 0: none) recorded without the lock.
    pub(crate) late_cut: AtomicU64,
}

impl Shared {
    // The worker's panics are caught at its boundary and the data behind the lock stays
    // consistent (every update is a few plain stores), so a poisoned lock is used as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, SharedInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lock if nobody holds it. The trainer's threads run at a low priority: a live
    /// video thread that waited for a lock one of them holds would wait until the scheduler
    /// gives that thread a turn, which under load is a long time (priority inversion).
    fn try_lock(&self) -> Option<MutexGuard<'_, SharedInner>> {
        match self.inner.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    pub(crate) fn wait<'a>(&self, g: MutexGuard<'a, SharedInner>) -> MutexGuard<'a, SharedInner> {
        self.cond.wait(g).unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn wait_timeout<'a>(
        &self,
        g: MutexGuard<'a, SharedInner>,
        d: Duration,
    ) -> (MutexGuard<'a, SharedInner>, WaitTimeoutResult) {
        self.cond
            .wait_timeout(g, d)
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn notify(&self) {
        self.cond.notify_all();
    }

    /// Records the worker's death and wakes everyone who waits for it.
    pub(crate) fn fail(&self, why: String) {
        let mut sh = self.lock();
        sh.failure.get_or_insert(why);
        self.failed.store(true, Ordering::SeqCst);
        self.notify();
    }
}

/// The handle the element holds (cheap to clone: all clones share one state).
#[derive(Clone)]
pub struct OnlineTrainer {
    shared: Arc<Shared>,
    config: Arc<OnlineConfig>,
}

impl OnlineTrainer {
    /// A trainer with training on (see [`OnlineTrainer::set_enabled`]).
    pub fn new(config: OnlineConfig) -> OnlineTrainer {
        let shared = Shared::default();
        shared.lock().enabled = true;
        shared.enabled.store(true, Ordering::SeqCst);
        OnlineTrainer {
            shared: Arc::new(shared),
            config: Arc::new(config),
        }
    }

    pub fn config(&self) -> &OnlineConfig {
        &self.config
    }

    /// The worker that trains `net` for this handle; the caller runs it on a thread of its
    /// own (priority, thread pool), with [`Worker::run`]. Without one, frames and patches are
    /// only kept and counted.
    pub fn worker(&self, net: RefineNet) -> Worker {
        Worker::new(net, (*self.config).clone(), self.shared.clone())
    }

    /// Turns training on or off while the stream runs. Off drops the kept frames and
    /// patches (they would be stale when training resumes) and, non-live, restarts the epoch
    /// pacing at the next frame.
    pub fn set_enabled(&self, enabled: bool) {
        let mut sh = self.shared.lock();
        if sh.enabled == enabled {
            return;
        }
        sh.enabled = enabled;
        self.shared.enabled.store(enabled, Ordering::SeqCst);
        if !enabled {
            sh.frames.clear();
            sh.pending.clear();
            sh.next_boundary = None;
            sh.budget_origin = None;
            sh.steps_given = 0;
        }
        self.shared.notify();
    }

    pub fn enabled(&self) -> bool {
        self.shared.enabled.load(Ordering::SeqCst)
    }

    pub fn set_live(&self, live: bool) {
        let mut sh = self.shared.lock();
        sh.live = live;
        self.shared.live.store(live, Ordering::SeqCst);
        self.shared.notify();
    }

    /// The output size pairs are cut at, and how far (ns) a patch's timestamp may be from its
    /// frame's. A new size drops the kept frames: they cannot make pairs for it.
    pub fn set_output(&self, w: usize, h: usize, frame_tolerance: u64) {
        let mut sh = self.shared.lock();
        if sh.out_size != Some((w, h)) {
            sh.frames.clear();
        }
        sh.out_size = Some((w, h));
        sh.frame_tolerance = frame_tolerance;
    }

    pub fn push_frame(&self, frame: Frame) {
        let mut sh = self.shared.lock();
        if sh.enabled {
            sh.frames.push(frame);
        }
        self.shared.notify();
    }

    /// Live: keeps the frame for training only if that does not wait for the trainer (see
    /// [`Shared::try_lock`]); a frame skipped is counted, and only costs the patches of that
    /// one frame. Returns whether it was kept.
    pub fn offer_frame(&self, frame: Frame) -> bool {
        match self.shared.try_lock() {
            Some(mut sh) => {
                if sh.enabled {
                    sh.frames.push(frame);
                }
                self.shared.notify();
                true
            }
            None => {
                self.shared.skipped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// The end (running time) of a frame just received: the final epoch runs up to it.
    pub fn frame_end(&self, end: u64) {
        let mut sh = self.shared.lock();
        sh.stream_end = Some(sh.stream_end.map_or(end, |e| e.max(end)));
    }

    /// Queues the patches of one message for pairing. Non-live, a patch stream running ahead
    /// of the video waits here (back-pressure) rather than losing patches, so every patch
    /// reaches its epoch; live, the oldest pending patches are dropped instead (never stall a
    /// live source).
    pub fn push_patches(&self, input: PatchInput) -> Result<(), Interrupted> {
        let mut sh = self.shared.lock();
        while !sh.live
            && !sh.stop
            && !sh.flushing
            && sh.failure.is_none()
            && !sh.pending.is_empty()
            && sh.pending.len() + input.patches.len() > MAX_PENDING
        {
            sh = self.shared.wait_timeout(sh, Duration::from_millis(50)).0;
        }
        if let Some(f) = &sh.failure {
            return Err(Interrupted::Failed(f.clone()));
        }
        if sh.stop || sh.flushing {
            return Err(Interrupted::Flushing);
        }
        sh.stats.patch_buffers += 1;
        sh.stats.bad_payloads += input.bad_payloads;
        sh.stats.patches += input.over_budget;
        sh.stats.dropped_overflow += input.over_budget;
        if !sh.enabled {
            sh.stats.patches += input.patches.len() as u64;
            sh.stats.dropped_not_training += input.patches.len() as u64;
        } else if let Some(pts) = input.pts {
            sh.patch_pos = Some(sh.patch_pos.map_or(pts, |p| p.max(pts)));
            for (cx, cy, luma) in input.patches {
                sh.stats.patches += 1;
                if sh.pending.len() >= MAX_PENDING {
                    sh.pending.pop_front();
                    sh.stats.dropped_overflow += 1;
                }
                sh.pending.push_back(Pending {
                    pts,
                    frame_w: input.frame_w,
                    frame_h: input.frame_h,
                    size: input.size,
                    x0: cx * input.size,
                    y0: cy * input.size,
                    luma,
                });
            }
        } else {
            sh.stats.dropped_no_frame += input.patches.len() as u64;
        }
        self.shared.notify();
        Ok(())
    }

    /// Counts a patch message that did not parse; returns the count so far.
    pub fn count_malformed(&self) -> u64 {
        let mut sh = self.shared.lock();
        sh.stats.malformed += 1;
        sh.stats.malformed
    }

    /// The patch stream has reached `pos` (running time) without patches (a gap): a non-live
    /// epoch boundary before it need not wait for patches that will never come.
    pub fn patch_position(&self, pos: u64) {
        let mut sh = self.shared.lock();
        sh.patch_pos = Some(sh.patch_pos.map_or(pos, |p| p.max(pos)));
        self.shared.notify();
    }

    pub fn patch_eos(&self) {
        let mut sh = self.shared.lock();
        sh.patch_eos = true;
        self.shared.notify();
    }

    pub fn patch_stream_start(&self) {
        self.shared.lock().patch_eos = false;
    }

    pub fn patch_flush_stop(&self) {
        let mut sh = self.shared.lock();
        sh.pending.clear();
        sh.patch_eos = false;
        sh.patch_pos = None;
    }

    /// Unblocks the threads waiting here (flush, or the element stopping).
    pub fn flush_start(&self) {
        let mut sh = self.shared.lock();
        sh.flushing = true;
        sh.flush_gen += 1;
        self.shared.notify();
    }

    /// The video restarts: no frames, no pacing position.
    pub fn flush_stop(&self) {
        let mut sh = self.shared.lock();
        sh.flushing = false;
        sh.frames.clear();
        sh.cuts.clear();
        self.shared.late_cut.store(0, Ordering::SeqCst);
        sh.next_boundary = None;
        sh.stream_end = None;
        sh.budget_origin = None;
        sh.steps_given = 0;
    }

    /// Non-live: runs every epoch whose boundary (stream time) the frame at `pts` has reached,
    /// each with its step budget, waiting for each (the caller must hold no lock of its own).
    /// Does nothing while training is off.
    pub fn advance(&self, pts: u64) -> Result<(), Interrupted> {
        let epoch = self.config.epoch_ns.max(1);
        let sps = self.config.steps_per_second;
        loop {
            let job = {
                let mut sh = self.shared.lock();
                if !sh.enabled {
                    return Ok(());
                }
                if sh.next_boundary.is_none() {
                    sh.next_boundary = Some(pts.saturating_add(epoch));
                    sh.budget_origin = Some(pts);
                }
                let boundary = sh.next_boundary.unwrap_or(pts.saturating_add(epoch));
                if pts < boundary {
                    return Ok(());
                }
                let steps = sh.steps_until(boundary, sps);
                sh.epoch_index += 1;
                EpochJob {
                    index: sh.epoch_index,
                    boundary,
                    steps,
                    flush_gen: sh.flush_gen,
                }
            };
            self.run_epoch(job)?;
            self.shared.lock().next_boundary = Some(job.boundary.saturating_add(epoch));
        }
    }

    /// A scene cut at `pts`: the caller has switched inference to DNN_0 (the loaded model);
    /// the worker serves DNN_0 until patches after the cut show something better
    /// ([`crate::serve`]). Ignored without the safety net. Live: never waits.
    pub fn scene_cut(&self, pts: u64) {
        if !self.config.serve_best {
            return;
        }
        let sh = if self.shared.live.load(Ordering::SeqCst) {
            self.shared.try_lock()
        } else {
            Some(self.shared.lock())
        };
        match sh {
            Some(mut sh) => {
                // Only the newest cuts matter (the measures restart at each).
                if sh.cuts.len() >= 16 {
                    sh.cuts.pop_front();
                }
                sh.cuts.push_back(pts);
            }
            // Live, the trainer holds the lock: the worker picks the cut up next time.
            None => {
                self.shared
                    .late_cut
                    .fetch_max(pts.saturating_add(1), Ordering::SeqCst);
            }
        }
    }

    /// Non-live, at end of stream: trains the last, partial epoch (from the last boundary to
    /// the end of the last frame) with the budget of its stream time, so the patches of a
    /// stream's tail are used (and a clip of exactly N epochs gets N epochs).
    pub fn finish(&self) -> Result<(), Interrupted> {
        let epoch = self.config.epoch_ns.max(1);
        let job = {
            let mut sh = self.shared.lock();
            let (Some(next), Some(end)) = (sh.next_boundary, sh.stream_end) else {
                return Ok(());
            };
            let start = next.saturating_sub(epoch);
            if !sh.enabled || end <= start {
                return Ok(());
            }
            let steps = sh.steps_until(end, self.config.steps_per_second);
            sh.epoch_index += 1;
            EpochJob {
                index: sh.epoch_index,
                boundary: end,
                steps,
                flush_gen: sh.flush_gen,
            }
        };
        let res = self.run_epoch(job);
        self.shared.lock().next_boundary = Some(job.boundary.saturating_add(epoch));
        res
    }

    /// Hands an epoch to the worker and waits for it, until it is done, the stream flushes
    /// or stops, or the worker dies.
    fn run_epoch(&self, job: EpochJob) -> Result<(), Interrupted> {
        let interrupted = |sh: &SharedInner| match &sh.failure {
            Some(f) => Some(Interrupted::Failed(f.clone())),
            None if sh.stop || sh.flushing => Some(Interrupted::Flushing),
            None => None,
        };
        let mut sh = self.shared.lock();
        if let Some(e) = interrupted(&sh) {
            return Err(e);
        }
        if sh.flush_gen != job.flush_gen {
            return Err(Interrupted::Flushing);
        }
        sh.job = Some(job);
        self.shared.notify();
        while sh.jobs_done < job.index {
            if let Some(e) = interrupted(&sh) {
                return Err(e);
            }
            sh = self.shared.wait(sh);
        }
        Ok(())
    }

    /// Asks the worker to write the model to `save_path` now and waits (at most `timeout`)
    /// for it. The outcome goes to [`Host::saved`].
    pub fn save(&self, timeout: Duration) {
        if self.config.save_path.is_none() {
            return;
        }
        let mut sh = self.shared.lock();
        sh.save_requests += 1;
        let target = sh.save_requests;
        self.shared.notify();
        let deadline = Instant::now() + timeout;
        while sh.saved < target && !sh.stop && sh.failure.is_none() && Instant::now() < deadline {
            sh = self.shared.wait_timeout(sh, Duration::from_millis(100)).0;
        }
    }

    /// Ends the worker's loop (the caller then joins its thread) and unblocks all waits.
    pub fn stop(&self) {
        let mut sh = self.shared.lock();
        sh.stop = true;
        self.shared.notify();
    }

    pub fn stats(&self) -> Stats {
        let mut s = self.shared.lock().stats;
        s.frames_skipped = self.shared.skipped.load(Ordering::Relaxed);
        s
    }

    /// The worker's panic message, once it has died. Takes the lock only then, so the live
    /// video thread can ask every frame.
    pub fn failure(&self) -> Option<String> {
        if !self.shared.failed.load(Ordering::SeqCst) {
            return None;
        }
        self.shared.lock().failure.clone()
    }
}
