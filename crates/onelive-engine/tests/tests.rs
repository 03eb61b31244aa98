//! Integration tests of onelive-engine with in-memory seams.

mod api;
mod api_limits;
mod backoff;
mod config_errors;
mod config_file;
mod engine_flow;
mod fakes;
mod handoff;
mod sequences;
