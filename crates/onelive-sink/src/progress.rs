//! Upload progress reporting.
//!
//! The library never prints: it reports progress to a [`ProgressReporter`].
//! [`LogProgress`] writes periodic `tracing` lines (the default, for
//! services and non-terminals); a binary can plug in terminal bars.

use std::fmt;
use std::time::{Duration, Instant};

/// Creates one progress handle per upload.
pub trait ProgressReporter: Send + Sync + fmt::Debug {
    /// An upload of `total_bytes` named `label` starts.
    fn start(&self, label: &str, total_bytes: u64) -> Box<dyn ProgressHandle>;
}

/// Progress of one upload.
pub trait ProgressHandle: Send {
    /// `bytes` more were sent.
    fn advance(&mut self, bytes: u64);
    /// The attempt ended (successfully or not).
    fn finish(&mut self, success: bool);
}

/// Logs a line every `interval` per upload: bytes, percentage, rate, ETA.
#[derive(Debug, Clone)]
pub struct LogProgress {
    interval: Duration,
}

impl LogProgress {
    /// Logs every `interval`.
    pub fn new(interval: Duration) -> Self {
        LogProgress { interval }
    }
}

impl ProgressReporter for LogProgress {
    fn start(&self, label: &str, total_bytes: u64) -> Box<dyn ProgressHandle> {
        let now = Instant::now();
        Box::new(LogHandle {
            label: label.to_owned(),
            total: total_bytes,
            done: 0,
            started: now,
            last: now,
            interval: self.interval,
        })
    }
}

struct LogHandle {
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    last: Instant,
    interval: Duration,
}

/// `1.5 GiB`-style size.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

impl LogHandle {
    fn line(&self) -> String {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        #[allow(clippy::cast_precision_loss)]
        let rate = self.done as f64 / elapsed;
        #[allow(clippy::cast_precision_loss)]
        let percent =
            if self.total == 0 { 100.0 } else { self.done as f64 * 100.0 / self.total as f64 };
        #[allow(clippy::cast_precision_loss)]
        let eta =
            if rate > 0.0 { (self.total.saturating_sub(self.done)) as f64 / rate } else { 0.0 };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let rate_text = human_bytes(rate as u64);
        format!(
            "upload {}: {} / {} ({percent:.0}%), {rate_text}/s, ETA {eta:.0}s",
            self.label,
            human_bytes(self.done),
            human_bytes(self.total)
        )
    }
}

impl ProgressHandle for LogHandle {
    fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        if self.last.elapsed() >= self.interval {
            self.last = Instant::now();
            tracing::info!("{}", self.line());
        }
    }

    fn finish(&mut self, success: bool) {
        if success {
            tracing::info!("{} done in {:.1}s", self.line(), self.started.elapsed().as_secs_f64());
        }
    }
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ProgressReporter for NoProgress {
    fn start(&self, _label: &str, _total_bytes: u64) -> Box<dyn ProgressHandle> {
        Box::new(NoProgress)
    }
}

impl ProgressHandle for NoProgress {
    fn advance(&mut self, _bytes: u64) {}
    fn finish(&mut self, _success: bool) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(2 * 1024 * 1024 * 1024), "2.0 GiB");
    }
}
