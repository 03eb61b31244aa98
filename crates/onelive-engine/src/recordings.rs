//! The recent recording files as `GET /api/recordings` shows them: a view
//! of the [file ledger](crate::store) in the state store, so it survives
//! restarts. At most [`MAX_RECORDINGS`] settled files are kept; the oldest
//! are forgotten first (the files themselves stay).

use onelive_events::Uuid;
use serde::{Deserialize, Serialize};

/// How many recordings the list keeps.
pub const MAX_RECORDINGS: usize = 1000;

/// Where a recording file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    /// Being written now.
    Recording,
    /// Finished and announced (`video_file_finish`).
    Finished,
    /// Was being written when the engine stopped without finishing it (a
    /// crash); the next start announces it if it is readable.
    Interrupted,
}

/// Where the transmux of a recording stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransmuxState {
    /// Not transmuxed (disabled, empty file, or not finished yet).
    None,
    /// Queued or running.
    Pending,
    /// Done: see `transmux_output`.
    Done,
    /// Failed: see `transmux_error` (the recording is kept).
    Failed,
}

/// One recording file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// The file.
    pub path: String,
    /// Platform.
    pub platform: String,
    /// Channel.
    pub channel: String,
    /// Session.
    pub session_id: Option<Uuid>,
    /// Live title when the file was opened.
    pub title: Option<String>,
    /// When the file was opened (RFC 3339).
    pub started_at: String,
    /// When it was finished (RFC 3339).
    pub finished_at: Option<String>,
    /// Recording, finished or interrupted.
    pub state: RecordingState,
    /// Size in bytes, once finished.
    pub size: Option<u64>,
    /// Duration in seconds, once finished.
    pub duration: Option<f64>,
    /// Transmux state.
    pub transmux: TransmuxState,
    /// The transmuxed file.
    pub transmux_output: Option<String>,
    /// Why the transmux failed.
    pub transmux_error: Option<String>,
}
