// SPDX-License-Identifier: MPL-2.0

//! The server's suggested patch rate (`Feedback::suggested_patch_kbps`).
//!
//! The streamer's [`Scheduler`] splits an uplink that only the streamer knows. The server
//! sees both shares of what is actually used: the video's bit rate (the `bitrate` tag that
//! upstream parsers such as `h264parse` post, or the encoder's nominal rate) and the patch
//! bytes that reach it, and it measures what those patches bought (each epoch's gain). With
//! the three it runs the same Eq. 1–2 on the used uplink `C = v + p` and suggests the rate
//! that Eq. 2 reaches, so that a sender without a scheduler of its own (a browser, a fixed
//! `patch-kbps`) can follow the measured rate–gain curve. Without a video rate there is no
//! suggestion (0 on the wire), nor below WebRTC's minimum rate, where Eq. 2 sends nothing
//! and 0 already means "none".

use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::wire::Feedback;

const SECOND_NS: u64 = 1_000_000_000;

#[derive(Clone, Debug)]
pub struct PatchRateAdvisor {
    scheduler: Scheduler,
    video_kbps: Option<f64>,
    /// Patch bits received since the last epoch's end (the scheduler keeps its own count,
    /// which it clears at each feedback).
    bits_in_epoch: u64,
    /// The scheduler's clock: one Eq. 2 step per second of stream, as on the streamer.
    clock_ns: u64,
}

impl Default for PatchRateAdvisor {
    /// The streamer's defaults: the server suggests what `srpatch`'s scheduler would reach.
    fn default() -> Self {
        PatchRateAdvisor::new(SchedulerConfig::default())
    }
}

impl PatchRateAdvisor {
    pub fn new(cfg: SchedulerConfig) -> Self {
        PatchRateAdvisor {
            scheduler: Scheduler::new(cfg),
            video_kbps: None,
            bits_in_epoch: 0,
            clock_ns: 0,
        }
    }

    /// The video's bit rate as the stream's tags give it (kbit/s); non-finite or non-positive
    /// values are ignored.
    pub fn set_video_kbps(&mut self, kbps: f64) {
        if kbps.is_finite() && kbps > 0.0 {
            self.video_kbps = Some(kbps);
        }
    }

    pub fn video_kbps(&self) -> Option<f64> {
        self.video_kbps
    }

    /// Counts the bits of a patch message that arrived (its bytes × 8).
    pub fn record_received(&mut self, bits: u64) {
        self.scheduler.record_sent(bits);
        self.bits_in_epoch = self.bits_in_epoch.saturating_add(bits);
    }

