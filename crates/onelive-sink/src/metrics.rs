//! `GET /metrics`: the sink's figures through the [`metrics`] facade.
//!
//! The sink records its jobs with the `metrics` macros; the program installs
//! the recorder (the `onelive-sink` binary: `metrics-exporter-prometheus`)
//! and registers how to render it with [`set_exporter`]. Until one is
//! registered, `GET /metrics` answers 404 like any unknown route.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `onelive_sink_jobs_total` | counter | `kind` (action kind), `outcome` = `done`, `retry`, `failed` |
//! | `onelive_sink_job_seconds` | histogram (one attempt) | `kind`, `outcome` |
//! | `onelive_sink_events_total` | counter | `type` (event type; events stored, duplicates not counted) |

use std::sync::OnceLock;
use std::time::Duration;

type Exporter = Box<dyn Fn() -> String + Send + Sync>;

static EXPORTER: OnceLock<Exporter> = OnceLock::new();

/// Registers how `GET /metrics` renders the process's metrics (e.g. a
/// Prometheus handle's `render`). One per process, like the `metrics`
/// recorder; returns `false` (and keeps the first) when one is set already.
pub fn set_exporter(render: impl Fn() -> String + Send + Sync + 'static) -> bool {
    let first = EXPORTER.set(Box::new(render)).is_ok();
    if first {
        metrics::describe_counter!("onelive_sink_jobs_total", "Job attempts by kind and outcome.");
        metrics::describe_histogram!(
            "onelive_sink_job_seconds",
            metrics::Unit::Seconds,
            "Duration of one job attempt."
        );
        metrics::describe_counter!("onelive_sink_events_total", "Events stored, by type.");
    }
    first
}

/// The metrics text, when an exporter is registered.
pub(crate) fn render() -> Option<String> {
    EXPORTER.get().map(|render| render())
}

/// Records one job attempt that ended with `outcome` after `took`.
pub(crate) fn job_attempt(kind: &str, outcome: &'static str, took: Duration) {
    let labels = [("kind", kind.to_owned()), ("outcome", outcome.to_owned())];
    metrics::counter!("onelive_sink_jobs_total", &labels).increment(1);
    metrics::histogram!("onelive_sink_job_seconds", &labels).record(took.as_secs_f64());
}

/// Records one event stored.
pub(crate) fn event_stored(event_type: &str) {
    metrics::counter!("onelive_sink_events_total", "type" => event_type.to_owned()).increment(1);
}
