//! Growing, capped retry delays with jitter, and failure episodes.
//!
//! A recording that fails quickly again and again (a full disk, exhausted
//! inodes, a stream URL that answers but never plays) and a transmux job
//! that fails are retried after `base`, `2 × base`, `4 × base`, ... up to
//! `cap`, each delay shortened by up to `jitter` (a fraction) so that many
//! channels failing together do not retry in step. The delays are pure
//! ([`Backoff::delay`]); [`Episode`] counts the failures of one episode and
//! says which one deserves the episode's single `error` event.

use std::time::Duration;

/// A retry schedule: `base × 2^(attempt-1)`, at most `cap`, minus up to
/// `jitter × delay`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backoff {
    /// The delay before the first retry.
    pub(crate) base: Duration,
    /// No delay is longer.
    pub(crate) cap: Duration,
    /// The fraction of a delay taken off at random (0: none, 0.2: up to 20 %).
    pub(crate) jitter: f64,
}

impl Backoff {
    /// The delay before retry number `attempt` (1 is the first retry);
    /// `sample` is a random number in `[0, 1)` (0 gives the full delay).
    pub(crate) fn delay(&self, attempt: u32, sample: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1u32 << doublings).min(self.cap.max(self.base));
        let cut = self.jitter.clamp(0.0, 1.0) * sample.clamp(0.0, 1.0);
        full.mul_f64(1.0 - cut)
    }
}

/// The failures of one episode: from the first failure to the next success.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Episode {
    failures: u32,
    reported: bool,
}

impl Episode {
    /// Counts a failure; returns its number in the episode (1 for the first).
    pub(crate) fn fail(&mut self) -> u32 {
        self.failures = self.failures.saturating_add(1);
        self.failures
    }

    /// True once: the episode's one `error` event is due (later calls in
    /// the same episode return false).
    pub(crate) fn report(&mut self) -> bool {
        !std::mem::replace(&mut self.reported, true)
    }

    /// Failures so far in this episode.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    /// A success ends the episode; returns how many failures it had.
    pub(crate) fn succeed(&mut self) -> u32 {
        std::mem::take(self).failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn delays_double_from_the_base_up_to_the_cap() {
        let b = Backoff { base: S(1), cap: S(60), jitter: 0.0 };
        let delays: Vec<u64> = (1..=9).map(|n| b.delay(n, 0.5).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        // No overflow however many attempts.
        assert_eq!(b.delay(u32::MAX, 0.0), S(60));
        // Attempt 0 is treated as the first retry.
        assert_eq!(b.delay(0, 0.0), S(1));
    }

    #[test]
    fn jitter_only_shortens_and_stays_within_its_fraction() {
        let b = Backoff { base: S(10), cap: S(100), jitter: 0.2 };
        assert_eq!(b.delay(1, 0.0), S(10));
        assert_eq!(b.delay(1, 0.5), S(9));
        assert_eq!(b.delay(4, 0.999_999).as_millis(), 64_000);
        assert_eq!(b.delay(9, 1.0), S(80));
        // Out-of-range samples and jitter are clamped.
        assert_eq!(b.delay(1, 7.0), S(8));
        let wild = Backoff { jitter: 3.0, ..b };
        assert_eq!(wild.delay(1, 0.5), S(5));
    }

    #[test]
    fn a_cap_below_the_base_keeps_the_base() {
        let b = Backoff { base: S(5), cap: S(1), jitter: 0.0 };
        assert_eq!(b.delay(3, 0.0), S(5));
    }

    #[test]
    fn an_episode_reports_once_until_a_success() {
        let mut e = Episode::default();
        assert_eq!(e.fail(), 1);
        assert!(e.report());
        assert_eq!(e.fail(), 2);
        assert!(!e.report());
        assert_eq!(e.fail(), 3);
        assert!(!e.report());
        assert_eq!(e.failures(), 3);
        assert_eq!(e.succeed(), 3);
        assert_eq!(e.failures(), 0);
        assert_eq!(e.fail(), 1);
        assert!(e.report(), "a new episode reports again");
    }
}
