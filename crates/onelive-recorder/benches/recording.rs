//! Recording overhead benchmarks (prints numbers; run with
//! `cargo bench -p onelive-recorder --bench recording`).
//!
//! 1. Time from `record()` to the first bytes on disk, against a loopback
//!    HLS and HTTP-FLV origin (target <= 3 s).
//! 2. RSS of this process (not ffmpeg) with 10 concurrent recordings vs
//!    idle (target <= 20 MB more).

use std::time::{Duration, Instant};

use onelive_recorder::{EventContext, RecordingConfig, StreamKind, StreamSource, record};
use onelive_synthetic::{SyntheticOptions, SyntheticOrigin};

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn config(url: String, kind: StreamKind, dir: &std::path::Path) -> RecordingConfig {
    let mut cfg = RecordingConfig::new(StreamSource::new(url, kind), dir);
    cfg.min_free_bytes = 0;
    cfg
}

async fn first_bytes(url: String, kind: StreamKind) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let start = Instant::now();
    let recording = record(config(url, kind, dir.path()), EventContext::new("bench", "c"), tx)
        .await
        .expect("record");
    let took = loop {
        let p = recording.progress();
        if let Some(path) = p.current_file
            && std::fs::metadata(&path).map(|m| m.len() > 0).unwrap_or(false)
        {
            break start.elapsed();
        }
        if start.elapsed() > Duration::from_secs(20) {
            break start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    recording.stop().await;
    took
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await.expect("origin");
    // Let the playlist fill up as a real live origin's would be.
    tokio::time::sleep(Duration::from_secs(4)).await;

    println!("== time from record() to first bytes on disk (target <= 3 s)");
    for kind in [StreamKind::Hls, StreamKind::Flv] {
        let mut times = Vec::new();
        for _ in 0..3 {
            let url = match kind {
                StreamKind::Hls => origin.hls_url(),
                StreamKind::Flv => origin.flv_url(),
            };
            times.push(first_bytes(url, kind).await);
        }
        times.sort();
        println!(
            "{kind:?}: min {:.3} s, median {:.3} s, max {:.3} s",
            times[0].as_secs_f64(),
            times[1].as_secs_f64(),
            times[2].as_secs_f64()
        );
    }

    println!("== RSS of this process, 10 concurrent HLS recordings (target <= 20 MB more)");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = vm_rss_kib();
    let dir = tempfile::tempdir().expect("tempdir");
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let drain = tokio::spawn(async move {
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
        }
        n
    });
    let mut recordings = Vec::new();
    for i in 0..10 {
        let cfg = config(origin.hls_url(), StreamKind::Hls, &dir.path().join(i.to_string()));
        let ctx = EventContext::new("bench", format!("c{i}"));
        recordings.push(record(cfg, ctx, tx.clone()).await.expect("record"));
    }
    drop(tx);
    let mut peak = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        peak = peak.max(vm_rss_kib());
    }
    let bytes: u64 = recordings.iter().map(|r| r.progress().bytes_written).sum();
    let mut files = 0;
    for r in recordings {
        files += r.stop().await.files.len();
    }
    let events = drain.await.unwrap_or(0);
    println!(
        "idle {:.1} MiB, peak with 10 recordings {:.1} MiB, difference {:.1} MiB ({} bytes recorded, {files} files, {events} events)",
        idle as f64 / 1024.0,
        peak as f64 / 1024.0,
        (peak.saturating_sub(idle)) as f64 / 1024.0,
        bytes
    );
}
