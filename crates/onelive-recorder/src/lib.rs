//! Records one live stream variant (HLS or HTTP-FLV), with the native
//! engine (in-process reading and FLV repair by `onelive-stream`, gapless
//! splits; [`Engine::Native`], the default) or with ffmpeg stream copy
//! ([`Engine::Ffmpeg`]). Both share everything below except where noted.
//!
//! - ffmpeg engine: one ffmpeg per part (`-c copy`, `-t`/`-fs` for splitting), into `.ts`
//!   or `.flv` files named by a [`FilenameTemplate`];
//! - `video_file_create` when a file appears, `video_file_finish` with its
//!   true size and ffprobe duration when it is closed, `error` events with
//!   ffmpeg's last stderr lines (secrets redacted), all as
//!   [`onelive_events::Event`] values on a tokio channel;
//! - a watchdog that stops a part when neither bytes nor media time advance;
//! - a graceful stop (`q`, then SIGTERM, then SIGKILL) that always finalizes
//!   the file; empty or unplayable leftovers are removed and reported;
//! - a disk space guard (statvfs).
//!
//! ```no_run
//! use onelive_recorder::{
//!     EventContext, FilenameTemplate, RecordingConfig, SplitPolicy, StreamKind, StreamSource,
//!     record,
//! };
//! use std::time::Duration;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let source = StreamSource::new("http://127.0.0.1:8080/live/stream.m3u8", StreamKind::Hls)
//!     .with_cookie("SESSDATA=secret");
//! let mut config = RecordingConfig::new(source, "/srv/recordings");
//! config.template = FilenameTemplate::parse("{uname}/{start_time:%Y-%m-%d}-{title}-{part:03}")?;
//! config.split = SplitPolicy { max_duration: Some(Duration::from_secs(3600)), max_bytes: None };
//! config.stall_timeout = Duration::from_secs(20);
//!
//! let (tx, mut events) = tokio::sync::mpsc::channel(64);
//! let recording = record(config, EventContext::new("bilibili", "123"), tx).await?;
//! tokio::spawn(async move {
//!     while let Some(event) = events.recv().await {
//!         println!("{}", event.to_json());
//!     }
//! });
//! println!("{:?}", recording.progress());
//! let outcome = recording.stop().await;
//! println!("{:?} {} files", outcome.reason, outcome.files.len());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod config;
mod disk;
mod error;
mod ffmpeg;
mod handoff;
mod native;
mod recording;
mod redact;
mod repair;
mod template;

pub use config::{
    Container, Engine, EventContext, RecordingConfig, SourceResolver, SplitPolicy, StreamKind,
    StreamSource,
};
pub use disk::free_bytes;
pub use error::RecorderError;
pub use onelive_stream::flv::RepairStats;
pub use recording::{
    EndReason, FinishedFile, Recording, RecordingOutcome, RecordingProgress, record,
};
pub use redact::{REDACTED, is_secret_header, redact_urls};
pub use repair::{RepairReport, RepairedFile, repair_flv_file};
pub use template::{
    DEFAULT_TEMPLATE, DEFAULT_TIME_FORMAT, FilenameTemplate, TEMPLATE_VARIABLES, TemplateError,
    TemplateValues, sanitize_value,
};
