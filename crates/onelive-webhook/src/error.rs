//! The sender's error type.

use crate::verify::VerifyError;

/// Everything the sender side can fail with.
///
/// Messages never contain secrets: URLs are shown with their query values
/// and passwords redacted, and signing secrets are never printed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An endpoint's configuration is invalid (bad URL, bad secret, forbidden
    /// address, bad header, ...). Names the endpoint.
    #[error("webhook endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint {
        /// The endpoint's id.
        endpoint: String,
        /// What is wrong.
        reason: String,
    },
    /// The dispatcher configuration is invalid.
    #[error("invalid webhook dispatcher configuration: {0}")]
    InvalidConfig(String),
    /// No endpoint has this id.
    #[error("no webhook endpoint with id `{0}`")]
    UnknownEndpoint(String),
    /// No delivery has this id.
    #[error("no webhook delivery with id {0}")]
    UnknownDelivery(i64),
    /// The outbox database failed (I/O error, disk full, corrupt file, ...).
    /// Nothing of the failed operation was written.
    #[error("webhook outbox {path}: {message}")]
    Outbox {
        /// The outbox file.
        path: String,
        /// SQLite's description of the failure.
        message: String,
    },
    /// The dispatcher is shut down (or its writer thread stopped).
    #[error("the webhook dispatcher is shut down")]
    Closed,
    /// A signing secret could not be used.
    #[error(transparent)]
    Secret(#[from] VerifyError),
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
