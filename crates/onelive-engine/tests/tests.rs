//! Integration tests of onelive-engine with in-memory seams.

mod api;
mod backoff;
mod config_errors;
mod engine_flow;
mod fakes;
mod handoff;
mod sequences;
