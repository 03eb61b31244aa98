//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in a chat client or a chat file writer.
///
/// Connection-level errors never end a [`ChatClient`](crate::ChatClient): it
/// records them (see [`ChatStats::last_error`](crate::ChatStats)) and
/// reconnects with a capped backoff. They are returned directly only by the
/// building blocks (packet decoders, the HTTP look-up, the file writer).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DanmakuError {
    /// An HTTP request to the platform's API failed (network, status, body).
    #[error("{platform}: HTTP request to {url} failed: {detail}")]
    Http {
        /// Platform name.
        platform: &'static str,
        /// The URL asked (without secrets: chat endpoints carry none).
        url: String,
        /// What failed.
        detail: String,
    },
    /// The platform's API answered with an error code.
    #[error("{platform}: API error {code}: {message}")]
    Api {
        /// Platform name.
        platform: &'static str,
        /// The platform's error code.
        code: i64,
        /// The platform's message.
        message: String,
    },
    /// The WebSocket connection failed or broke.
    #[error("{platform}: WebSocket to {url}: {detail}")]
    WebSocket {
        /// Platform name.
        platform: &'static str,
        /// The endpoint.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The server sent a frame that breaks the platform's protocol.
    #[error("{platform}: malformed frame: {detail}")]
    Protocol {
        /// Platform name.
        platform: &'static str,
        /// What exactly is wrong (offsets, lengths, the field).
        detail: String,
    },
    /// The server refused the login/auth packet.
    #[error("{platform}: authentication refused: {detail}")]
    AuthRefused {
        /// Platform name.
        platform: &'static str,
        /// The server's answer.
        detail: String,
    },
    /// The server went silent (no frame, not even a heartbeat reply) too long.
    #[error("{platform}: no frame for {millis} ms")]
    Silent {
        /// Platform name.
        platform: &'static str,
        /// How long it was silent, milliseconds.
        millis: u128,
    },
    /// The server closed the connection or asked to reconnect.
    #[error("{platform}: server closed the connection: {detail}")]
    Closed {
        /// Platform name.
        platform: &'static str,
        /// Close reason.
        detail: String,
    },
    /// A configuration value is invalid (room id, URL, channel name).
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// What is invalid.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// Reading or writing a chat file failed.
    #[error("chat file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A chat file could not be repaired (it is not one of ours).
    #[error("chat file {path}: cannot repair: {detail}")]
    Repair {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

impl DanmakuError {
    pub(crate) fn protocol(platform: &'static str, detail: impl Into<String>) -> Self {
        Self::Protocol { platform, detail: detail.into() }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
