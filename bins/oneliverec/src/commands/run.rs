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

/// `oneliverec run`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start tokio")?;
    runtime.block_on(async {
        super::logging::install_metrics()?;
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
