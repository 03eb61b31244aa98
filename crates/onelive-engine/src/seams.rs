//! The engine's seams: small traits for the platform adapters, the recorder,
//! the transmuxer and the webhook dispatcher.
//!
//! [`crate::wiring`] implements them over the real onelive crates; tests
//! implement them in memory.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use onelive_events::{Event, LiveInfo};
use tokio::sync::mpsc;

use crate::config::{SplitConfig, WebhookConfig};
use crate::{EngineError, Secret};

/// A channel resolved by a platform adapter: the platform's own type (the
/// URL it was resolved from stays in the channel's configuration).
pub use onelive_platform::ChannelRef;

/// The result of one status poll.
#[derive(Debug, Clone, PartialEq)]
pub enum PollResult {
    /// Live, with its metadata.
    Live(LiveInfo),
    /// Offline.
    Offline(LiveInfo),
    /// The platform asked us to slow down.
    RateLimited(Option<Duration>),
    /// The poll failed; the message is free of secrets.
    Failed(String),
}

/// One stream variant chosen for recording.
#[derive(Clone, PartialEq)]
pub struct StreamChoice {
    /// The media URL (`.m3u8` or `.flv`).
    pub url: String,
    /// A label of the chosen quality (e.g. `source`, `1080p`).
    pub quality: String,
    /// HLS or HTTP-FLV.
    pub kind: onelive_platform::StreamKind,
    /// HTTP headers ffmpeg must send (values may be cookies: redacted in Debug).
    pub headers: Vec<(String, Secret)>,
}

impl std::fmt::Debug for StreamChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.url.split('?').next().unwrap_or("");
        f.debug_struct("StreamChoice")
            .field("url", &url)
            .field("quality", &self.quality)
            .field("kind", &self.kind)
            .field("headers", &self.headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

/// Platform adapters as the engine sees them.
#[async_trait]
pub trait LiveSource: Send + Sync + 'static {
    /// Which platform and channel a URL is (no network).
    fn resolve(&self, url: &str) -> Result<ChannelRef, EngineError>;
    /// The canonical form of a resolved channel: the one id its events,
    /// files and sessions carry whatever URL form was pasted (a Bilibili
    /// short id such as `196` becomes its long room id). Called once when a
    /// channel is added; may ask the platform. When it cannot tell (the
    /// platform does not answer), the channel is kept as resolved. The
    /// default keeps it.
    async fn canonical(&self, channel: ChannelRef) -> ChannelRef {
        channel
    }
    /// The platform's default minimum poll interval.
    fn min_poll_interval(&self, platform: &str) -> Duration;
    /// One status poll.
    async fn poll(&self, channel: &ChannelRef) -> PollResult;
    /// The stream to record, by quality preference (best first).
    async fn stream(
        &self,
        channel: &ChannelRef,
        quality: &[String],
    ) -> Result<StreamChoice, EngineError>;
    /// True when the platform's stream URLs may be usable once: the
    /// recorder then gets a [`StreamRefetch`] to call on reconnect.
    fn single_use_stream_urls(&self, platform: &str) -> bool {
        let _ = platform;
        false
    }
}

type RefetchFn = dyn Fn() -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<StreamChoice, EngineError>> + Send>,
    > + Send
    + Sync;

/// Fetches the stream again (fresh variants, same quality preference), for
/// a recorder reconnecting to a platform with single-use stream URLs.
#[derive(Clone)]
pub struct StreamRefetch(std::sync::Arc<RefetchFn>);

impl StreamRefetch {
    /// Asks [`LiveSource::stream`] of `source` again for `channel`.
    pub fn new(
        source: std::sync::Arc<dyn LiveSource>,
        channel: ChannelRef,
        quality: Vec<String>,
    ) -> Self {
        StreamRefetch(std::sync::Arc::new(move || {
            let (source, channel, quality) = (source.clone(), channel.clone(), quality.clone());
            Box::pin(async move { source.stream(&channel, &quality).await })
        }))
    }

    /// A fresh stream choice.
    pub async fn fetch(&self) -> Result<StreamChoice, EngineError> {
        (self.0)().await
    }
}

impl std::fmt::Debug for StreamRefetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StreamRefetch")
    }
}

/// What the engine asks the recorder to do.
#[derive(Debug, Clone)]
pub struct RecordingRequest {
    /// The stream.
    pub stream: StreamChoice,
    /// Absolute folder the template renders below.
    pub output_dir: PathBuf,
    /// File name template (engine variables filled in, `{part}` guaranteed).
    pub template: onelive_recorder::FilenameTemplate,
    /// Platform, channel, session, live info (uname, title) and session start
    /// time the template is rendered with.
    pub context: onelive_recorder::EventContext,
    /// Number of the first part this recording writes.
    pub first_part: u32,
    /// Container; `None` is the natural one of the stream kind (`.ts` for
    /// HLS, `.flv` for HTTP-FLV).
    pub container: Option<onelive_recorder::Container>,
    /// Refuse to start, and stop, below this many free bytes (0: no guard).
    pub min_free_bytes: u64,
    /// When to cut into parts.
    pub split: SplitConfig,
    /// Stop when nothing was written for this long.
    pub stall_timeout: Duration,
    /// Set for platforms with single-use stream URLs: the recorder calls it
    /// on reconnect instead of reusing [`stream`](Self::stream)'s URL.
    pub refetch: Option<StreamRefetch>,
}

