//! Quality-optimizing scheduler of the streamer (LiveNAS §5.1, Eq. 1–2): splits the
//! available uplink `C_t` between training patches `p_t` and the video `v_t = C_t - p_t`.
//!
//! # Objective and update
//!
//! Eq. 1 maximizes `Q_video(v_t) + γ Q_DNN(Σ_k p_k)`; both terms are concave, so gradient
//! ascent (Eq. 2) finds the optimum:
//!
//! ```text
//! p_{t+1} = p_t + α · ĝ_t,   ĝ_t = (C_t / Q_ref) · (γ dQ_DNN/dp − dQ_video/dv)
//! ```
//!
//! once per second (`update_interval`), with `α = 100` kbit/s and `p_0 = 100` kbit/s as in
//! the paper. Eq. 2 leaves the units of the gradient open; here both derivatives are taken in
//! dB per kbit/s and made dimensionless by `C_t / Q_ref` (the derivative of *normalized*
//! quality with respect to the *fraction* of the available bandwidth), so `α` is a rate in
//! kbit/s: a gradient of 0.1 moves the patch rate by 10 kbit/s per second.
//!
//! - `dQ_DNN/dp`: from the server's per-epoch feedback ([`crate::wire::Feedback`]). `gain_db` is
//!   the gain of the latest model over the previous one, i.e. `Q_DNN(Σ_{t−1}) − Q_DNN(Σ_{t−2})`,
//!   bought by the patch data sent in between, which the client counts (`ΔS` kbit). The
//!   secant `G' = gain_db / ΔS` (dB per kbit) is the slope of Eq. 1's concave `Q_DNN`. A learned
//!   gain persists, so Eq. 1 is summed over a horizon of `H` seconds (default 60 s): one more
//!   kbit/s for one second costs video quality for that second only, but raises `Q_DNN` for
//!   the whole horizon, hence `dQ_DNN/dp = H · G'` (dB per kbit/s). Clamped to
//!   ±[`MAX_DNN_SLOPE`] so hostile or noisy feedback cannot throw the split. (With `H` = one
//!   epoch the scheduler is myopic: in the simulation of the tests it then loses to fixed
//!   rates of 100–400 kbit/s; with 60 s it beats every fixed rate.)
//! - `dQ_video/dv`: from a normalized rate–quality curve [`RateQuality`],
//!   `NQ(v) = 1 + s · ln(v / v_ref)` (quality relative to the quality at `v_ref`), scaled to dB
//!   by `Q_ref`, the observed video quality: `dQ_video/dv = Q_ref · s / v`. `Q_ref` starts at
//!   [`DEFAULT_Q_REF_DB`] and follows measurements (the frame PSNR of the client's decoded
//!   frames, when it has them) by exponentially weighted averaging, as §5.1 describes.
//!
//! # The rate–quality curve (source)
//!
//! Measured here, not taken from the paper (its Fig. 6 gives no numbers): x264
//! (`-tune zerolatency -preset veryfast`, CBR-constrained) at 150–3200 kbit/s on 5 s of Big
//! Buck Bunny scaled to 640x360 and of `bikes` (640x272), luma PSNR against the source
//! (the oracle ffmpeg, `.cache/ffmpeg`). Luma PSNR in dB:
//!
//! | kbit/s | 150 | 200 | 300 | 400 | 600 | 800 | 1200 | 1600 | 2400 | 3200 |
//! |---|---|---|---|---|---|---|---|---|---|---|
//! | bbb 360p | 29.25 | 30.75 | 32.80 | 34.26 | 36.27 | 37.77 | 39.85 | 41.40 | 43.74 | 45.43 |
//! | bikes | 33.49 | 36.21 | 39.34 | 41.40 | 44.05 | 45.69 | 47.63 | 48.86 | 50.61 | 51.94 |
//!
//! Normalized by each clip's quality at 800 kbit/s, a least-squares fit of `1 + s ln(v/800)`
//! gives `s = 0.139` (bbb) and `0.129` (bikes); pooled `s = 0.134`, largest residual 0.04
//! (bikes at 150 kbit/s). `Q_ref` defaults to 38 dB, about the 800 kbit/s quality of the
//! harder clip.
//!
//! # Rules around the gradient
//!
//! - `C_t < 200` kbit/s (WebRTC's minimum encoding rate): no patches, `p = 0`.
//! - Server suspended (gain saturated): `p = p_min` (25 kbit/s); when it resumes, `p = p_0`.
//! - Otherwise `p_min ≤ p ≤ max_fraction · C_t` (patches never take more than half the link),
//!   and the second's split gives patches `min(p, C_t − 200)`: the video keeps WebRTC's
//!   minimum.
//! - Before any feedback the DNN slope is unknown and the rate stays at `p_0`.

