//! The error type of the transmuxer.

use std::path::PathBuf;

/// Why a transmux failed. The source is always kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransmuxError {
    /// The input is missing, empty, or not a readable recording.
    #[error("cannot transmux {}: {reason}", path.display())]
    InvalidInput {
        /// The input.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The output path already exists (it is never overwritten).
    #[error("the output {} already exists", path.display())]
    OutputExists {
        /// The output.
        path: PathBuf,
    },
    /// ffmpeg could not be started.
    #[error("cannot run ffmpeg ({program}): {source}")]
    Spawn {
        /// The executable.
        program: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// ffmpeg failed.
    #[error("ffmpeg failed (exit code {}): {stderr}", exit_code.map_or_else(|| "none".to_owned(), |c| c.to_string()))]
    Ffmpeg {
        /// Its exit code.
        exit_code: Option<i32>,
        /// Its last stderr lines.
        stderr: String,
    },
    /// The output did not pass verification and was removed.
    #[error("the output {} failed verification: {reason}", path.display())]
    Verification {
        /// The output that was removed.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The queue no longer accepts jobs.
    #[error("the transmux queue is closed")]
    QueueClosed,
    /// The queue is full (only from `try_submit`).
    #[error("the transmux queue is full")]
    QueueFull,
}
