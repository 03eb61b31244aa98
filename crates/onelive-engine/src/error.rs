//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The configuration file could not be read.
    #[error("cannot read config file {path}: {reason}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// The configuration is invalid: the file, the key and the reason.
    #[error("invalid config {path}: key `{key}`: {reason}")]
    Config {
        /// The file (or `<inline>` for a string).
        path: PathBuf,
        /// Dotted path of the offending key, e.g. `channels[2].url`.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration could not be written back.
    #[error("cannot write config file {path}: {reason}")]
    ConfigWrite {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A request to the engine was refused (unknown channel, duplicate URL...).
    #[error("{0}")]
    Invalid(String),
    /// Something that was looked up does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A platform adapter failed; its typed error (with
    /// [`kind`](onelive_platform::PlatformError::kind)) is kept.
    #[error(transparent)]
    Platform(#[from] onelive_platform::PlatformError),
    /// The recorder failed.
    #[error(transparent)]
    Recorder(#[from] onelive_recorder::RecorderError),
    /// The transmuxer failed.
    #[error(transparent)]
    Transmux(#[from] onelive_transmux::TransmuxError),
    /// A chat (danmaku) client or chat file failed.
    #[error(transparent)]
    Danmaku(#[from] onelive_danmaku::DanmakuError),
    /// The webhook dispatcher failed.
    #[error(transparent)]
    Webhook(#[from] onelive_webhook::Error),
    /// The state store (`state.db`) could not be opened, read or written.
    #[error("state store: {context}: {reason}")]
    Store {
        /// What was being done.
        context: String,
        /// The database's error.
        reason: String,
    },
    /// An I/O error (binding the API socket, creating folders...).
    #[error("{context}: {reason}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        reason: String,
    },
}

impl EngineError {
    pub(crate) fn io(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        EngineError::Io { context: context.into(), reason: err.to_string() }
    }
}