use crate::wire::{Feedback, TrainerState};

/// Bound on |dQ_DNN/dp| in dB per kbit/s (a gain of 5 dB per epoch at 50 kbit/s).
pub const MAX_DNN_SLOPE: f64 = 0.1;
/// Default observed video quality (dB) before measurements.
pub const DEFAULT_Q_REF_DB: f64 = 38.0;

/// Normalized rate–quality model `NQ(v) = 1 + slope · ln(v / ref_kbps)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateQuality {
    pub ref_kbps: f64,
    pub slope: f64,
}

impl Default for RateQuality {
    /// The fit documented in the module: x264 zerolatency, 360p-class natural clips.
    fn default() -> Self {
        RateQuality {
            ref_kbps: 800.0,
            slope: 0.134,
        }
    }
}

impl RateQuality {
    /// Normalized quality at `kbps` (1.0 at the reference rate).
    pub fn nq(&self, kbps: f64) -> f64 {
        1.0 + self.slope * (kbps.max(1.0) / self.ref_kbps).ln()
    }

    /// d NQ / dv, per kbit/s.
    pub fn dnq(&self, kbps: f64) -> f64 {
        self.slope / kbps.max(1.0)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerConfig {
    /// Step size α, kbit/s.
    pub alpha_kbps: f64,
    /// Initial patch rate p_0 (also after the server resumes training), kbit/s.
    pub initial_kbps: f64,
    /// Patch rate while the server's training is suspended, and the floor otherwise, kbit/s.
    pub min_kbps: f64,
    /// Below this available bandwidth no patches are sent, kbit/s.
    pub min_bandwidth_kbps: f64,
    /// Largest share of the available bandwidth given to patches.
    pub max_fraction: f64,
    /// Discount γ of the DNN term (≤ 1).
    pub gamma: f64,
    /// Seconds over which a learned gain is counted (H), s.
    pub horizon_s: f64,
    /// Time between updates, ns (1 s).
    pub update_interval_ns: u64,
    pub curve: RateQuality,
    /// Weight of a new video-quality measurement in the running average.
    pub q_ewma: f64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            alpha_kbps: 100.0,
            initial_kbps: 100.0,
            min_kbps: 25.0,
            min_bandwidth_kbps: 200.0,
            max_fraction: 0.5,
            gamma: 1.0,
            horizon_s: 60.0,
            update_interval_ns: 1_000_000_000,
            curve: RateQuality::default(),
            q_ewma: 0.1,
        }
    }
}

/// The split decided by one update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Allocation {
    pub patch_kbps: f64,
    pub video_kbps: f64,
    /// The normalized gradient ĝ used (0 when a rule, not the gradient, set the rate).
    pub gradient: f64,
}

#[derive(Clone, Debug)]
pub struct Scheduler {
    cfg: SchedulerConfig,
    p: f64,
    state: TrainerState,
    /// dQ_DNN/dp estimate, dB per kbit/s.
    dnn_slope: Option<f64>,
    /// Patch bits sent since the last feedback.
    bits_since_feedback: u64,
    last_epoch: Option<u32>,
    q_ref_db: f64,
    last_update_ns: Option<u64>,
    last: Option<Allocation>,
}

impl Scheduler {
    pub fn new(cfg: SchedulerConfig) -> Self {
        let p = cfg.initial_kbps;
        Scheduler {
            cfg,
            p,
            state: TrainerState::Training,
            dnn_slope: None,
            bits_since_feedback: 0,
            last_epoch: None,
            q_ref_db: DEFAULT_Q_REF_DB,
            last_update_ns: None,
            last: None,
        }
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.cfg
    }

    /// The current patch rate p_t, kbit/s (before the bandwidth rules of [`Self::update`]).
    pub fn patch_kbps(&self) -> f64 {
        self.p
    }

    pub fn state(&self) -> TrainerState {
        self.state
    }

    pub fn dnn_slope(&self) -> Option<f64> {
        self.dnn_slope
    }

    pub fn q_ref_db(&self) -> f64 {
        self.q_ref_db
    }

    pub fn last_allocation(&self) -> Option<Allocation> {
        self.last
    }

    /// Counts patch bits actually sent (message bytes × 8).
    pub fn record_sent(&mut self, bits: u64) {
        self.bits_since_feedback = self.bits_since_feedback.saturating_add(bits);
    }

