//! Verified stream-copy transmux of live recordings: `.ts`/`.flv` to
//! `.mp4` (`+faststart`) or `.mkv`.
//!
//! - stream copy with the bitstream filters the codecs need
//!   (`aac_adtstoasc` for AAC);
//! - tags: `title`, `artist` (streamer), `date` (RFC 3339) and a `comment`
//!   with one `key: value` per line ([`metadata_comment`]) for `title`,
//!   `user_name`, `channel`, `platform` and `start_time`, the lines that
//!   consumers such as biliLive-tools read back with ffprobe;
//! - the output is written under a temporary name and verified with ffprobe
//!   (it opens, has the input's streams, its duration is close to the
//!   input's) before it gets its final name and is announced; the source is
//!   deleted only after that, and only on request. A failure keeps the
//!   source and removes the partial output.
//!
//! The crate has no queue: the caller decides concurrency, retries and
//! persistence (onelive-engine's queue runs the jobs of its file ledger).
//!
//! ```no_run
//! use onelive_transmux::{OutputFormat, RecordingMetadata, TransmuxJob, TransmuxOptions, transmux};
//! # async fn demo() -> Result<(), onelive_transmux::TransmuxError> {
//! let mut job = TransmuxJob::new("rec/part001.ts", OutputFormat::Mp4);
//! job.metadata = RecordingMetadata { title: "late night".into(), ..Default::default() };
//! job.delete_source = true;
//! let report = transmux(&job, &TransmuxOptions::default()).await?;
//! assert!(report.source_deleted);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod error;
mod job;
mod probe;

pub use error::TransmuxError;
pub use job::{
    OutputFormat, RecordingMetadata, TransmuxJob, TransmuxOptions, TransmuxReport,
    metadata_comment, transmux,
};
