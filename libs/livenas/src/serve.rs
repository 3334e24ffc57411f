// SPDX-License-Identifier: MPL-2.0

//! The safety net of online training: which weights the element serves in the next epoch.
//!
//! LiveNAS serves the newest online network. On content that changes faster than it can
//! learn (a scene cut, a trailer's short shots) that network is worse than the generic one it
//! started from (models/srenhance/EVAL.md: −0.25 dB for an epoch after each cut, −0.11 dB on
//! average over a trailer). So the starting network DNN_0 stays frozen beside the online one,
//! and at each epoch's end the element serves whichever of DNN_0, the online network or their
//! average (WiSE-FT's weight-space ensemble, which keeps most of a fine-tune's gain while
//! losing less off its data) scored best on the patches that arrived during the epoch,
//! measured on arrival, before any training on them ([`crate::trainer::Trainer::add`]): an
//! unbiased estimate of what each would deliver on what the camera shows now.
//!
//! A fourth candidate is the online network followed by the least-squares post-filter fitted
//! on its output over the scene's patches ([`crate::postfilter`]): a closed-form fit that learns much more from a few
//! dozen patches than a few hundred Adam steps do, but only for as long as the scene lasts.
//!
//! With a generic post-filter (fitted offline on DNN_0's output and shipped beside it), DNN_0
//! is served with it and every refit is pulled toward it, so the filtered candidate starts
//! from the generic filter at a cut instead of from nothing.
//!
//! A scene cut (detected on the video, [`crate::scene`]) switches to DNN_0 at once; the
//! measure then restarts with the patches after the cut. When DNN_0 beats the online network
//! by more than [`RESET_MARGIN_DB`] on fresh patches the learning no longer fits the content,
//! and training restarts from DNN_0 (CoTTA's restore, all at once).

use crate::trainer::EpochQuality;
use serde::{Deserialize, Serialize};

/// Below this many fresh pairs an epoch's measure is too noisy to leave DNN_0 on: a
/// 96x96 pair's PSNR varies by several dB with its content, and 4 is what one second of
/// patches at the default rate brings.
pub const MIN_FRESH: usize = 4;
/// DNN_0 this much better than the online network on fresh patches: restart from DNN_0.
pub const RESET_MARGIN_DB: f64 = 0.1;

/// The weights served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Served {
    /// DNN_0: the loaded (generic or saved) model.
    #[default]
    Initial,
    /// The online network.
    Online,
    /// The average of the two.
    Blend,
    /// The online network and the post-filter.
    Filtered,
}

impl Served {
    pub fn as_str(self) -> &'static str {
        match self {
            Served::Initial => "initial",
            Served::Online => "online",
            Served::Blend => "blend",
            Served::Filtered => "filtered",
        }
    }
}

/// The choice for the next epoch, from this epoch's measures (on the `q.fresh` pairs that
/// arrived since the epoch began, or since the cut in it when `cut`); `last` is what was
/// served.
pub fn choose(q: &EpochQuality, cut: bool, last: Served) -> Served {
    if q.fresh < MIN_FRESH {
        // Nothing new to judge by: after a cut DNN_0 (the only network that has not seen the
        // old scene), otherwise no change.
        return if cut { Served::Initial } else { last };
    }
    let score = |v: f64| if v.is_finite() { v } else { f64::NEG_INFINITY };
    // Ties go to the safer choice (DNN_0, then the blend).
    let mut best = (Served::Initial, score(q.initial));
    for (s, v) in [
        (Served::Blend, q.blend),
        (Served::Online, q.current),
        (Served::Filtered, q.filtered),
    ] {
        if score(v) > best.1 {
            best = (s, score(v));
        }
    }
    best.0
}

/// Whether training should restart from DNN_0 (see the module documentation). The online
/// side is the better of the network alone and with its refitted filter: DNN_0's measure
/// includes the generic filter when there is one, and a network that only wins once filtered
/// still learns the scene.
pub fn should_reset(q: &EpochQuality) -> bool {
    let online = q.online();
    q.fresh >= MIN_FRESH
        && q.initial.is_finite()
        && online.is_finite()
        && q.initial - online > RESET_MARGIN_DB
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(current: f64, blend: f64, initial: f64) -> EpochQuality {
        q_fresh(current, blend, initial, 10)
    }

    fn q_fresh(current: f64, blend: f64, initial: f64, fresh: usize) -> EpochQuality {
        EpochQuality {
            epoch: 0,
            patches: 10,
            fresh,
            current,
            blend,
            filtered: f64::NAN,
            previous: f64::NAN,
            initial,
            bicubic: 30.0,
            bilinear: f64::NAN,
            steps: 0,
            train_psnr: f64::NAN,
        }
    }

    #[test]
    fn the_best_on_fresh_patches_is_served() {
        assert_eq!(
            choose(&q(31.0, 30.8, 30.5), false, Served::Initial),
            Served::Online
        );
        assert_eq!(
            choose(&q(30.6, 30.8, 30.5), false, Served::Online),
            Served::Blend
        );
        assert_eq!(
            choose(&q(30.2, 30.4, 30.5), false, Served::Online),
            Served::Initial
        );
        // Ties: the safer one.
        assert_eq!(
            choose(&q(30.5, 30.5, 30.5), false, Served::Online),
            Served::Initial
        );
        let mut with_filter = q(30.6, 30.8, 30.5);
        with_filter.filtered = 30.9;
        assert_eq!(
            choose(&with_filter, false, Served::Online),
            Served::Filtered
        );
        with_filter.filtered = 30.8;
        assert_eq!(choose(&with_filter, false, Served::Online), Served::Blend);
        // A NaN measure never wins.
        assert_eq!(
            choose(&q(f64::NAN, f64::NAN, 30.5), false, Served::Online),
            Served::Initial
        );
    }

    #[test]
    fn without_fresh_patches_the_choice_stays_except_after_a_cut() {
        let m = |fresh| q_fresh(35.0, 33.0, 30.0, fresh);
        assert_eq!(choose(&m(0), false, Served::Blend), Served::Blend);
        assert_eq!(
            choose(&m(MIN_FRESH - 1), false, Served::Online),
            Served::Online
        );
        assert_eq!(choose(&m(0), true, Served::Online), Served::Initial);
        assert_eq!(choose(&m(MIN_FRESH), true, Served::Initial), Served::Online);
    }

    #[test]
    fn the_gain_over_the_initial_network_compares_like_with_like() {
        // DNN_0's measure includes the generic filter; the online side may win only once its
        // own filter is refitted, and a refit that scores lower is not held against it.
        let mut m = q(30.0, 30.1, 30.3);
        assert!((m.gain_vs_initial() + 0.3).abs() < 1e-9);
        m.filtered = 30.4;
        assert!((m.gain_vs_initial() - 0.1).abs() < 1e-9);
        m.filtered = 29.0;
        assert!((m.gain_vs_initial() + 0.3).abs() < 1e-9);
    }

    #[test]
    fn training_restarts_when_the_initial_network_is_clearly_better() {
        assert!(should_reset(&q(30.0, 30.2, 30.3)));
        assert!(!should_reset(&q(30.25, 30.2, 30.3)));
        assert!(!should_reset(&q_fresh(30.0, 30.2, 30.3, MIN_FRESH - 1)));
        assert!(!should_reset(&q(f64::NAN, 30.2, 30.3)));
        // The online network with its filter is close enough: no restart.
        let mut filtered = q(30.0, 30.2, 30.3);
        filtered.filtered = 30.25;
        assert!(!should_reset(&filtered));
    }
}
