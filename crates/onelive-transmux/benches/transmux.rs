//! Transmux wall time on a ~1 GiB MPEG-TS recording, ours vs the bare
//! `ffmpeg -c copy` command (target: within 1.1x). Prints numbers; run with
//! `cargo bench -p onelive-transmux --bench transmux`.
//!
//! The input is generated once into `target/bench-data/` (a short clip
//! encoded at a high bitrate, then stream-looped with `-c copy`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use onelive_transmux::{OutputFormat, TransmuxJob, TransmuxOptions, transmux};

const TARGET_BYTES: u64 = 1 << 30;

fn data_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("bench-data")
}

fn ffmpeg(args: &[&str]) {
    let status = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

fn input_file() -> PathBuf {
    let dir = data_dir();
    std::fs::create_dir_all(&dir).expect("bench-data dir");
    let big = dir.join("transmux-1gib.ts");
    if std::fs::metadata(&big).map(|m| m.len() >= TARGET_BYTES).unwrap_or(false) {
        return big;
    }
    let clip = dir.join("transmux-clip.ts");
    let clip_s = clip.to_string_lossy().into_owned();
    println!("generating {} ...", big.display());
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=25:duration=20",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=20",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-b:v",
        "40M",
        "-maxrate",
        "40M",
        "-bufsize",
        "20M",
        "-g",
        "50",
        "-c:a",
        "aac",
        "-f",
        "mpegts",
        &clip_s,
    ]);
    let clip_len = std::fs::metadata(&clip).map(|m| m.len()).unwrap_or(1).max(1);
    let loops = TARGET_BYTES.div_ceil(clip_len).saturating_sub(1).to_string();
    ffmpeg(&[
        "-stream_loop",
        &loops,
        "-i",
        &clip_s,
        "-map",
        "0",
        "-c",
        "copy",
        "-f",
        "mpegts",
        &big.to_string_lossy(),
    ]);
    let _ = std::fs::remove_file(&clip);
    big
}

fn bare(input: &Path, output: &Path) -> Duration {
    let _ = std::fs::remove_file(output);
    let start = Instant::now();
    ffmpeg(&[
        "-i",
        &input.to_string_lossy(),
        "-map",
        "0:v?",
        "-map",
        "0:a?",
        "-c",
        "copy",
        "-bsf:a",
        "aac_adtstoasc",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        &output.to_string_lossy(),
    ]);
    let took = start.elapsed();
    let _ = std::fs::remove_file(output);
    took
}

async fn ours(input: &Path, output: &Path) -> Duration {
    let _ = std::fs::remove_file(output);
    let mut job = TransmuxJob::new(input, OutputFormat::Mp4);
    job.output = Some(output.to_path_buf());
    let start = Instant::now();
    let report = transmux(&job, &TransmuxOptions::default()).await.expect("transmux");
    let took = start.elapsed();
    assert!(report.output_size > 0);
    let _ = std::fs::remove_file(output);
    took
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let input = input_file();
    let size = std::fs::metadata(&input).map(|m| m.len()).unwrap_or(0);
    let output = data_dir().join("transmux-out.mp4");
    println!("input: {} ({:.2} GiB)", input.display(), size as f64 / f64::from(1u32 << 30));
    // Warm the page cache the same way for both.
    let _ = bare(&input, &output);
    let mut bare_times = Vec::new();
    let mut our_times = Vec::new();
    for _ in 0..3 {
        bare_times.push(bare(&input, &output));
        our_times.push(ours(&input, &output).await);
    }
    bare_times.sort();
    our_times.sort();
    let (b, o) = (bare_times[1].as_secs_f64(), our_times[1].as_secs_f64());
    println!(
        "bare ffmpeg -c copy +faststart: median {b:.2} s (min {:.2} s)",
        bare_times[0].as_secs_f64()
    );
    println!(
        "onelive transmux (incl. 2 ffprobe + verify + rename): median {o:.2} s (min {:.2} s)",
        our_times[0].as_secs_f64()
    );
    println!("ratio ours/bare: {:.3} (target <= 1.1)", o / b);
}
