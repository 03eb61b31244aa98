//! `oneliverec`: onelive's recorder command line.
//!
//! `main` only parses the command line and dispatches; each command group
//! lives in `commands/<group>.rs`.

mod commands;

use clap::{Parser, Subcommand};

/// onelive's recorder.
#[derive(Debug, Parser)]
#[command(name = "oneliverec", version, about = "Watch live channels, record them, send webhooks")]
struct Cli {
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
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
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
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("oneliverec: {error:#}");
            std::process::ExitCode::from(1)
        }
    }
}