    /// A video-quality measurement (dB) at the current video rate: updates `Q_ref` so that the
    /// normalized curve passes through it (exponentially weighted).
    pub fn observe_video_quality(&mut self, psnr_db: f64, video_kbps: f64) {
        if !psnr_db.is_finite() || psnr_db <= 0.0 || !video_kbps.is_finite() {
            return;
        }
        let nq = self.cfg.curve.nq(video_kbps);
        if nq <= 0.05 {
            return;
        }
        let q_ref = (psnr_db / nq).clamp(10.0, 100.0);
        let w = self.cfg.q_ewma.clamp(0.0, 1.0);
        self.q_ref_db = (1.0 - w) * self.q_ref_db + w * q_ref;
    }

    /// Takes the server's per-epoch feedback (a repeated epoch number is ignored).
    pub fn on_feedback(&mut self, fb: &Feedback) {
        if self.last_epoch == Some(fb.epoch) {
            return;
        }
        self.last_epoch = Some(fb.epoch);
        let was = self.state;
        self.state = fb.state;
        match (was, fb.state) {
            (_, TrainerState::Suspended) => {
                self.p = self.cfg.min_kbps;
            }
            (TrainerState::Suspended, TrainerState::Training) => {
                // Resumed (scene change): restart from p_0 and forget the old slope.
                self.p = self.cfg.initial_kbps;
                self.dnn_slope = None;
            }
            (TrainerState::Training, TrainerState::Training) => {
                let kbit = self.bits_since_feedback as f64 / 1000.0;
                if kbit > 0.0 && fb.gain_db.is_finite() {
                    let slope = fb.gain_db as f64 / kbit * self.cfg.horizon_s;
                    self.dnn_slope = Some(slope.clamp(-MAX_DNN_SLOPE, MAX_DNN_SLOPE));
                }
            }
        }
        self.bits_since_feedback = 0;
    }

    /// Whether an update is due at `now_ns` (one per `update_interval`; the first at once).
    pub fn due(&self, now_ns: u64) -> bool {
        match self.last_update_ns {
            None => true,
            Some(t) => now_ns < t || now_ns - t >= self.cfg.update_interval_ns.max(1),
        }
    }

    /// The normalized gradient ĝ at rate `p` with available bandwidth `c` (both kbit/s).
    pub fn gradient(&self, p: f64, c: f64) -> f64 {
        let v = (c - p).max(1.0);
        let dq_video_dv = self.q_ref_db * self.cfg.curve.dnq(v);
        let dq_dnn_dp = self.dnn_slope.unwrap_or(0.0);
        c / self.q_ref_db * (self.cfg.gamma * dq_dnn_dp - dq_video_dv)
    }

