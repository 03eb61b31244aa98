//! The onelive recording engine: watches live channels, records them with
//! ffmpeg, transmuxes the recordings and delivers signed webhook events.
//!
//! The engine composes the other onelive crates through small traits
//! ([`seams`]): a [`LiveSource`] (platform adapters), a [`Recorder`], a
//! [`Transmuxer`], an [`EventDelivery`] (the webhook outbox) and a
//! [`ChatSource`] (live chat, `[danmaku]`). The real implementations are in
//! [`wiring`]; tests substitute their own.
//!
//! - [`EngineConfig`]: `oneliverec.toml`, validated with precise errors.
//! - [`ChannelMachine`]: the per-channel live/offline state machine (pure).
//! - [`Engine`]: one watcher task per channel, bounded poll concurrency, a
//!   global cap on recordings, the transmux queue, graceful shutdown.
//! - [`Store`]: the one durable store (`state.db`, SQLite): the file
//!   ledger (open → finished → transmuxed) and the open sessions.
//! - [`api::router`]: the HTTP API (axum) and `/metrics`.
//! - [`run`]: the whole recorder service (`oneliverec run`) as one call,
//!   with custom platform adapters ([`RunOptions::with_adapter`]).
//!
//! ```
//! use onelive_engine::{ChannelMachine, Observation, Action};
//! use onelive_engine::machine::Phase;
//! use std::time::{Duration, Instant};
//!
//! let mut m = ChannelMachine::new(Duration::from_secs(120), true, 3);
//! let t0 = Instant::now();
//! let actions = m.observe(t0, Observation::Live(Default::default()));
//! assert!(matches!(actions[0], Action::LiveStart { .. }));
//! assert!(matches!(actions[1], Action::StartRecording { part: 1, .. }));
//! m.observe(t0 + Duration::from_secs(30), Observation::Offline);
//! assert!(matches!(m.phase(), Phase::Ending { .. }));
//! ```
#![deny(missing_docs)]

pub mod api;
mod api_guard;
mod backoff;
pub mod cluster;
pub mod config;
mod duration;
mod engine;
mod error;
pub mod machine;
pub mod metrics;
mod publisher;
pub mod recordings;
mod recovery;
pub mod redact;
pub mod seams;
mod secret;
mod service;
mod sessions;
pub mod store;
mod sync;
pub mod template;
mod transmux_queue;
mod watcher;
pub mod wiring;

pub use config::{ChannelConfig, EngineConfig, WebhookConfig};
pub use duration::HumanDuration;
pub use engine::{ChannelSnapshot, Engine, EngineParts, channel_id};
pub use error::EngineError;
pub use machine::{Action, ChannelMachine, Observation};
pub use publisher::Counters;
pub use recordings::Recording;
pub use seams::{ChatSource, EventDelivery, LiveSource, Recorder, Transmuxer};
pub use secret::Secret;
pub use service::{RunOptions, check_config, run};
pub use store::{LedgerFile, OpenSession, Store};
pub use watcher::ChannelView;
