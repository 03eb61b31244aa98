//! `oneliverec run`: the recorder service.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use onelive_engine::RunOptions;

/// Arguments of `oneliverec run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The config file (`oneliverec.toml`); API changes are written back to it.
    #[arg(long, short = 'c', env = "ONELIVEREC_CONFIG", default_value = "oneliverec.toml")]
    pub config: PathBuf,
    /// How long a graceful shutdown may take before undelivered events are
    /// left in the outbox for the next start.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    onelive_engine::HumanDuration::parse(s).map(|d| d.0)
}

/// Logs to stderr; `RUST_LOG` filters (default `info`).
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(RedactedStderr)
        .try_init();
}

/// Logs warnings only unless `RUST_LOG` says otherwise (the demo prints its own story).
pub(crate) fn init_logging_quiet() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(RedactedStderr)
        .try_init();
}

/// stderr, with the query strings of URLs in log lines hidden (stream and
/// channel URLs carry tokens and signatures).
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

/// `oneliverec run`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start tokio")?;
    runtime.block_on(async {
        // Signal handlers first: a SIGTERM that arrives while the engine
        // starts must shut it down gracefully, not kill it with the default action.
        let mut signals = Signals::install().context("cannot install signal handlers")?;
        let shutdown = async move {
            let signal = signals.next().await;
            tracing::info!(%signal, "shutting down (a second signal exits at once)");
            tokio::spawn(async move {
                let second = signals.next().await;
                eprintln!("oneliverec: second {second}: exiting now");
                std::process::exit(130);
            });
        };
        let options = RunOptions::new(args.config)
            .with_shutdown(shutdown)
            .with_shutdown_timeout(args.shutdown_timeout);
        onelive_engine::run(options).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// SIGTERM and SIGINT, registered once: a signal that arrives before
/// anyone waits is kept until [`Signals::next`] is called.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the next SIGTERM or SIGINT and names it.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
