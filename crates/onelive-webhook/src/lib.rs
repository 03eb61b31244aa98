//! Webhook delivery for onelive: Standard Webhooks signatures, a durable
//! SQLite outbox, retries, and verification for receivers.
//!
//! - [`verify`] (always compiled; the only part built by default):
//!   [`verify::WebhookSecret`], [`verify::Verifier`], [`verify::sign`],
//!   [`verify::key_matches`]. This is all a receiver needs.
//! - The sender (feature `sender`, off by default): `Dispatcher` writes every
//!   event to an outbox before `Dispatcher::enqueue` returns and delivers it
//!   to each matching `Endpoint` with retries.
//!
//! See the crate README and `docs/webhook-delivery.md` for the wire format.
#![deny(missing_docs)]

pub mod verify;

#[cfg(feature = "sender")]
mod dispatcher;
#[cfg(feature = "sender")]
mod endpoint;
#[cfg(feature = "sender")]
mod error;
#[cfg(feature = "sender")]
mod outbox;
#[cfg(feature = "sender")]
mod redact;
#[cfg(feature = "sender")]
mod retry;
#[cfg(feature = "sender")]
pub mod ssrf;

#[cfg(feature = "sender")]
pub use dispatcher::{
    DEFAULT_USER_AGENT, Dispatcher, DispatcherConfig, ShutdownReport, TestOutcome,
};
#[cfg(feature = "sender")]
pub use endpoint::{DEFAULT_TIMEOUT, Endpoint, MAX_TIMEOUT};
#[cfg(feature = "sender")]
pub use error::{Error, Result};
#[cfg(feature = "sender")]
pub use outbox::{DeliveryRecord, DeliveryState, HistoryLimits, OutboxStats};
#[cfg(feature = "sender")]
pub use redact::redact_url;
#[cfg(feature = "sender")]
pub use retry::RetrySchedule;
#[cfg(feature = "sender")]
pub use ssrf::{DnsResolver, SsrfPolicy, SystemResolver};
