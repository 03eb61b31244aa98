//! Logging and metrics set-up shared by the commands: `--log`, `--log-format`,
//! the URL-redacting stderr writer, and the process's Prometheus recorder.

use std::time::Duration;

use clap::ValueEnum;

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`, ...).
    Json,
}

/// The logging options of the command line.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// `--log`: overrides `RUST_LOG`.
    pub filter: Option<String>,
    /// `--log-format`.
    pub format: LogFormat,
}

/// Checks a `--log` value as clap parses it (a bad filter is a usage error, exit 2).
pub fn parse_filter(s: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(s).map(|_| s.to_owned()).map_err(|e| {
        format!("not a log level or filter ({e}); e.g. `debug` or `onelive_engine=debug,info`")
    })
}

/// Logs to stderr: `--log` if given, else `RUST_LOG`, else `default`
/// (`info` for `run`, `warn` for the commands that print their own story).
pub fn init(options: &LogOptions, default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = match &options.filter {
        Some(f) => EnvFilter::new(f),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(RedactedStderr);
    let _ = match options.format {
        LogFormat::Text => {
            builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init()
        }
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// stderr, with the query strings of URLs in log lines hidden (stream and
/// channel URLs carry tokens and signatures), in text and JSON lines alike.
struct RedactedStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactedStderr {
    type Writer = Redacted<std::io::Stderr>;
    fn make_writer(&'a self) -> Self::Writer {
        Redacted(std::io::stderr())
    }
}

/// A writer that hides URL query strings; the formatter hands it one whole
/// log line per `write`.
struct Redacted<W>(W);

impl<W: std::io::Write> std::io::Write for Redacted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => {
                self.0.write_all(onelive_engine::redact::redact_urls(text).as_bytes())?;
                Ok(buf.len())
            }
            Err(_) => self.0.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Bucket bounds (seconds) of the `*_seconds` histograms: webhook requests
/// and delivery lag, from a loopback answer to a day of retries.
const SECONDS_BUCKETS: &[f64] =
    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0];

/// Installs the process's `metrics` recorder (Prometheus) and serves it on
/// the API's `/metrics`. Call inside the tokio runtime: it starts the
/// recorder's upkeep task (it drains histogram samples between scrapes).
pub fn install_metrics() -> anyhow::Result<()> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)?
        .install_recorder()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    onelive_engine::metrics::set_exporter(move || handle.render());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_log_lines_have_url_queries_hidden_and_stay_json() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber =
            tracing_subscriber::fmt().json().with_writer(move || Redacted(writer.clone())).finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                url = "https://cdn.test/live/x.flv?sign=s3cr3t&expire=99",
                "opening https://cdn.test/live/y.m3u8?token=t0ken in a message"
            );
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("s3cr3t") && !text.contains("t0ken"), "{text}");
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        let url = line["fields"]["url"].as_str().unwrap();
        assert!(
            url.starts_with("https://cdn.test/live/x.flv?") && url.contains("redacted"),
            "{url}"
        );
        let message = line["fields"]["message"].as_str().unwrap();
        assert!(message.starts_with("opening https://cdn.test/live/y.m3u8?"), "{message}");
        assert!(message.ends_with(" in a message"), "{message}");
    }
}