/// What a running recording reports.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordingEvent {
    /// A file was opened (a new part: its first frame is written next):
    /// the recorder's own `video_file_create` data (the watcher adds the
    /// session and the current live info, then publishes it).
    FileCreated {
        /// The recorder's event data.
        data: onelive_events::VideoFileCreateData,
        /// When the recorder opened it: the part's time zero (chat times
        /// count from here).
        at: std::time::Instant,
    },
    /// Bytes written so far to the current file.
    Progress {
        /// Bytes.
        bytes: u64,
    },
    /// A file was closed and is complete: the recorder's own
    /// `video_file_finish` data (path, size, duration from the stream).
    FileFinished(onelive_events::VideoFileFinishData),
    /// Something a human should see (an unplayable file discarded...).
    Error {
        /// Description (free of secrets).
        message: String,
    },
    /// The stream source went away (ffmpeg ended after refused reloads or
    /// failing segments): a real loss while the channel is still live, or
    /// just the end of a stream whose platform has not said so yet. The
    /// engine publishes `message` as an `error` only when the next poll
    /// still finds the channel live.
    SourceLost {
        /// Description (free of secrets).
        message: String,
    },
    /// The recording ended (the last event).
    Stopped {
        /// Why (free of secrets).
        reason: String,
        /// True when it was a failure rather than a requested stop or a stream end.
        failed: bool,
        /// The part number a follow-up recording of the session should use.
        next_part: u32,
    },
}

/// Stops a running recording.
pub trait RecordingControl: Send + Sync + 'static {
    /// Asks the recording to finalize its file and stop; its event channel
    /// then reports the finished file and [`RecordingEvent::Stopped`].
    fn stop(&mut self);
}

/// A running recording.
pub struct RecordingHandle {
    /// Its events; the channel closes after [`RecordingEvent::Stopped`].
    pub events: mpsc::Receiver<RecordingEvent>,
    /// How to stop it.
    pub control: Box<dyn RecordingControl>,
}

impl std::fmt::Debug for RecordingHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingHandle").finish_non_exhaustive()
    }
}

/// The ffmpeg recorder as the engine sees it.
#[async_trait]
pub trait Recorder: Send + Sync + 'static {
    /// Starts recording.
    async fn start(&self, request: RecordingRequest) -> Result<RecordingHandle, EngineError>;
}

/// Transmuxes one file.
#[async_trait]
pub trait Transmuxer: Send + Sync + 'static {
    /// Runs `job` (onelive-transmux's own job: input, format, tags,
    /// `delete_source`), verifies the output and returns its path.
    async fn transmux(&self, job: &onelive_transmux::TransmuxJob) -> Result<PathBuf, EngineError>;
}

/// One delivery record: the dispatcher's own type.
pub use onelive_webhook::DeliveryRecord;
/// Delivery counters: the dispatcher's own type.
pub use onelive_webhook::OutboxStats as DeliveryStats;

/// The webhook dispatcher as the engine sees it.
#[async_trait]
pub trait EventDelivery: Send + Sync + 'static {
    /// Durably enqueues an event for every matching endpoint.
    async fn publish(&self, event: &Event) -> Result<(), EngineError>;
    /// Replaces the endpoint set.
    async fn set_endpoints(&self, endpoints: &[WebhookConfig]) -> Result<(), EngineError>;
    /// Sends a `test` event to one endpoint now and reports the outcome.
    async fn send_test(&self, endpoint: &WebhookConfig) -> Result<String, EngineError>;
    /// Recent deliveries, newest first (optionally of one webhook).
    async fn recent(
        &self,
        webhook_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, EngineError>;
    /// Delivers a delivery again.
    async fn redeliver(&self, delivery_id: &str) -> Result<(), EngineError>;
    /// Waits until nothing is pending or the timeout passes; true when drained.
    async fn flush(&self, timeout: Duration) -> bool;
    /// Counters.
    async fn stats(&self) -> DeliveryStats;
    /// Stops delivery workers (undelivered events stay durable).
    async fn close(&self);
}

/// A live/offline signal of a chat feed: the chat crate's own type.
pub use onelive_danmaku::LiveSignal;
/// What a chat file's header says about the recording (the chat crate's type).
pub use onelive_danmaku::PartInfo as ChatPartInfo;
/// What a closed chat file holds (the chat crate's type).
pub use onelive_danmaku::PartSummary as ChatFileSummary;

/// Settings of one chat connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatOptions {
    /// Also write `<base>.jsonl` beside each chat file.
    pub jsonl: bool,
}

/// Live chat ("danmaku") capture as the engine sees it: one connection per
/// watched channel, opened when its watcher starts and stopped with it.
pub trait ChatSource: Send + Sync + 'static {
    /// Connects to `channel`'s chat (in the background: this returns at
    /// once, the connection retries by itself). `Ok(None)`: its platform
    /// has no chat client. An error: the channel cannot have one (an id the
    /// chat protocol does not accept).
    fn connect(
        &self,
        channel: &ChannelRef,
        options: &ChatOptions,
    ) -> Result<Option<Box<dyn ChatConnection>>, EngineError>;
}

/// One channel's chat connection.
#[async_trait]
pub trait ChatConnection: Send + Sync + 'static {
    /// The next live/offline signal of the feed; `None` once none will
    /// come (the connection stopped).
    async fn signal(&mut self) -> Option<LiveSignal>;
    /// Opens the chat file of a new part at `path`; chat offsets count
    /// from `part_start`, the instant of the part's first frame. A part
    /// still open is closed first.
    fn start_part(
        &mut self,
        path: &std::path::Path,
        part_start: std::time::Instant,
        info: &ChatPartInfo,
    ) -> Result<(), EngineError>;
    /// Closes the current part's chat file (flushed, synced); `None` when
    /// no part is open (or its file failed and was closed).
    fn finish_part(&mut self) -> Result<Option<ChatFileSummary>, EngineError>;
    /// Stops the connection.
    async fn stop(self: Box<Self>);
}
