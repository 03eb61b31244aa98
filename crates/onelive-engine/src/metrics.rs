//! `GET /metrics`: the engine's figures through the [`metrics`] facade,
//! rendered by the exporter the program installed.
//!
//! The engine keeps its own counters (one owner: [`crate::Counters`], read by
//! tests and the API too); at each scrape they are handed to the process's
//! `metrics` recorder (`absolute` for counters, `set` for gauges read from the
//! channels' state), next to what other libraries record directly (the
//! webhook dispatcher's deliveries). The recorder itself is the program's
//! choice: `oneliverec` installs `metrics-exporter-prometheus` and registers
//! its `render` with [`set_exporter`].

use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use crate::Engine;

/// Renders everything the process's `metrics` recorder holds, as text.
pub type Exporter = Box<dyn Fn() -> String + Send + Sync>;

static EXPORTER: OnceLock<Exporter> = OnceLock::new();

/// Registers how `/metrics` renders the process's metrics (e.g. a Prometheus
/// handle's `render`). The `metrics` recorder is one per process, and so is
/// this; returns `false` (and keeps the first) when one is already set.
pub fn set_exporter(render: impl Fn() -> String + Send + Sync + 'static) -> bool {
    let first = EXPORTER.set(Box::new(render)).is_ok();
    if first {
        describe();
    }
    first
}

/// The `# HELP` texts (given to the recorder installed before [`set_exporter`]).
fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_gauge!("onelive_channels", "Watched channels by state.");
    describe_gauge!("onelive_recordings_active", "Recordings running now.");
    describe_gauge!(
        "onelive_recording_bytes_current",
        "Bytes written to the files being recorded."
    );
    describe_counter!("onelive_recorded_bytes_total", "Bytes of finished recording files.");
    describe_counter!("onelive_recorded_files_total", "Finished recording files.");
    describe_counter!("onelive_polls_total", "Channel status polls by platform and result.");
    describe_counter!("onelive_recordings_started_total", "Recordings started, by platform.");
    describe_counter!("onelive_transmux_jobs_total", "Transmux jobs by outcome.");
    describe_gauge!("onelive_transmux_jobs_pending", "Transmux jobs queued or running.");
    describe_counter!("onelive_events_total", "Events published by type.");
    describe_gauge!("onelive_webhook_deliveries", "Webhook deliveries in the outbox by status.");
}

/// Publishes the engine's figures to the `metrics` recorder and renders them
/// with the registered exporter; `None` when the program registered none.
pub async fn render(engine: &Engine) -> Option<String> {
    let exporter = EXPORTER.get()?;
    publish(engine).await;
    Some(exporter())
}

/// Hands the engine's counters and current state to the `metrics` recorder.
/// The names are those of `docs/api.md`.
pub async fn publish(engine: &Engine) {
    let channels = engine.channels();
    let mut by_state = std::collections::BTreeMap::from([
        ("offline", 0u64),
        ("live", 0),
        ("ending", 0),
        ("disabled", 0),
    ]);
    let mut recording = 0u64;
    let mut bytes_current = 0u64;
    for c in &channels {
        let state = if !c.enabled {
            "disabled"
        } else {
            match c.view.state.as_str() {
                "live" => "live",
                "ending" => "ending",
                "disabled" => "disabled",
                _ => "offline",
            }
        };
        *by_state.entry(state).or_default() += 1;
        if c.view.recording {
            recording += 1;
        }
        bytes_current += c.view.bytes_written;
    }
    for (state, n) in by_state {
        metrics::gauge!("onelive_channels", "state" => state).set(n as f64);
    }
    metrics::gauge!("onelive_recordings_active").set(recording as f64);
    metrics::gauge!("onelive_recording_bytes_current").set(bytes_current as f64);
    let c = engine.counters();
    metrics::counter!("onelive_recorded_bytes_total")
        .absolute(c.bytes_finished.load(Ordering::Relaxed));
    metrics::counter!("onelive_recorded_files_total")
        .absolute(c.files_finished.load(Ordering::Relaxed));
    let polls = crate::sync::lock(&c.polls).clone();
    for ((platform, result), n) in polls {
        metrics::counter!("onelive_polls_total", "platform" => platform, "result" => result)
            .absolute(n);
    }
    let started = crate::sync::lock(&c.recordings_started).clone();
    for (platform, n) in started {
        metrics::counter!("onelive_recordings_started_total", "platform" => platform).absolute(n);
    }
    metrics::counter!("onelive_transmux_jobs_total", "result" => "done")
        .absolute(c.transmux_done.load(Ordering::Relaxed));
    metrics::counter!("onelive_transmux_jobs_total", "result" => "failed")
        .absolute(c.transmux_failed.load(Ordering::Relaxed));
    metrics::gauge!("onelive_transmux_jobs_pending")
        .set(engine.pending_transmux_jobs().len() as f64);
    let events = c.events_by_type();
    for (t, n) in events {
        metrics::counter!("onelive_events_total", "type" => t).absolute(n);
    }
    let stats = engine.delivery().stats().await;
    for (status, n) in
        [("delivered", stats.delivered), ("pending", stats.pending), ("failed", stats.failed)]
    {
        metrics::gauge!("onelive_webhook_deliveries", "status" => status).set(n as f64);
    }
}
