//! Webhook delivery for onelive: Standard Webhooks signatures, a durable
//! SQLite outbox, retries, and verification for receivers.
//!
//! - [`verify`] (always compiled, also with `default-features = false`):
//!   [`verify::WebhookSecret`], [`verify::Verifier`], [`verify::sign`],
//!   [`verify::key_matches`]. This is all a receiver needs.
//! - The sender (feature `sender`, on by default): `Dispatcher` writes every
//!   event to an outbox before `Dispatcher::enqueue` returns and delivers it
//!   to each matching `Endpoint` with retries.
//!
//! See the crate README and `docs/webhook-delivery.md` for the wire format.
#![deny(missing_docs)]

pub mod verify;
