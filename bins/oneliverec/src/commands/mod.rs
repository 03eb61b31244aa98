//! One module per command group.

pub mod check_config;
pub mod demo;
pub mod logging;
pub mod platform;
pub mod repair;
pub mod run;
pub mod transmux;
pub mod webhook;
