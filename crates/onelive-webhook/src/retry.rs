//! The retry schedule (a pure function of the attempt count, so it can be
//! persisted in the outbox).

use std::time::{Duration, SystemTime};

/// When to retry a failed delivery.
///
/// The first attempt is immediate; after the n-th failed attempt the next one
/// waits `delays[n-1]`, ±`jitter`; when `delays` is exhausted the delivery
/// fails. The default is Svix's: immediately, 5 s, 5 min, 30 min, 2 h, 5 h,
/// 10 h, 10 h (8 attempts over about 27.5 h), ±20 %.
///
/// A `Retry-After` response header (seconds or an HTTP date) replaces the
/// scheduled delay when it is longer, capped at `max_retry_after`.
///
/// ```
/// use std::time::Duration;
/// use onelive_webhook::RetrySchedule;
///
/// let s = RetrySchedule::default();
/// assert_eq!(s.max_attempts(), 8);
/// let d = s.delay_after(1, None).unwrap();
/// assert!(d >= Duration::from_secs(4) && d <= Duration::from_secs(6));
/// assert_eq!(s.delay_after(8, None), None); // gave up
/// // A longer Retry-After wins, within the cap.
/// let d = s.delay_after(1, Some(Duration::from_secs(120))).unwrap();
/// assert_eq!(d, Duration::from_secs(120));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    /// Delay before the 2nd, 3rd, ... attempt.
    pub delays: Vec<Duration>,
    /// Relative jitter, `0.0..=1.0` (0.2 = ±20 %).
    pub jitter: f64,
    /// Upper bound for a delay asked for by `Retry-After`.
    pub max_retry_after: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        const MIN: u64 = 60;
        const HOUR: u64 = 3600;
        RetrySchedule {
            delays: [5, 5 * MIN, 30 * MIN, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            jitter: 0.2,
            max_retry_after: Duration::from_secs(6 * HOUR),
        }
    }
}

impl RetrySchedule {
    /// A schedule with the given delays, no jitter, and a `Retry-After` cap of
    /// one hour (handy in tests).
    pub fn fixed(delays: impl IntoIterator<Item = Duration>) -> Self {
        RetrySchedule {
            delays: delays.into_iter().collect(),
            jitter: 0.0,
            max_retry_after: Duration::from_secs(3600),
        }
    }

    /// Total attempts, the first included.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX - 1).saturating_add(1)
    }

    /// The wait after `attempts_done` failed attempts, or `None` to give up.
    pub fn delay_after(
        &self,
        attempts_done: u32,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let index = usize::try_from(attempts_done.checked_sub(1)?).ok()?;
        let base = *self.delays.get(index)?;
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = if jitter > 0.0 { 1.0 + rand::random_range(-jitter..=jitter) } else { 1.0 };
        let scheduled = base.mul_f64(factor);
        Some(match retry_after {
            Some(asked) if asked > scheduled => asked.min(self.max_retry_after).max(scheduled),
            _ => scheduled,
        })
    }
}

/// Parses a `Retry-After` value: delay seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.ceil()));
    }
    let when =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let when: SystemTime = when.into();
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("1.2", now), Some(Duration::from_secs(2)));
        // 1445412480 = Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let s = RetrySchedule::default();
        for _ in 0..200 {
            let d = s.delay_after(2, None).unwrap();
            assert!(d >= Duration::from_secs(240) && d <= Duration::from_secs(360), "{d:?}");
        }
        assert_eq!(s.delay_after(0, None), None);
    }

    #[test]
    fn retry_after_is_capped() {
        let s = RetrySchedule::fixed([Duration::from_millis(10)]);
        assert_eq!(
            s.delay_after(1, Some(Duration::from_secs(999_999))),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(s.delay_after(1, Some(Duration::ZERO)), Some(Duration::from_millis(10)));
    }
}
