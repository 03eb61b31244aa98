//! Real-process tests of the `onelive-sink` binary (loopback only).

mod common;
mod grafana;
#[path = "../../oneliverec/tests/grafana_dashboard.rs"]
mod grafana_dashboard;
mod ops;
mod process;
