//! `onelive-sink`: receives onelive / OneLiveRec webhooks and acts on them
//! (Pixeldrain upload, commands, notifications), durably.

mod progress_bars;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use onelive_sink::config::SinkConfig;
use onelive_sink::progress::ProgressReporter;
use onelive_sink::store::{JobState, JobStore};
use onelive_sink::{Sink, SinkOptions};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The onelive event sink.
#[derive(Debug, Parser)]
#[command(name = "onelive-sink", version, about)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(
        short,
        long,
        env = "ONELIVE_SINK_CONFIG",
        default_value = "onelive-sink.toml",
        global = true
    )]
    config: PathBuf,

    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Clone, clap::Args)]
struct ServeArgs {
    /// Start even though no authentication is configured (anyone who can
    /// reach the port can trigger uploads and commands).
    #[arg(long)]
    insecure_no_auth: bool,
    /// Listen address, overriding `[server] listen`.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Folder of the daily-rotated log files.
    #[arg(long, env = "ONELIVE_SINK_LOG_DIR", default_value = "logs")]
    log_dir: PathBuf,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `onelive_sink=debug`.
    #[arg(long, env = "ONELIVE_SINK_LOG", default_value = "info")]
    log: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the webhook server and the job workers (the default).
    Serve(ServeArgs),
    /// Check the configuration file and exit.
    CheckConfig,
    /// Inspect and retry jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// Only jobs in this state (pending, running, done, failed).
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one job (JSON).
    Show {
        /// Job id.
        id: i64,
    },
    /// Run a failed job again, with a fresh set of attempts.
    Retry {
        /// Job id.
        id: i64,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match run(cli) {
        // `onelive-sink jobs list | head`: the reader left; that is not an error.
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Jobs { command }) => jobs(&cli.config, command),
        Some(Command::CheckConfig) => {
            let config = SinkConfig::from_file(&cli.config)?;
            println!(
                "{}: ok ({} rule(s), listening on {}{})",
                cli.config.display(),
                config.rules.len(),
                config.server.listen,
                config.server.path
            );
            Ok(())
        }
        Some(Command::Serve(args)) => serve(&cli.config, args),
        None => serve(&cli.config, cli.serve),
    }
}

fn open_store(config_path: &std::path::Path) -> Result<JobStore> {
    let config = SinkConfig::from_file(config_path)?;
    if !config.store.path.exists() {
        anyhow::bail!(
            "no job store at {} (has the sink run with this configuration, in this folder?)",
            config.store.path.display()
        );
    }
    Ok(JobStore::open(&config.store.path)?)
}

fn jobs(config_path: &std::path::Path, command: JobsCommand) -> Result<()> {
    let store = open_store(config_path)?;
    let mut out = std::io::stdout().lock();
    match command {
        JobsCommand::List { state, limit, json } => {
            let state = state.map(|s| s.parse::<JobState>()).transpose()?;
            let list = store.list(state, limit)?;
            if json {
                for job in &list {
                    writeln!(out, "{}", serde_json::to_string(job)?)?;
                }
                return Ok(());
            }
            writeln!(
                out,
                "{:>6}  {:<8}  {:>8}  {:<16}  {:<22}  {:<22}  DETAIL",
                "ID", "STATE", "ATTEMPTS", "RULE", "ACTION", "EVENT"
            )?;
            for job in &list {
                let detail = match job.state {
                    JobState::Done => job.result.clone(),
                    JobState::Waiting => Some(format!("waiting for {}", job.after.join(", "))),
                    _ => job.last_error.clone().or_else(|| job.file.clone()),
                }
                .unwrap_or_default();
                // A chain step shows as `kind NAME <- #PARENT`.
                let action = match (&job.step, job.parent_id) {
                    (Some(step), Some(parent)) => {
                        format!("{} {step} <- #{parent}", job.action_kind)
                    }
                    _ => job.action_kind.clone(),
                };
                writeln!(
                    out,
                    "{:>6}  {:<8}  {:>8}  {:<16}  {:<22}  {:<22}  {}",
                    job.id,
                    job.state.as_str(),
                    format!("{}/{}", job.attempts, job.max_attempts),
                    job.rule,
                    action,
                    job.event_type,
                    detail
                )?;
            }
            Ok(())
        }
        JobsCommand::Show { id } => {
            let job = store.job(id)?;
            let body = store.event_body(&job.event_id)?;
            let event = body.and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok());
            // The chain: every job from the first step down, this one included.
            let mut root = job.clone();
            while let Some(parent) = root.parent_id {
                root = store.job(parent)?;
            }
            let mut chain = Vec::new();
            let mut queue = std::collections::VecDeque::from([root]);
            while let Some(step) = queue.pop_front() {
                queue.extend(store.children(step.id)?);
                chain.push(serde_json::json!({
                    "id": step.id,
                    "parent_id": step.parent_id,
                    "step": step.step,
                    "action_kind": step.action_kind,
                    "state": step.state,
                    "result": step.result,
                    "last_error": step.last_error,
                    "after": step.after,
                }));
            }
            let mut value = serde_json::to_value(&job)?;
            if let Some(obj) = value.as_object_mut() {
                obj.insert("chain".into(), serde_json::Value::Array(chain));
                obj.insert("event".into(), event.unwrap_or(serde_json::Value::Null));
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            Ok(())
        }
        JobsCommand::Retry { id } => {
            let job = store.retry(id)?;
            writeln!(
                out,
                "job {} is {} again; a running sink picks it up within a second",
                job.id, job.state
            )?;
            Ok(())
        }
    }
}

fn serve(config_path: &std::path::Path, args: ServeArgs) -> Result<()> {
    let mut config = SinkConfig::from_file(config_path)?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    let on_terminal = std::io::stderr().is_terminal();
    let bars = on_terminal.then(progress_bars::BarProgress::new);

    std::fs::create_dir_all(&args.log_dir)
        .with_context(|| format!("cannot create log folder {}", args.log_dir.display()))?;
    let file_appender = tracing_appender::rolling::daily(&args.log_dir, "onelive-sink.log");
    let (file_writer, _guard) = tracing_appender::non_blocking(file_appender);
    let filter = EnvFilter::try_new(&args.log).context("--log")?;
    let console = match &bars {
        Some(b) => tracing_subscriber::fmt::layer().with_writer(b.console_writer()).boxed(),
        None => {
            tracing_subscriber::fmt::layer().with_ansi(false).with_writer(std::io::stderr).boxed()
        }
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(console)
        .with(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(file_writer))
        .init();

    let progress: Option<Arc<dyn ProgressReporter>> =
        bars.map(|b| Arc::new(b) as Arc<dyn ProgressReporter>);
    let listen = config.server.listen;
    let sink = Sink::new(
        config,
        SinkOptions { insecure_no_auth: args.insecure_no_auth, progress, base_dir: None },
    )?;
    if args.insecure_no_auth {
        tracing::warn!(
            "running WITHOUT authentication (--insecure-no-auth): anyone who reaches {listen} can trigger actions"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let shutdown = shutdown_signal();
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        sink.serve(listener, shutdown).await?;
        tracing::info!("onelive-sink stopped");
        Ok(())
    })
}

/// Registers SIGINT and SIGTERM handlers now (so a signal that arrives
/// while the server starts is not fatal) and resolves on the first of them.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).ok();
        let mut terminate = signal(SignalKind::terminate()).ok();
        async move {
            let int = async {
                match interrupt.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let term = async {
                match terminate.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = int => {}
                () = term => {}
            }
            tracing::info!("shutting down; running jobs resume at the next start");
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down; running jobs resume at the next start");
    }
}
