//! The error type of the recorder.

use std::path::PathBuf;

/// Why a recording could not start.
///
/// Problems *during* a recording do not surface here: they end the recording
/// with an [`EndReason`](crate::EndReason) and are sent as `error` events.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecorderError {
    /// The configuration makes no sense.
    #[error("invalid recording configuration: {0}")]
    InvalidConfig(String),
    /// The input is not what it should be (e.g. not an FLV file).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The output file system has less free space than the configured minimum.
    #[error(
        "not enough disk space in {}: {free_bytes} bytes free, at least {min_free_bytes} required",
        path.display()
    )]
    LowDiskSpace {
        /// The output directory.
        path: PathBuf,
        /// Free bytes available to this user.
        free_bytes: u64,
        /// The configured minimum.
        min_free_bytes: u64,
    },
}
