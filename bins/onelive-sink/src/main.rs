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

    /// Log level or filter (`info`, `debug`, `onelive_sink=debug,warn`);
    /// overrides `RUST_LOG`. Default: `info` when serving, `warn` otherwise.
    #[arg(long, global = true, env = "ONELIVE_SINK_LOG", value_name = "LEVEL", value_parser = parse_filter)]
    log: Option<String>,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

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
    /// Daily log files kept (today's included); older ones are deleted at
    /// start and at each day's rotation.
    #[arg(long, env = "ONELIVE_SINK_LOG_KEEP", default_value_t = 14, value_parser = clap::value_parser!(u16).range(1..))]
    log_keep: u16,
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line (console and log files).
    Json,
}

/// Checks a `--log` value as clap parses it (a bad filter is a usage error, exit 2).
fn parse_filter(s: &str) -> std::result::Result<String, String> {
    EnvFilter::try_new(s).map(|_| s.to_owned()).map_err(|e| {
        format!("not a log level or filter ({e}); e.g. `debug` or `onelive_sink=debug,info`")
    })
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
    /// Print a shell completion script (e.g. `onelive-sink completions zsh > _onelive-sink`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
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

/// Exit codes (docs/cli.md): 0 success (also when a pipe reader such as
/// `head` leaves early); 1 failure (bad config, no job store, bind or runtime
/// error); 2 usage error (clap).
fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // `onelive-sink jobs list | head`: the reader left; that is not an error.
        Err(e) if is_broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("onelive-sink: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The log filter: `--log` (or `ONELIVE_SINK_LOG`), else `RUST_LOG`, else `default`.
fn log_filter(cli_log: Option<&str>, default: &str) -> EnvFilter {
    match cli_log {
        Some(f) => EnvFilter::new(f),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
    }
}

/// Logs of the one-shot commands: stderr only.
fn init_stderr_logging(cli: &Cli) {
    let layer = tracing_subscriber::fmt::layer().with_ansi(false).with_writer(std::io::stderr);
    let layer = match cli.log_format {
        LogFormat::Text => layer.boxed(),
        LogFormat::Json => layer.json().boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(log_filter(cli.log.as_deref(), "warn"))
        .with(layer)
        .try_init();
}

fn run(cli: Cli) -> Result<()> {
    if !matches!(cli.command, None | Some(Command::Serve(_)) | Some(Command::Completions { .. })) {
        init_stderr_logging(&cli);
    }
    let logging = (cli.log.clone(), cli.log_format);
    match cli.command {
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "onelive-sink",
                &mut std::io::stdout(),
            );
            Ok(())
        }
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
        Some(Command::Serve(args)) => serve(&cli.config, args, logging),
        None => serve(&cli.config, cli.serve, logging),
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

/// `DIR/onelive-sink.log.YYYY-MM-DD`, a new file each day (UTC), at most
/// `keep` of them: older ones are deleted now and at each rotation.
fn log_files(
    dir: &std::path::Path,
    keep: u16,
) -> Result<tracing_appender::rolling::RollingFileAppender> {
    tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("onelive-sink.log")
        .max_log_files(usize::from(keep))
        .build(dir)
        .with_context(|| format!("cannot open the log files in {}", dir.display()))
}

fn serve(
    config_path: &std::path::Path,
    args: ServeArgs,
    (log, log_format): (Option<String>, LogFormat),
) -> Result<()> {
    let mut config = SinkConfig::from_file(config_path)?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    let on_terminal = std::io::stderr().is_terminal();
    let bars = on_terminal.then(progress_bars::BarProgress::new);

    std::fs::create_dir_all(&args.log_dir)
        .with_context(|| format!("cannot create log folder {}", args.log_dir.display()))?;
    let file_appender = log_files(&args.log_dir, args.log_keep)?;
    let (file_writer, _guard) = tracing_appender::non_blocking(file_appender);
    let filter = log_filter(log.as_deref(), "info");
    let json = log_format == LogFormat::Json;
    let console = match (&bars, json) {
        (Some(b), false) => {
            tracing_subscriber::fmt::layer().with_writer(b.console_writer()).boxed()
        }
        (Some(b), true) => {
            tracing_subscriber::fmt::layer().json().with_writer(b.console_writer()).boxed()
        }
        (None, false) => {
            tracing_subscriber::fmt::layer().with_ansi(false).with_writer(std::io::stderr).boxed()
        }
        (None, true) => {
            tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr).boxed()
        }
    };
    let file = tracing_subscriber::fmt::layer().with_ansi(false).with_writer(file_writer);
    let file = if json { file.json().boxed() } else { file.boxed() };
    tracing_subscriber::registry().with(filter).with(console).with(file).init();

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
        install_metrics()?;
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

/// Bucket bounds (seconds) of `onelive_sink_job_seconds`: from a local
/// command to an hour-long upload.
const SECONDS_BUCKETS: &[f64] =
    &[0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0];

/// Installs the process's `metrics` recorder (Prometheus) and serves it on
/// `GET /metrics`. Inside the runtime: starts the recorder's upkeep task.
fn install_metrics() -> Result<()> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)?
        .install_recorder()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    onelive_sink::metrics::set_exporter(move || handle.render());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_files_beyond_the_limit_are_deleted_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let old = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"];
        for day in old {
            std::fs::write(dir.path().join(format!("onelive-sink.log.{day}")), day).unwrap();
        }
        let unrelated = dir.path().join("notes.txt");
        std::fs::write(&unrelated, "mine").unwrap();
        let _files = log_files(dir.path(), 3).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        // Today's file (named by the clock, later than all of the old ones).
        assert!(left.iter().any(|n| n.as_str() > "onelive-sink.log.2026-01-05"), "{left:?}");
        assert!(left.contains(&"notes.txt".to_owned()), "other files stay: {left:?}");
        let kept: Vec<&String> =
            left.iter().filter(|n| n.starts_with("onelive-sink.log.")).collect();
        assert_eq!(kept.len(), 3, "{left:?}");
        assert!(
            left.contains(&"onelive-sink.log.2026-01-05".to_owned())
                && left.contains(&"onelive-sink.log.2026-01-04".to_owned()),
            "the newest are kept: {left:?}"
        );
    }

    #[test]
    fn log_keep_must_be_at_least_one() {
        let e = Cli::try_parse_from(["onelive-sink", "serve", "--log-keep", "0"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{e}");
    }
}
