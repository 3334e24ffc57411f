// SPDX-License-Identifier: MPL-2.0

//! Pairing reference and distorted frames by time.
//!
//! The video aggregator hands over the frames of both inputs for each output slot, but in a
//! live pipeline a slot does not wait for an input that is late: it goes on with the frame
//! that input had before, or none. A late input's frames then come in later slots, next to
//! reference frames of other times. Frames are therefore kept here until the frame of the
//! same time on the other input comes, whichever slot that happens in.

use std::collections::VecDeque;

/// A frame and when it is shown (running time, nanoseconds).
pub struct Timed<F> {
    pub start: u64,
    pub duration: Option<u64>,
    pub frame: F,
}

pub enum Paired<R, D> {
    Pair(R, D),
    /// A distorted frame no reference frame is shown with.
    Unpaired(D),
}

pub struct Pairer<R, D> {
    refs: VecDeque<Timed<R>>,
    dists: VecDeque<Timed<D>>,
    ref_ended: bool,
    /// Frames kept at most per input, so that an input that stalls costs bounded memory.
    limit: usize,
}

impl<R, D> Pairer<R, D> {
    pub fn new(limit: usize) -> Self {
        Pairer {
            refs: VecDeque::new(),
            dists: VecDeque::new(),
            ref_ended: false,
            limit: limit.max(1),
        }
    }

    /// Queues a reference frame; returns the number of reference frames given up on to keep
    /// within the limit.
    pub fn push_ref(&mut self, f: Timed<R>) -> usize {
        self.refs.push_back(f);
        let over = self.refs.len().saturating_sub(self.limit);
        self.refs.drain(..over);
        over
    }

    pub fn push_dist(&mut self, f: Timed<D>) {
        self.dists.push_back(f);
    }

    /// No reference frame will follow: distorted frames not paired yet will not be.
    pub fn end_ref(&mut self) {
        self.ref_ended = true;
    }

    /// Distorted frames waiting for their reference frame.
    pub fn waiting(&self) -> usize {
        self.dists.len()
    }

    /// The next pair, or distorted frame that cannot be paired, that is decided.
    pub fn next(&mut self) -> Option<Paired<R, D>> {
        loop {
            let d = self.dists.front()?;
            let Some(r) = self.refs.front() else {
                if self.ref_ended || self.dists.len() > self.limit {
                    return self.dists.pop_front().map(|d| Paired::Unpaired(d.frame));
                }
                return None;
            };
            // Two inputs of one frame rate start a little apart (live sources) or at the same
            // time; frames closer than half the shorter frame are shown together.
            let half = match (r.duration, d.duration) {
                (Some(a), Some(b)) => a.min(b) / 2,
                (Some(a), None) | (None, Some(a)) => a / 2,
                (None, None) => 0,
            };
            let diff = r.start as i128 - d.start as i128;
            if diff == 0 || diff.unsigned_abs() < half as u128 {
                let r = self.refs.pop_front().unwrap();
                let d = self.dists.pop_front().unwrap();
                return Some(Paired::Pair(r.frame, d.frame));
            }
            if diff < 0 {
                // Earlier than this distorted frame, and so than every later one.
                self.refs.pop_front();
            } else {
                // Later reference frames are later still.
                return self.dists.pop_front().map(|d| Paired::Unpaired(d.frame));
            }
        }
    }

    /// Everything still waiting, at the end of the stream: the distorted frames are unpaired.
    pub fn drain(&mut self) -> Vec<Paired<R, D>> {
        self.ref_ended = true;
        std::iter::from_fn(|| self.next()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn t(ms: u64) -> Timed<u64> {
        Timed {
            start: ms * MS,
            duration: Some(40 * MS),
            frame: ms,
        }
    }

    fn all(p: &mut Pairer<u64, u64>) -> Vec<(Option<u64>, u64)> {
        std::iter::from_fn(|| p.next())
            .map(|x| match x {
                Paired::Pair(r, d) => (Some(r), d),
                Paired::Unpaired(d) => (None, d),
            })
            .collect()
    }

    #[test]
    fn a_late_distorted_input_pairs_with_the_reference_of_its_time() {
        let mut p = Pairer::new(16);
        for k in 0..4 {
            p.push_ref(t(40 * k));
        }
        assert!(all(&mut p).is_empty());
        p.push_dist(t(0));
        p.push_dist(t(40));
        assert_eq!(all(&mut p), [(Some(0), 0), (Some(40), 40)]);
    }

    #[test]
    fn a_late_reference_input_pairs_with_the_distorted_frame_of_its_time() {
        let mut p = Pairer::new(16);
        p.push_dist(t(0));
        p.push_dist(t(40));
        assert!(all(&mut p).is_empty());
        p.push_ref(t(0));
        assert_eq!(all(&mut p), [(Some(0), 0)]);
        p.push_ref(t(40));
        assert_eq!(all(&mut p), [(Some(40), 40)]);
    }

    #[test]
    fn offsets_under_half_a_frame_pair_and_gaps_do_not() {
        let mut p = Pairer::new(16);
        // Live sources started 3 ms apart; the reference lacks the frame at 80 ms and the
        // distorted input the one at 120 ms.
        for ms in [3, 43, 163] {
            p.push_ref(t(ms));
        }
        for ms in [0, 40, 80, 160] {
            p.push_dist(t(ms));
        }
        assert_eq!(
            all(&mut p),
            [(Some(3), 0), (Some(43), 40), (None, 80), (Some(163), 160)]
        );
    }

    #[test]
    fn after_the_reference_ends_distorted_frames_are_unpaired() {
        let mut p = Pairer::new(16);
        p.push_ref(t(0));
        p.push_dist(t(0));
        p.push_dist(t(40));
        assert_eq!(all(&mut p), [(Some(0), 0)]);
        p.end_ref();
        assert_eq!(all(&mut p), [(None, 40)]);
        p.push_dist(t(80));
        assert_eq!(all(&mut p), [(None, 80)]);
    }

    #[test]
    fn waiting_is_bounded() {
        let mut p = Pairer::new(2);
        for k in 0..3 {
            p.push_dist(t(40 * k));
        }
        assert_eq!(all(&mut p), [(None, 0)]);
        assert_eq!(p.waiting(), 2);
        assert_eq!(p.push_ref(t(40)), 0);
        assert_eq!(p.push_ref(t(80)), 0);
        assert_eq!(p.push_ref(t(120)), 1);
        assert_eq!(all(&mut p), [(None, 40), (Some(80), 80)]);
        assert_eq!(p.drain().len(), 0);
    }
}