    /// One step of Eq. 2 at `now_ns` with the available bandwidth `available_kbps` (C_t):
    /// updates p and returns the split. Call when [`Self::due`].
    pub fn update(&mut self, available_kbps: f64, now_ns: u64) -> Allocation {
        // Updates stay on a 1-s grid (the first frame at or after each second), unless the
        // clock jumped.
        let interval = self.cfg.update_interval_ns.max(1);
        self.last_update_ns = Some(match self.last_update_ns {
            Some(t) if now_ns >= t && (interval..2 * interval).contains(&(now_ns - t)) => {
                t + interval
            }
            _ => now_ns,
        });
        let c = if available_kbps.is_finite() {
            available_kbps.max(0.0)
        } else {
            0.0
        };
        let alloc = if c < self.cfg.min_bandwidth_kbps {
            Allocation {
                patch_kbps: 0.0,
                video_kbps: c,
                gradient: 0.0,
            }
        } else {
            // p itself stays within [p_min, max_fraction · C]; the video's minimum is applied
            // to this second's split only, so a short dip of the link does not reset p.
            let hi = (self.cfg.max_fraction * c).max(0.0);
            let lo = self.cfg.min_kbps.min(hi);
            let mut g = 0.0;
            match self.state {
                TrainerState::Suspended => self.p = self.cfg.min_kbps,
                TrainerState::Training => {
                    if self.dnn_slope.is_some() {
                        g = self.gradient(self.p.clamp(lo, hi), c);
                        self.p += self.cfg.alpha_kbps * g;
                    }
                }
            }
            self.p = self.p.clamp(lo, hi);
            let patch = self.p.min(c - self.cfg.min_bandwidth_kbps).max(0.0);
            Allocation {
                patch_kbps: patch,
                video_kbps: c - patch,
                gradient: g,
            }
        };
        self.last = Some(alloc);
        alloc
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Feedback with only the fields the scheduler reads (also used by `advice`'s tests).
    pub(crate) fn fb(epoch: u32, state: TrainerState, gain_db: f32) -> Feedback {
        Feedback {
            epoch,
            state,
            gain_db,
            gain_vs_initial_db: 0.0,
            gain_vs_bicubic_db: 0.0,
            training_fraction: 1.0,
            suggested_patch_kbps: 0,
        }
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn rate_quality_curve_is_concave_and_normalized() {
        let c = RateQuality::default();
        assert!((c.nq(800.0) - 1.0).abs() < 1e-12);
        // Within the fit's residual of the measured bbb points (normalized at 800).
        assert!((c.nq(200.0) - 30.75 / 37.77).abs() < 0.03);
        assert!((c.nq(3200.0) - 45.43 / 37.77).abs() < 0.03);
        assert!(c.dnq(200.0) > c.dnq(400.0));
    }

    /// With the DNN marginal given exactly (a concave `Q_DNN` whose slope falls as `p`
    /// grows), Eq. 2's iteration reaches the maximizer of the concave objective.
    #[test]
    fn converges_to_the_optimum_of_a_concave_objective() {
        for (c, k) in [(2000.0, 2.0), (1000.0, 1.0), (4000.0, 0.5)] {
            let mut sch = Scheduler::new(SchedulerConfig::default());
            let q_ref = sch.q_ref_db();
            let curve = sch.config().curve;
            for t in 0..400u64 {
                // dQ_DNN/dp = k / (p + 50): Q_DNN = k ln(p + 50).
                sch.dnn_slope = Some(k / (sch.patch_kbps() + 50.0));
                sch.update(c, t * S);
            }
            // Optimum: k / (p + 50) = Q_ref s / (c − p), by bisection.
            let f = |p: f64| k / (p + 50.0) - q_ref * curve.dnq(c - p);
            let (mut lo, mut hi) = (25.0, 0.5 * c);
            for _ in 0..60 {
                let m = 0.5 * (lo + hi);
                if f(m) > 0.0 {
                    lo = m
                } else {
                    hi = m
                }
            }
            let p = sch.patch_kbps();
            assert!((p - lo).abs() < 2.0, "C={c} k={k}: p={p} optimum={lo}");
        }
    }

    /// A simulated server whose total gain is concave in the patch data it received,
    /// `G(S) = A (1 − e^{−S/S0})`, answering every 5 s with the last epoch's gain; the video
    /// quality follows the module's curve. Over 300 s, the total of Eq. 1's objective with
    /// the scheduler beats every fixed patch rate (LiveNAS §8: "outperforms any scheme that
    /// allocates fixed bandwidth"), and the rate falls to the floor once the gain saturates.
    #[test]
    fn beats_every_fixed_rate_on_a_saturating_server() {
        fn run(a: f64, s0: f64, c: f64, fixed: Option<f64>) -> (f64, f64) {
            let mut sch = Scheduler::new(SchedulerConfig::default());
            let (q_ref, curve) = (sch.q_ref_db(), sch.config().curve);
            let g = |s: f64| a * (1.0 - (-s / s0).exp());
            let (mut s_total, mut s_epoch, mut total, mut p) = (0.0, 0.0, 0.0, 0.0);
            for sec in 0..300u64 {
                if sch.due(sec * S) {
                    sch.update(c, sec * S);
                }
                p = fixed.unwrap_or(sch.patch_kbps());
                s_total += p;
                sch.record_sent((p * 1000.0) as u64);
                total += q_ref * curve.nq(c - p) + g(s_total);
                if sec % 5 == 4 {
                    let gain = g(s_total) - g(s_epoch);
                    s_epoch = s_total;
                    sch.on_feedback(&fb(sec as u32 / 5, TrainerState::Training, gain as f32));
                }
            }
            (total / 300.0, p)
        }
        for (a, s0, c) in [
            (4.0, 4000.0, 1500.0),
            (6.0, 6000.0, 1500.0),
            (10.0, 20000.0, 1500.0),
            (3.0, 20000.0, 1500.0),
            (8.0, 10000.0, 3000.0),
            (2.0, 3000.0, 800.0),
        ] {
            let (sched, last_p) = run(a, s0, c, None);
            for fixed in [25.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0] {
                let (q, _) = run(a, s0, c, Some(fixed));
                assert!(
                    sched > q,
                    "A={a} S0={s0} C={c}: scheduler {sched:.3} dB, fixed {fixed} kbit/s {q:.3} dB"
                );
            }
            if s0 <= 6000.0 {
                assert_eq!(last_p, 25.0, "A={a} S0={s0}: saturated, rate at the floor");
            }
        }
    }

    #[test]
    fn suspended_means_p_min_and_resume_means_p0() {
        let mut sch = Scheduler::new(SchedulerConfig::default());
        sch.record_sent(500_000);
        sch.on_feedback(&fb(0, TrainerState::Training, 2.0));
        sch.update(2000.0, 5 * S);
        sch.on_feedback(&fb(1, TrainerState::Suspended, 0.01));
        for t in 10..20 {
            let a = sch.update(2000.0, t * S);
            assert_eq!(a.patch_kbps, 25.0);
            assert_eq!(a.video_kbps, 1975.0);
        }
        sch.on_feedback(&fb(2, TrainerState::Training, 0.5));
        assert_eq!(sch.patch_kbps(), 100.0);
        assert_eq!(sch.dnn_slope(), None);
        assert_eq!(sch.update(2000.0, 20 * S).patch_kbps, 100.0);
    }

    #[test]
    fn below_200_kbps_nothing_is_sent() {
        let mut sch = Scheduler::new(SchedulerConfig::default());
        for c in [0.0, 50.0, 199.9, f64::NAN, -5.0] {
            let a = sch.update(c, 0);
            assert_eq!(a.patch_kbps, 0.0, "C={c}");
        }
        // Just over 200 kbit/s: the video keeps 200, patches get what is left.
        let a = sch.update(230.0, S);
        assert!((a.patch_kbps - 30.0).abs() < 1e-9 && (a.video_kbps - 200.0).abs() < 1e-9);
        let a = sch.update(210.0, 2 * S);
        assert!((a.patch_kbps - 10.0).abs() < 1e-9, "{a:?}");
        // Recovers once the link does.
        assert_eq!(sch.update(3000.0, 3 * S).patch_kbps, 100.0);
    }

    #[test]
    fn feedback_moves_the_rate_in_the_right_direction() {
        // Large gains per epoch: more patches. No gain: fewer.
        let mut up = Scheduler::new(SchedulerConfig::default());
        up.record_sent(500_000);
        up.on_feedback(&fb(0, TrainerState::Training, 1.0));
        let a = up.update(1500.0, 5 * S);
        assert!(a.patch_kbps > 100.0 && a.gradient > 0.0, "{a:?}");
        let mut down = Scheduler::new(SchedulerConfig::default());
        down.record_sent(500_000);
        down.on_feedback(&fb(0, TrainerState::Training, 0.0));
        let a = down.update(1500.0, 5 * S);
        assert!(a.patch_kbps < 100.0 && a.gradient < 0.0, "{a:?}");
        // A repeated epoch number is ignored; an absurd gain is clamped.
        down.on_feedback(&fb(0, TrainerState::Training, 1e9));
        assert!(down.dnn_slope().unwrap() <= 0.0);
        down.record_sent(1000);
        down.on_feedback(&fb(1, TrainerState::Training, 1e9));
        assert_eq!(down.dnn_slope(), Some(MAX_DNN_SLOPE));
        // Never above half the link.
        for t in 8..40 {
            let a = down.update(1500.0, t * S);
            assert!(a.patch_kbps <= 750.0);
        }
        // No patch data since the last feedback: the slope is kept.
        down.on_feedback(&fb(2, TrainerState::Training, -3.0));
        assert_eq!(down.dnn_slope(), Some(MAX_DNN_SLOPE));
    }

    #[test]
    fn updates_once_per_second() {
        let mut sch = Scheduler::new(SchedulerConfig::default());
        assert!(sch.due(0));
        sch.update(1000.0, 0);
        assert!(!sch.due(S / 2));
        assert!(sch.due(S));
        // 30 fps frames: one update per second of stream time, no drift.
        let frame = S / 30;
        let n = (1..=30 * 60u64)
            .filter(|k| {
                let due = sch.due(k * frame);
                if due {
                    sch.update(1000.0, k * frame);
                }
                due
            })
            .count();
        assert_eq!(n, 59);
        // A clock going backwards (new segment) is due at once.
        sch.update(1000.0, 5 * S);
        assert!(sch.due(S));
    }

    #[test]
    fn video_quality_measurements_move_q_ref() {
        let mut sch = Scheduler::new(SchedulerConfig::default());
        for _ in 0..200 {
            sch.observe_video_quality(30.0, 800.0);
        }
        assert!((sch.q_ref_db() - 30.0).abs() < 0.01);
        sch.observe_video_quality(f64::INFINITY, 800.0);
        sch.observe_video_quality(f64::NAN, 800.0);
        assert!((sch.q_ref_db() - 30.0).abs() < 0.01);
    }
}
