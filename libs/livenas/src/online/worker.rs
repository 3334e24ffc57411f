// SPDX-License-Identifier: MPL-2.0

//! The background trainer: owns the [`Trainer`] and Algorithm 1's controller, turns pending
//! patches into pairs, trains (live: continuously in wall time; non-live: each epoch's step
//! budget when the video thread asks), and ends epochs.

use super::pairing::add_pairs;
use super::{EpochReport, Fault, Host, OnlineConfig, Shared, PATCH_WAIT};
use crate::adaptive::{Controller, Transition};
use crate::serve::{self, Served};
use crate::trainer::Trainer;
use crate::wire::{Feedback, TrainerState};
use lv_train::RefineNet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Worker {
    trainer: Trainer,
    controller: Controller,
    config: OnlineConfig,
    shared: Arc<Shared>,
    busy: Duration,
    total: Duration,
    epochs_trained: u64,
    epochs: u64,
    new_pairs: u64,
    /// What inference uses (the element follows `publish` and, on a cut, switches to DNN_0
    /// by itself), and whether a cut fell in the current epoch.
    served: Served,
    cut_in_epoch: bool,
}

fn finite_or_zero(v: f64) -> f32 {
    if v.is_finite() {
        v as f32
    } else {
        0.0
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

impl Worker {
    fn count_step(&self) {
        let mut sh = self.shared.lock();
        sh.stats.train_steps += 1;
        sh.stats.engine_failures = self.trainer.engine_failures().0;
    }

    pub(crate) fn new(net: RefineNet, config: OnlineConfig, shared: Arc<Shared>) -> Worker {
        let serve_best = config.serve_best;
        let mut trainer = Trainer::new(net, config.trainer);
        trainer.set_engine(config.engine.clone());
        trainer.set_prior_filter(config.prior_filter.clone());
        Worker {
            trainer,
            controller: Controller::new(config.params),
            config,
            shared,
            busy: Duration::ZERO,
            total: Duration::ZERO,
            epochs_trained: 0,
            epochs: 0,
            new_pairs: 0,
            served: if serve_best {
                Served::Initial
            } else {
                Served::Online
            },
            cut_in_epoch: false,
        }
    }

    /// The worker thread's body, until [`super::OnlineTrainer::stop`]. Never unwinds: a panic
    /// here or in `host` is caught and recorded, which wakes every wait on the trainer with
    /// [`super::Interrupted::Failed`] (a non-live stream would otherwise wait forever).
    pub fn run(mut self, host: &mut dyn Host) {
        let shared = self.shared.clone();
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| self.run_loop(host))) {
            shared.fail(panic_message(&*p));
        }
    }

    fn run_loop(&mut self, host: &mut dyn Host) {
        {
            let mut sh = self.shared.lock();
            sh.stats.state = Some(self.controller.state());
        }
        let mut epoch_start = Instant::now();
        loop {
            let mut sh = self.shared.lock();
            if sh.stop {
                break;
            }
            if sh.save_requests > sh.saved {
                let target = sh.save_requests;
                drop(sh);
                self.save(host);
                let mut sh = self.shared.lock();
                sh.saved = target;
                self.shared.notify();
                continue;
            }
            if let Some(job) = sh.job {
                if job.index > sh.jobs_done {
                    // Non-live epoch: wait (bounded) until the patch stream has reached the
                    // boundary, so the same patches are used whatever the thread timing.
                    let deadline = Instant::now() + PATCH_WAIT;
                    while !(sh.abandoned(job.flush_gen)
                        || sh.patch_eos
                        || sh.patch_pos.is_some_and(|p| p >= job.boundary)
                        || Instant::now() >= deadline
                        || !host.patches_connected())
                    {
                        sh = self.shared.wait_timeout(sh, Duration::from_millis(20)).0;
                    }
                    if sh.stop {
                        break;
                    }
                    if sh.abandoned(job.flush_gen) {
                        // A flush (seek) or stop since the job was asked for: nobody waits
                        // for it any more, and its steps would delay the next epoch.
                        sh.jobs_done = job.index;
                        self.shared.notify();
                        continue;
                    }
                    let pairs = sh.take_pairs(Some(job.boundary));
                    let cuts = take_cuts(&mut sh, &self.shared, Some(job.boundary));
                    self.shared.notify();
                    drop(sh);
                    self.add_pairs(pairs, cuts);
                    let t0 = Instant::now();
                    let mut abandoned = false;
                    if self.controller.state() == TrainerState::Training {
                        for _ in 0..job.steps {
                            // A step takes milliseconds; looking at the flags before each
                            // keeps a state change or a seek from waiting for the epoch.
                            if self.shared.lock().abandoned(job.flush_gen) {
                                abandoned = true;
                                break;
                            }
                            if self.trainer.step().is_none() {
                                break;
                            }
                            // Counted as they go: `stats` shows a long epoch's progress.
                            self.count_step();
                        }
                    }
                    self.busy += t0.elapsed();
                    // An abandoned epoch is not reported: its steps count in the next one.
                    if !abandoned {
                        self.end_epoch(host);
                    }
                    let mut sh = self.shared.lock();
                    sh.jobs_done = job.index;
                    self.shared.notify();
                    continue;
                }
            }
            if !sh.live {
                // Non-live (or not known yet): wait for a job.
                let _ = self.shared.wait_timeout(sh, Duration::from_millis(50));
                epoch_start = Instant::now();
                continue;
            }
            if !sh.enabled {
                // Live with training off: no epochs; the next starts when it is back on.
                let _ = self.shared.wait_timeout(sh, Duration::from_millis(50));
                epoch_start = Instant::now();
                continue;
            }
            // Live: train continuously in wall time.
            let pairs = sh.take_pairs(None);
            let cuts = take_cuts(&mut sh, &self.shared, None);
            let idle = self.controller.state() != TrainerState::Training
                || (self.trainer.store().is_empty() && pairs.is_empty());
            if idle {
                let _ = self.shared.wait_timeout(sh, Duration::from_millis(20));
            } else {
                drop(sh);
            }
            self.add_pairs(pairs, cuts);
            if !idle {
                let t0 = Instant::now();
                if self.trainer.step().is_some() {
                    self.count_step();
                }
                self.busy += t0.elapsed();
            }
            let epoch = Duration::from_nanos(self.config.epoch_ns.max(1));
            if epoch_start.elapsed() >= epoch {
                self.total += epoch_start.elapsed();
                epoch_start = Instant::now();
                self.end_epoch(host);
            }
        }
    }

    /// Adds pairs in timestamp order, applying each scene cut between the pairs before it and
    /// those after it.
    fn add_pairs(&mut self, mut pairs: Vec<super::pairing::Ready>, cuts: Vec<u64>) {
        pairs.sort_by_key(|p| p.pts());
        let mut n = 0;
        let mut rest = pairs.into_iter().peekable();
        for cut in cuts {
            let before: Vec<_> = std::iter::from_fn(|| rest.next_if(|p| p.pts() < cut)).collect();
            n += add_pairs(&mut self.trainer, before);
            self.trainer.mark_cut();
            self.cut_in_epoch = true;
            self.served = Served::Initial;
        }
        n += add_pairs(&mut self.trainer, rest.collect());
        if n == 0 {
            return;
        }
        self.new_pairs += n;
        self.shared.lock().stats.pairs += n;
    }

    /// Measures the epoch, applies Algorithm 1, publishes the new network (when the epoch
    /// trained) and reports.
    fn end_epoch(&mut self, host: &mut dyn Host) {
        if self.config.fault == Some(Fault::PanicAtEpoch(self.epochs + 1)) {
            panic!("injected fault: trainer panic at epoch {}", self.epochs + 1);
        }
        let q = self.trainer.end_epoch();
        let trained = q.steps > 0;
        self.epochs += 1;
        if trained {
            self.epochs_trained += 1;
        }
        let before = self.controller.state();
        let transition = if !self.config.adaptive {
            Transition::None
        } else if before == TrainerState::Training {
            if trained {
                self.controller.end_of_epoch(q.gain_vs_previous())
            } else {
                Transition::None
            }
        } else if self.new_pairs > 0 {
            self.controller.validation(q.gain_vs_initial())
        } else {
            Transition::None
        };
        self.new_pairs = 0;
        let state = self.controller.state();
        let live = self.shared.lock().live;
        let fraction = if live {
            let total = self.total.as_secs_f64();
            if total > 0.0 {
                (self.busy.as_secs_f64() / total).clamp(0.0, 1.0)
            } else {
                0.0
            }
        } else {
            self.epochs_trained as f64 / self.epochs.max(1) as f64
        };
        let cut = std::mem::take(&mut self.cut_in_epoch);
        let (serve, reset) = if self.config.serve_best {
            let serve = serve::choose(&q, cut, self.served);
            (serve, serve == Served::Initial && serve::should_reset(&q))
        } else {
            (Served::Online, false)
        };
        if reset {
            self.trainer.reset_to_initial();
        }
        let out_size = self.shared.lock().out_size;
        match publication(serve, self.served, trained) {
            Publication::Nothing => {}
            Publication::Filter if host.publish_filter(self.trainer.post_filter(), out_size) => {}
            Publication::Filter | Publication::Network => {
                let bytes = match serve {
                    Served::Initial => {
                        crate::trainer::export(self.trainer.initial(), "srenhance initial model")
                    }
                    Served::Online | Served::Filtered => {
                        self.trainer.export("srenhance online training")
                    }
                    Served::Blend => crate::trainer::export(
                        &self.trainer.blend(),
                        "srenhance online training, averaged with the initial model",
                    ),
                };
                let filter = match serve {
                    Served::Filtered => self.trainer.post_filter(),
                    Served::Initial => self.trainer.prior_filter(),
                    Served::Online | Served::Blend => None,
                };
                host.publish(bytes, filter, out_size);
            }
        }
        self.served = serve;
        let feedback = Feedback {
            epoch: q.epoch,
            state,
            gain_db: finite_or_zero(q.gain_vs_previous()),
            gain_vs_initial_db: finite_or_zero(q.gain_vs_initial()),
            gain_vs_bicubic_db: finite_or_zero(q.gain_vs_bicubic()),
            training_fraction: fraction as f32,
            suggested_patch_kbps: 0,
        };
        {
            let mut sh = self.shared.lock();
            sh.stats.state = Some(state);
            sh.stats.epochs = self.epochs;
        }
        host.epoch(&EpochReport {
            quality: q,
            before,
            state,
            transition,
            trained,
            served: serve,
            cut,
            reset,
            store: self.trainer.store().len(),
            training_fraction: fraction,
            feedback,
        });
    }

    /// Writes the model whole (`lv_image::output`: a temporary file renamed over the target's
    /// file, links followed).
    fn save(&self, host: &mut dyn Host) {
        let Some(path) = self.config.save_path.clone() else {
            return;
        };
        let bytes = self
            .trainer
            .export("srenhance online training (saved model)");
        let res = lv_image::output::write_whole(std::path::Path::new(&path), &bytes);
        host.saved(&path, res);
    }
}

