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
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Platforms(args) => commands::platform::platforms(args),
        Command::Parse(args) => commands::platform::parse(args),
        Command::Probe(args) => commands::platform::probe(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("oneliverec: {error:#}");
            std::process::ExitCode::from(1)
        }
    }
}
