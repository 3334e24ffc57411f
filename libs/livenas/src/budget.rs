// SPDX-License-Identifier: MPL-2.0

//! The server's bound on how many patches it decodes per second of stream time.
//!
//! Patches come from the network, and each costs a JPEG decode and a place in the pairing
//! queue. A streamer's `srpatch` sends a fraction of a frame's area per second (100 kbit/s of
//! 96x96 JPEGs is about 2.5 patches); a replayed or forged stream can send thousands per
//! frame, and in a file pipeline, where the video waits for each training epoch, that CPU
//! time is taken from the video. Patches over the budget are dropped before decoding.

/// Patch area the server accepts per second of stream time, in output frames: dozens of
/// times what `srpatch` sends at its limits, so that only a flood is cut.
pub const FRAMES_PER_SECOND: u64 = 16;

/// Seconds of stream time remembered: patches for a second already spent stay over budget
/// when a stream alternates between a few seconds.
const SECONDS_KEPT: usize = 8;

/// Per-second accounting of accepted patch area, in pictures.
#[derive(Debug, Default)]
pub struct PatchBudget {
    /// (second of stream time, pictures' area accepted in it), newest last.
    used: Vec<(u64, f64)>,
}

impl PatchBudget {
    /// How many of `n` patches of `area` pixels each, cut from a picture of `picture` pixels,
    /// at `pts_ns`, fit in the second's budget of [`FRAMES_PER_SECOND`] pictures; those are
    /// counted as accepted. Counted in pictures, so that messages naming different pictures
    /// share one budget fairly.
    pub fn admit(&mut self, pts_ns: u64, n: usize, area: u64, picture: u64) -> usize {
        let second = pts_ns / 1_000_000_000;
        let i = match self.used.iter().position(|&(s, _)| s == second) {
            Some(i) => i,
            None => {
                if self.used.len() == SECONDS_KEPT {
                    self.used.remove(0);
                }
                self.used.push((second, 0.0));
                self.used.len() - 1
            }
        };
        let share = area as f64 / picture.max(1) as f64;
        let left = FRAMES_PER_SECOND as f64 - self.used[i].1;
        // The small margin keeps an exact fit from being lost to rounding.
        let fit = ((left / share.max(f64::MIN_POSITIVE)) + 1e-9)
            .floor()
            .max(0.0);
        let fit = (fit.min(n as f64)) as usize;
        self.used[i].1 += fit as f64 * share;
        fit
    }

    /// Forgets the accounting (a new stream, a flush).
    pub fn reset(&mut self) {
        self.used.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PICTURE: u64 = 320 * 180;

    #[test]
    fn a_flood_within_one_second_is_cut_at_the_limit() {
        let mut b = PatchBudget::default();
        let area = 96 * 96;
        let mut accepted = 0;
        for _ in 0..1000 {
            accepted += b.admit(500_000_000, 8, area, PICTURE);
        }
        assert_eq!(accepted as u64, FRAMES_PER_SECOND * PICTURE / area);
        // The next second has its own budget.
        assert_eq!(b.admit(1_200_000_000, 8, area, PICTURE), 8);
    }

    #[test]
    fn alternating_between_seconds_does_not_renew_the_budget() {
        let mut b = PatchBudget::default();
        // Patches of a tenth of the picture: 10 · FRAMES_PER_SECOND a second.
        let mut accepted = 0;
        for i in 0..300u64 {
            accepted += b.admit((i % 3) * 1_000_000_000, 4, 100, 1000);
        }
        assert_eq!(accepted as u64, 3 * 10 * FRAMES_PER_SECOND);
    }

    #[test]
    fn a_streamer_at_its_limits_is_never_cut() {
        // srpatch at 2000 kbit/s with 32x32 patches, eight a frame at 60 fps, into 320x180.
        let mut b = PatchBudget::default();
        for frame in 0..600u64 {
            let pts = frame * 1_000_000_000 / 60;
            assert_eq!(b.admit(pts, 8, 32 * 32, PICTURE), 8, "frame {frame}");
        }
    }

    #[test]
    fn a_message_naming_a_small_picture_takes_its_share_not_the_tally() {
        let mut b = PatchBudget::default();
        assert_eq!(b.admit(0, 50, 32 * 32, PICTURE), 50);
        assert_eq!(b.admit(0, 2, 32 * 32, 64 * 64), 2);
    }
}
