//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong in the sink.
///
/// No variant ever carries a secret (API key, webhook key or secret).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration file could not be read.
    #[error("cannot read config file {path}: {reason}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The configuration is malformed or inconsistent.
    #[error("invalid config: {0}")]
    Config(String),
    /// No authentication is configured and the caller did not opt out.
    #[error(
        "no authentication configured ([auth] keys, secrets or allow_ips); \
         refusing to start without `--insecure-no-auth`"
    )]
    NoAuth,
    /// The job store (SQLite) failed.
    #[error("job store {path}: {reason}")]
    Store {
        /// The database file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// An event's file path was refused by path mapping and confinement.
    #[error("path refused: {0}")]
    PathRefused(String),
    /// An action (upload, command, forward) failed.
    #[error("{0}")]
    Action(String),
    /// The HTTP server failed (bind, accept).
    #[error("server: {0}")]
    Server(String),
    /// No job with this id exists.
    #[error("no job with id {0}")]
    JobNotFound(i64),
    /// The job exists but cannot be retried in its current state.
    #[error("job {id} is {state}; only failed jobs can be retried")]
    NotRetryable {
        /// The job id.
        id: i64,
        /// Its state.
        state: String,
    },
}

/// Shorthand for `Result<T, onelive_sink::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
