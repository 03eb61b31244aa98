//! `oneliverec check-config`: validates a config file and says what it watches.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `oneliverec check-config`.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The config file.
    #[arg(long, short = 'c', env = "ONELIVEREC_CONFIG", default_value = "oneliverec.toml")]
    pub config: PathBuf,
}

/// `oneliverec check-config`.
pub fn check_config(args: CheckConfigArgs) -> anyhow::Result<ExitCode> {
    // The same checks as `run` makes before it starts.
    let config = onelive_engine::check_config(&args.config, &[])?;
    println!(
        "{}: OK ({} channels, {} webhooks, recordings in {}, state in {})",
        args.config.display(),
        config.channels.len(),
        config.webhooks.len(),
        config.output.folder.display(),
        config.state_dir(Some(&args.config)).display()
    );
    Ok(ExitCode::SUCCESS)
}
