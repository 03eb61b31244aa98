//! `GET /metrics`: Prometheus text, rendered by hand from the engine's state.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::Engine;

/// Renders the engine's metrics in the Prometheus text format (0.0.4).
pub async fn render(engine: &Engine) -> String {
    let mut out = String::new();
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
    let c = engine.counters();
    let _ = writeln!(out, "# HELP onelive_channels Watched channels by state.");
    let _ = writeln!(out, "# TYPE onelive_channels gauge");
    for (state, n) in &by_state {
        let _ = writeln!(out, "onelive_channels{{state=\"{state}\"}} {n}");
    }
    let _ = writeln!(out, "# HELP onelive_recordings_active Recordings running now.");
    let _ = writeln!(out, "# TYPE onelive_recordings_active gauge");
    let _ = writeln!(out, "onelive_recordings_active {recording}");
    let _ = writeln!(
        out,
        "# HELP onelive_recording_bytes_current Bytes written to the files being recorded."
    );
    let _ = writeln!(out, "# TYPE onelive_recording_bytes_current gauge");
    let _ = writeln!(out, "onelive_recording_bytes_current {bytes_current}");
    let _ = writeln!(out, "# HELP onelive_recorded_bytes_total Bytes of finished recording files.");
    let _ = writeln!(out, "# TYPE onelive_recorded_bytes_total counter");
    let _ =
        writeln!(out, "onelive_recorded_bytes_total {}", c.bytes_finished.load(Ordering::Relaxed));
    let _ = writeln!(out, "# HELP onelive_recorded_files_total Finished recording files.");
    let _ = writeln!(out, "# TYPE onelive_recorded_files_total counter");
    let _ =
        writeln!(out, "onelive_recorded_files_total {}", c.files_finished.load(Ordering::Relaxed));
    let _ = writeln!(out, "# HELP onelive_polls_total Channel status polls by result.");
    let _ = writeln!(out, "# TYPE onelive_polls_total counter");
    for (result, v) in [
        ("live", &c.polls_live),
        ("offline", &c.polls_offline),
        ("failed", &c.polls_failed),
        ("rate_limited", &c.polls_rate_limited),
    ] {
        let _ = writeln!(
            out,
            "onelive_polls_total{{result=\"{result}\"}} {}",
            v.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(out, "# HELP onelive_transmux_jobs_total Transmux jobs by outcome.");
    let _ = writeln!(out, "# TYPE onelive_transmux_jobs_total counter");
    let _ = writeln!(
        out,
        "onelive_transmux_jobs_total{{result=\"done\"}} {}",
        c.transmux_done.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "onelive_transmux_jobs_total{{result=\"failed\"}} {}",
        c.transmux_failed.load(Ordering::Relaxed)
    );
    let _ = writeln!(out, "# HELP onelive_transmux_jobs_pending Transmux jobs queued or running.");
    let _ = writeln!(out, "# TYPE onelive_transmux_jobs_pending gauge");
    let _ = writeln!(out, "onelive_transmux_jobs_pending {}", engine.pending_transmux_jobs().len());
    let _ = writeln!(out, "# HELP onelive_events_total Events published by type.");
    let _ = writeln!(out, "# TYPE onelive_events_total counter");
    let events = c.events_by_type();
    for (t, n) in events {
        let _ = writeln!(out, "onelive_events_total{{type=\"{t}\"}} {n}");
    }
    let stats = engine.delivery().stats().await;
    let _ = writeln!(out, "# HELP onelive_webhook_deliveries Webhook deliveries by status.");
    let _ = writeln!(out, "# TYPE onelive_webhook_deliveries gauge");
    let _ = writeln!(out, "onelive_webhook_deliveries{{status=\"delivered\"}} {}", stats.delivered);
    let _ = writeln!(out, "onelive_webhook_deliveries{{status=\"pending\"}} {}", stats.pending);
    let _ = writeln!(out, "onelive_webhook_deliveries{{status=\"failed\"}} {}", stats.failed);
    out
}