    /// At an epoch's end, with the feedback about to be sent and the epoch's length in
    /// seconds: the suggested patch rate in kbit/s (0: no suggestion).
    pub fn on_epoch(&mut self, fb: &Feedback, epoch_s: f64) -> u32 {
        let bits = std::mem::take(&mut self.bits_in_epoch);
        self.scheduler.on_feedback(fb);
        let Some(video) = self.video_kbps else {
            return 0;
        };
        let epoch_s = if epoch_s.is_finite() {
            epoch_s.clamp(0.001, 3600.0)
        } else {
            1.0
        };
        let patches = bits as f64 / 1000.0 / epoch_s;
        let used = video + patches;
        // The streamer takes one step a second; the epoch's seconds, at least one.
        let mut alloc = None;
        for _ in 0..(epoch_s.round() as u64).max(1) {
            alloc = Some(self.scheduler.update(used, self.clock_ns));
            self.clock_ns += SECOND_NS;
        }
        alloc.map_or(0, |a| {
            if a.patch_kbps.is_finite() {
                a.patch_kbps.round().clamp(0.0, u32::MAX as f64) as u32
            } else {
                0
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::tests::fb;
    use crate::scheduler::RateQuality;
    use crate::wire::TrainerState;

    #[test]
    fn no_video_rate_no_suggestion() {
        let mut a = PatchRateAdvisor::new(SchedulerConfig::default());
        a.record_received(300_000);
        assert_eq!(a.on_epoch(&fb(1, TrainerState::Training, 0.5), 3.0), 0);
        a.set_video_kbps(f64::NAN);
        a.set_video_kbps(-5.0);
        assert_eq!(a.video_kbps(), None);
        assert_eq!(a.on_epoch(&fb(2, TrainerState::Training, 0.5), 3.0), 0);
    }

    /// Gains that pay for their bits raise the suggestion above the starting rate; gains
    /// that do not pay (or a suspended trainer) bring it to the floor.
    #[test]
    fn follows_what_the_patches_buy() {
        let cfg = SchedulerConfig::default();
        let (p0, floor) = (cfg.initial_kbps, cfg.min_kbps);
        let run = |gain: f32, state: TrainerState| {
            let mut a = PatchRateAdvisor::new(SchedulerConfig::default());
            a.set_video_kbps(800.0);
            let mut s = 0;
            for e in 1..=10 {
                a.record_received(100_000 * 3);
                s = a.on_epoch(&fb(e, state, gain), 3.0);
            }
            s as f64
        };
        assert!(run(0.3, TrainerState::Training) > p0 + 50.0);
        assert_eq!(run(0.0, TrainerState::Training), floor);
        assert_eq!(run(-0.2, TrainerState::Training), floor);
        assert_eq!(run(0.3, TrainerState::Suspended), floor);
    }

    #[test]
    fn below_webrtc_minimum_no_suggestion() {
        let mut a = PatchRateAdvisor::new(SchedulerConfig::default());
        a.set_video_kbps(120.0);
        a.record_received(20_000 * 3);
        assert_eq!(a.on_epoch(&fb(1, TrainerState::Training, 0.3), 3.0), 0);
    }

    /// A sender with no scheduler of its own that sends, each epoch, what the server
    /// suggested (from `p_0` until the first suggestion) against a simulated server whose total
    /// gain is concave in the patch data, `G(S) = A (1 − e^{−S/S0})`, and a video whose quality
    /// follows the rate–quality curve: over 300 s, Eq. 1's objective beats every fixed rate.
    #[test]
    fn following_the_suggestion_beats_every_fixed_rate() {
        fn run(a: f64, s0: f64, c: f64, fixed: Option<f64>) -> f64 {
            let cfg = SchedulerConfig::default();
            let (q_ref, curve): (f64, RateQuality) =
                (crate::scheduler::DEFAULT_Q_REF_DB, cfg.curve);
            let mut adv = PatchRateAdvisor::new(cfg.clone());
            let g = |s: f64| a * (1.0 - (-s / s0).exp());
            let (mut s_total, mut s_epoch, mut total) = (0.0, 0.0, 0.0);
            let mut p = fixed.unwrap_or(cfg.initial_kbps);
            for sec in 0..300u64 {
                s_total += p;
                adv.record_received((p * 1000.0) as u64);
                total += q_ref * curve.nq(c - p) + g(s_total);
                if sec % 3 == 2 {
                    let gain = g(s_total) - g(s_epoch);
                    s_epoch = s_total;
                    adv.set_video_kbps(c - p);
                    let epoch = (sec / 3) as u32;
                    let s = adv.on_epoch(&fb(epoch, TrainerState::Training, gain as f32), 3.0);
                    if fixed.is_none() && s > 0 {
                        p = s as f64;
                    }
                }
            }
            total / 300.0
        }
        for (a, s0, c) in [
            (4.0, 4000.0, 1500.0),
            (6.0, 6000.0, 1500.0),
            (10.0, 20000.0, 1500.0),
            (8.0, 10000.0, 3000.0),
            (2.0, 3000.0, 900.0),
        ] {
            let advised = run(a, s0, c, None);
            for fixed in [25.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0] {
                let q = run(a, s0, c, Some(fixed));
                assert!(
                    advised > q,
                    "A={a} S0={s0} C={c}: advised {advised:.3} dB, fixed {fixed} kbit/s {q:.3} dB"
                );
            }
        }
    }
}
