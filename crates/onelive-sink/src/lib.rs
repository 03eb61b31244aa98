//! The onelive event sink: a durable, authenticated receiver of
//! OneLiveRec-compatible webhooks that acts on them.
//!
//! It replaces the seed's `uploader.py`: the same `POST /webhook?key=...`
//! keeps working, and on top of it the sink
//!
//! - authenticates with `?key=` (constant-time), Standard Webhooks
//!   signatures (with secret rotation) and IP allowlists ([`auth`]);
//! - selects events with TOML rules and runs actions: upload to Pixeldrain,
//!   run a program, forward to another URL ([`config`]);
//! - maps container paths to host paths and confines them to allowed roots,
//!   symlinks resolved ([`paths`]);
//! - stores every event and its jobs in SQLite before answering, so jobs
//!   survive crashes and restarts, with retries and a failure reason
//!   ([`store`]);
//! - chains actions (`then`, with fan-in by `after`), merges sessions, and
//!   uploads with rclone or to S3-compatible storage;
//! - answers `GET /healthz` (no authentication) with the job store's health.
//!
//! # Example
//!
//! ```
//! use onelive_sink::{Sink, SinkOptions, config::SinkConfig};
//!
//! # fn main() -> Result<(), onelive_sink::Error> {
//! let dir = std::env::temp_dir().join(format!("sink-lib-doc-{}", std::process::id()));
//! std::fs::create_dir_all(dir.join("rec")).unwrap();
//! let config = SinkConfig::from_toml_str(r#"
//!     [auth]
//!     keys = ["my_super_secret_webhook_key_123"]
//!     [paths]
//!     allowed_roots = ["rec"]
//!     map = [{ from = "/app/rec", to = "rec" }]
//!     [[rules]]
//!     name = "upload"
//!     events = ["video_transmux_finish"]
//!     actions = [{ kind = "pixeldrain", api_key = "5f45f184-64bb-4eaa-be19-4a5f0459db49" }]
//! "#)?;
//! let sink = Sink::new(config, SinkOptions { base_dir: Some(dir.clone()), ..Default::default() })?;
//! assert!(sink.store().list(None, 10)?.is_empty());
//! let _router: axum::Router = sink.router(); // serve it with axum, or use `Sink::serve`
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod actions;
pub mod auth;
pub mod config;
mod error;
mod merge;
pub mod metrics;
pub mod notify;
pub mod paths;
pub mod progress;
mod rclone;
mod s3;
mod server;
mod sink;
pub mod stand_in;
pub mod store;
mod template;

pub use actions::redact_url;
pub use error::{Error, Result};
pub use sink::{Sink, SinkOptions};
pub use template::PLACEHOLDERS;
