//! Terminal progress bars: one indicatif bar per concurrent upload.

use std::io::Write;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use onelive_sink::progress::{ProgressHandle, ProgressReporter};

/// Draws bars on stderr; log lines are printed above them.
#[derive(Debug, Clone)]
pub struct BarProgress {
    multi: MultiProgress,
}

impl BarProgress {
    pub fn new() -> Self {
        BarProgress { multi: MultiProgress::new() }
    }

    /// A `MakeWriter` for the console log that does not tear the bars.
    pub fn console_writer(&self) -> impl Fn() -> SuspendingStderr + Send + Sync + 'static {
        let multi = self.multi.clone();
        move || SuspendingStderr { multi: multi.clone() }
    }
}

pub struct SuspendingStderr {
    multi: MultiProgress,
}

impl Write for SuspendingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.multi.suspend(|| std::io::stderr().write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

struct Bar(ProgressBar);

impl ProgressReporter for BarProgress {
    fn start(&self, label: &str, total_bytes: u64) -> Box<dyn ProgressHandle> {
        let bar = self.multi.add(ProgressBar::new(total_bytes));
        let style = ProgressStyle::with_template(
            "🚀 {msg} {bytes}/{total_bytes} [{bar:30}] {binary_bytes_per_sec} ETA {eta}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(label.to_owned());
        Box::new(Bar(bar))
    }
}

impl ProgressHandle for Bar {
    fn advance(&mut self, bytes: u64) {
        self.0.inc(bytes);
    }

    fn finish(&mut self, _success: bool) {
        self.0.finish_and_clear();
    }
}