/// The scene cuts to apply with this batch of pairs (all of them, or those before the epoch's
/// `boundary`), including one recorded without the lock.
fn take_cuts(sh: &mut super::SharedInner, shared: &Shared, boundary: Option<u64>) -> Vec<u64> {
    let late = shared.late_cut.swap(0, std::sync::atomic::Ordering::SeqCst);
    if late > 0 {
        sh.cuts.push_back(late - 1);
        sh.cuts.make_contiguous().sort_unstable();
    }
    let mut out = Vec::new();
    while let Some(&c) = sh.cuts.front() {
        if boundary.is_some_and(|b| c >= b) {
            break;
        }
        out.push(c);
        sh.cuts.pop_front();
    }
    out
}

/// What an epoch's end hands to the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Publication {
    Nothing,
    /// The network served and its post-filter.
    Network,
    /// Only the post-filter changed, behind the network published last.
    Filter,
}

/// Publishes what changed: a new choice, or new weights behind the one served. The refitted
/// filter changes at every epoch's end, but the network behind it only when the epoch trained
/// or the choice changed; re-exporting it otherwise would make the host rebuild a runner for
/// the same weights every epoch.
fn publication(serve: Served, before: Served, trained: bool) -> Publication {
    let new_choice = serve != before;
    match serve {
        Served::Initial if new_choice => Publication::Network,
        Served::Initial => Publication::Nothing,
        Served::Online | Served::Blend if trained || new_choice => Publication::Network,
        Served::Online | Served::Blend => Publication::Nothing,
        Served::Filtered if trained || new_choice => Publication::Network,
        Served::Filtered => Publication::Filter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untrained_epoch_behind_the_refitted_filter_publishes_the_filter_alone() {
        use Publication::*;
        use Served::*;
        assert_eq!(publication(Filtered, Filtered, false), Filter);
        assert_eq!(publication(Filtered, Filtered, true), Network);
        assert_eq!(publication(Filtered, Initial, false), Network);
        assert_eq!(publication(Filtered, Online, false), Network);
        assert_eq!(publication(Online, Filtered, false), Network);
        assert_eq!(publication(Online, Online, false), Nothing);
        assert_eq!(publication(Online, Online, true), Network);
        assert_eq!(publication(Blend, Blend, true), Network);
        assert_eq!(publication(Initial, Initial, true), Nothing);
        assert_eq!(publication(Initial, Filtered, false), Network);
    }
}
