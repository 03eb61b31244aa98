//! `oneliverec transmux FILE…`: remux recordings to `.mp4`/`.mkv` now.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use onelive_transmux::{OutputFormat, TransmuxJob, TransmuxOptions};

/// Arguments of `oneliverec transmux`.
#[derive(Debug, Args)]
pub struct TransmuxArgs {
    /// Recordings (`.ts`/`.flv`).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Target container: `mp4` or `mkv`.
    #[arg(long, default_value = "mp4", value_parser = ["mp4", "mkv"])]
    pub format: String,
    /// Delete each source after a verified transmux.
    #[arg(long)]
    pub delete_source: bool,
}

/// `oneliverec transmux`.
pub fn transmux(args: TransmuxArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start tokio")?;
    let options = TransmuxOptions::default();
    let format = if args.format == "mkv" { OutputFormat::Mkv } else { OutputFormat::Mp4 };
    let mut failed = 0;
    for file in &args.files {
        if !file.is_file() {
            eprintln!("oneliverec: {}: no such file", file.display());
            failed += 1;
            continue;
        }
        let mut job = TransmuxJob::new(file.clone(), format);
        job.delete_source = args.delete_source;
        match runtime.block_on(onelive_transmux::transmux(&job, &options)) {
            Ok(report) => println!(
                "{} -> {} ({:.1}s, {} bytes, verified{})",
                file.display(),
                report.output.display(),
                report.output_duration,
                report.output_size,
                if report.source_deleted { ", source deleted" } else { "" }
            ),
            Err(e) => {
                eprintln!("oneliverec: {}: {e}", file.display());
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
