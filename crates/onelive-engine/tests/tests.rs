//! Integration tests of onelive-engine with in-memory seams.

mod api;
mod config_errors;
mod engine_flow;
mod fakes;
