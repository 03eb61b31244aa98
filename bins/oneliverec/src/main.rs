//! `oneliverec`: onelive's recorder command line.
//!
//! `main` only parses the command line and dispatches; each command group
//! lives in `commands/<group>.rs`.

mod commands;

use clap::{CommandFactory, Parser, Subcommand};
use commands::logging::{LogFormat, LogOptions};

/// onelive's recorder.
#[derive(Debug, Parser)]
#[command(name = "oneliverec", version, about = "Watch live channels, record them, send webhooks")]
struct Cli {
    /// Log level or filter (`info`, `debug`, `onelive_engine=debug,warn`);
    /// overrides `RUST_LOG`. Default: `info` for `run`, `warn` otherwise.
    #[arg(long, global = true, value_name = "LEVEL", value_parser = commands::logging::parse_filter)]
    log: Option<String>,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the supported platforms and the URL forms each accepts.
    Platforms(commands::platform::PlatformsArgs),
    /// Resolve a URL to a platform and channel, offline.
    Parse(commands::platform::ParseArgs),
    /// Ask the platform for a URL's live info and stream variants (online).
    Probe(commands::platform::ProbeArgs),
    /// Watch the configured channels, record, transmux and send webhooks.
    Run(commands::run::RunArgs),
    /// Run the whole pipeline on a synthetic loopback channel (about 40 s).
    Demo(commands::demo::DemoArgs),
    /// Validate a config file and exit (non-zero with the file, key and reason).
    CheckConfig(commands::check_config::CheckConfigArgs),
    /// Remux recordings (.ts/.flv) to .mp4/.mkv now.
    Transmux(commands::transmux::TransmuxArgs),
    /// Webhook tools (`webhook test <URL>`).
    Webhook(commands::webhook::WebhookArgs),
    /// Repair a broken FLV (timestamp jumps, replayed tags) from any recorder.
    Repair(commands::repair::RepairArgs),
    /// Print a shell completion script (e.g. `oneliverec completions bash > /etc/bash_completion.d/oneliverec`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Exit codes (docs/cli.md): 0 success; 1 failure (bad config, runtime
/// error, a failed transmux or webhook test, demo checks failed); 2 usage
/// error (clap) or a URL no platform accepts; 3 the platform could not be
/// asked (`probe`); 130 a second SIGINT/SIGTERM during shutdown.
fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let log = LogOptions { filter: cli.log, format: cli.log_format };
    let default_level = if matches!(cli.command, Command::Run(_)) { "info" } else { "warn" };
    commands::logging::init(&log, default_level);
    let result = match cli.command {
        Command::Platforms(args) => commands::platform::platforms(args),
        Command::Parse(args) => commands::platform::parse(args),
        Command::Probe(args) => commands::platform::probe(args),
        Command::Run(args) => commands::run::run(args),
        Command::Demo(args) => commands::demo::demo(args),
        Command::CheckConfig(args) => commands::check_config::check_config(args),
        Command::Transmux(args) => commands::transmux::transmux(args),
        Command::Webhook(args) => commands::webhook::webhook(args),
        Command::Repair(args) => commands::repair::repair(args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "oneliverec",
                &mut std::io::stdout(),
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("oneliverec: {error:#}");
            std::process::ExitCode::from(1)
        }
    }
}
