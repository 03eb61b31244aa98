//! Measurement for issue 16 item 1: how many events a recorder publishes per
//! minute when its output folder is on a full disk.
//!
//! A live synthetic HLS channel (onelive-synthetic, on loopback) is watched
//! by the engine with its real parts (platform adapter, recorder, transmux
//! queue, outbox), writing into `OUTPUT` (point it at a full file system,
//! e.g. a filled tmpfs); the state folder is a temporary folder elsewhere.
//! Every published event is counted for `SECONDS` (default 60):
//!
//! ```text
//! mount -t tmpfs -o size=20m tmpfs /mnt/full && fallocate -l 20m /mnt/full/fill
//! cargo run -p onelive-engine --example full_disk -- /mnt/full 0 60
//! ```
//!
//! Arguments: `OUTPUT [MIN_FREE_MB [SECONDS]]` (`MIN_FREE_MB` is
//! `[disk] min_free_mb`, default 1024).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use onelive_engine::{ChannelConfig, Engine, EngineConfig, HumanDuration, wiring};
use onelive_synthetic::{SyntheticOptions, SyntheticOrigin};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let output = args.next().ok_or("usage: full_disk OUTPUT [MIN_FREE_MB [SECONDS]]")?;
    let min_free_mb: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1024);
    let seconds: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(60);

    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await?;
    let state = tempfile::tempdir()?;
    let mut config = EngineConfig::default();
    config.output.folder = output.into();
    config.state.dir = Some(state.path().to_path_buf());
    config.api.enabled = false;
    config.watch.poll_interval = HumanDuration(Duration::from_secs(1));
    config.watch.jitter = 0.0;
    config.disk.min_free_mb = min_free_mb;
    config.channels = vec![ChannelConfig::new(origin.hls_url())];
    let parts = wiring::real_parts(&config, state.path(), &[]).await?;
    let engine = Engine::start(config, None, parts).await?;

    let started = Instant::now();
    let mut seen = HashSet::new();
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors: Vec<(f64, String)> = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        for event in engine.recent_events() {
            if seen.insert(event.id) {
                let name = event.type_name().to_owned();
                if let onelive_events::EventData::Error(e) = &event.data {
                    errors.push((started.elapsed().as_secs_f64(), e.error.clone()));
                }
                *by_type.entry(name).or_default() += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total: usize = by_type.values().sum();
    println!("min_free_mb = {min_free_mb}, {elapsed:.0} s watched");
    println!("events: {total} ({:.1} per minute)", total as f64 * 60.0 / elapsed);
    for (name, n) in &by_type {
        println!("  {name:<24} {n}");
    }
    for (at, e) in errors.iter().take(5) {
        println!("error at {at:.1} s: {e}");
    }
    engine.shutdown(Duration::from_secs(10)).await;
    Ok(())
}
