//! `oneliverec repair IN.flv [OUT.flv]`: the native engine's FLV repair
//! applied to a file from any recorder.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `oneliverec repair`.
#[derive(Debug, Args)]
pub struct RepairArgs {
    /// The broken FLV file.
    pub input: PathBuf,
    /// Where to write the repaired file (default: `IN.repaired.flv`); a
    /// resolution or codec change continues in `OUT-2.flv`, ...
    pub output: Option<PathBuf>,
}

/// `oneliverec repair`.
pub fn repair(args: RepairArgs) -> anyhow::Result<ExitCode> {
    let output = args.output.unwrap_or_else(|| args.input.with_extension("repaired.flv"));
    let report = onelive_recorder::repair_flv_file(&args.input, &output)?;
    for f in &report.files {
        println!(
            "{}: {} bytes, {:.3} s, {} video frames",
            f.path.display(),
            f.size,
            f.duration,
            f.video_frames
        );
    }
    let s = &report.stats;
    println!(
        "repaired: {} timestamp discontinuities stitched, {} duplicated tags dropped, {} reconnects, {} codec changes",
        s.discontinuities, s.duplicates_dropped, s.reconnects, s.codec_changes
    );
    if let Some(why) = &report.truncated {
        println!("the input ends early ({why}); everything before that point is kept");
    }
    Ok(ExitCode::SUCCESS)
}
