//! What to record, where, and how.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use onelive_events::{LiveInfo, OffsetDateTime, Uuid};
use serde::{Deserialize, Serialize};

use crate::redact::{REDACTED, is_secret_header, redact_urls};
use crate::template::FilenameTemplate;

/// The protocol of a stream URL (one type from the adapter to the recorder).
pub use onelive_events::StreamKind;

/// The container recordings are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    /// MPEG-TS (`.ts`): survives a crash at any byte, the default for HLS.
    Ts,
    /// FLV (`.flv`): the default for HTTP-FLV.
    Flv,
}

impl Container {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Container::Ts => "ts",
            Container::Flv => "flv",
        }
    }

    /// The ffmpeg muxer name.
    pub fn ffmpeg_format(self) -> &'static str {
        match self {
            Container::Ts => "mpegts",
            Container::Flv => "flv",
        }
    }

    /// The natural container of a stream kind (`.ts` for HLS, `.flv` for FLV).
    pub fn for_kind(kind: StreamKind) -> Self {
        match kind {
            StreamKind::Hls => Container::Ts,
            StreamKind::Flv => Container::Flv,
        }
    }
}

/// Which engine records a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// In-process HTTP-FLV and HLS recording with FLV repair and gapless
    /// splits (`onelive-stream`); fMP4 HLS is written as `.m4s` (the init
    /// section, then the fragments). Streams it cannot handle (not FLV, encrypted HLS, fMP4
    /// asked for as `.ts`, a container it does not write) fall back to
    /// ffmpeg for that recording, with an `error` event that says why.
    #[default]
    Native,
    /// One `ffmpeg -c copy` child per part.
    Ffmpeg,
}

/// One stream variant to record: its URL, kind and request headers.
///
/// `Debug` redacts cookie/authorization-like header values and URL query values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSource {
    /// The stream URL (may carry tokens in its query).
    pub url: String,
    /// HLS or FLV.
    pub kind: StreamKind,
    /// Extra request headers (`Cookie`, `Referer`, `Authorization`...).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The `User-Agent` to send, when set.
    #[serde(default)]
    pub user_agent: Option<String>,
}

impl std::fmt::Debug for StreamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let v = if is_secret_header(k) { REDACTED.to_owned() } else { redact_urls(v) };
                (k.clone(), v)
            })
            .collect();
        f.debug_struct("StreamSource")
            .field("url", &redact_urls(&self.url))
            .field("kind", &self.kind)
            .field("headers", &headers)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl StreamSource {
    /// A source without headers.
    pub fn new(url: impl Into<String>, kind: StreamKind) -> Self {
        StreamSource { url: url.into(), kind, headers: Vec::new(), user_agent: None }
    }

    /// Adds a request header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a `Cookie` header.
    pub fn with_cookie(self, cookie: impl Into<String>) -> Self {
        self.with_header("Cookie", cookie)
    }
}

type ResolveFn =
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<StreamSource, String>> + Send>> + Send + Sync;

/// Gives a fresh [`StreamSource`] for a reconnect: the native engine calls
/// it before every reconnect of an HTTP-FLV recording instead of reusing
/// the URL it started with, for platforms whose stream URLs can be used once
/// (Huya's signed HTTPS URLs). An `Err` (its message free of secrets) counts
/// as a failed connection attempt and is retried within the reconnect
/// window. The ffmpeg engine does not call it (ffmpeg's own `-reconnect`
/// reuses the URL).
#[derive(Clone)]
pub struct SourceResolver(Arc<ResolveFn>);

impl SourceResolver {
    /// A resolver from an async function.
    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<StreamSource, String>> + Send + 'static,
    {
        SourceResolver(Arc::new(move || Box::pin(f())))
    }

    /// Asks for a fresh source.
    pub async fn resolve(&self) -> Result<StreamSource, String> {
        (self.0)().await
    }
}

impl std::fmt::Debug for SourceResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourceResolver")
    }
}

/// When a recording moves on to the next part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SplitPolicy {
    /// Close a part after this much media time.
    pub max_duration: Option<Duration>,
    /// Close a part once it reaches this many bytes.
    pub max_bytes: Option<u64>,
}

/// Who and what the events are about. Every event of the recording carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventContext {
    /// Platform name, e.g. `bilibili`.
    pub platform: String,
    /// Channel id on the platform.
    pub channel: String,
    /// The live session id, shared with `live_start`/`live_end`.
    pub session_id: Option<Uuid>,
    /// The channel's metadata (uname and title feed the filename template).
    pub live_info: LiveInfo,
    /// The session start time for `{start_time}` (use a local offset for local names).
    pub session_start: OffsetDateTime,
}

impl EventContext {
    /// A context with empty metadata, starting now (UTC).
    pub fn new(platform: impl Into<String>, channel: impl Into<String>) -> Self {
        EventContext {
            platform: platform.into(),
            channel: channel.into(),
            session_id: None,
            live_info: LiveInfo::default(),
            session_start: OffsetDateTime::now_utc(),
        }
    }
}

/// Everything about one recording. Build with [`RecordingConfig::new`] and
/// adjust the public fields.
#[derive(Debug, Clone)]
pub struct RecordingConfig {
    /// What to record.
    pub source: StreamSource,
    /// Re-resolves the source before each reconnect (native engine, HTTP-FLV);
    /// `None`: reconnects reuse [`source`](Self::source).
    pub resolver: Option<SourceResolver>,
    /// Root directory of the files; the template renders below it.
    pub output_dir: PathBuf,
    /// File naming.
    pub template: FilenameTemplate,
    /// Output container; `None` picks [`Container::for_kind`].
    pub container: Option<Container>,
    /// Part splitting.
    pub split: SplitPolicy,
    /// The recording engine (default [`Engine::Native`]).
    pub engine: Engine,
    /// Stop after this much recorded media time in total (`None`: until the
    /// stream ends or [`Recording::stop`](crate::Recording::stop)).
    pub stop_after: Option<Duration>,
    /// Number of the first part (a caller restarting after a stall passes
    /// [`RecordingOutcome::next_part`](crate::RecordingOutcome::next_part)).
    pub first_part: u32,
    /// Watchdog: no progress (bytes or media time) for this long stops the part.
    pub stall_timeout: Duration,
    /// ffmpeg `-rw_timeout`: a network read or write that blocks this long fails.
    pub io_timeout: Duration,
    /// Pass ffmpeg's HTTP `-reconnect` options (network errors are retried).
    pub reconnect: bool,
    /// ffmpeg `-analyzeduration`: how much of the stream is read to find the
    /// stream parameters before the file is opened. ffmpeg's own default is
    /// 5 s; 2 s is plenty for H.264/HEVC + AAC live streams and halves the
    /// time to the first bytes on a paced FLV stream. `None`: ffmpeg's default.
    pub probe_duration: Option<Duration>,
    /// Disk guard: refuse to start, and stop, when the output file system has
    /// fewer free bytes than this.
    pub min_free_bytes: u64,
    /// Graceful stop: how long to wait after writing `q` before SIGTERM.
    pub quit_timeout: Duration,
    /// Graceful stop: how long to wait after SIGTERM before SIGKILL.
    pub term_timeout: Duration,
    /// The ffmpeg executable.
    pub ffmpeg: PathBuf,
    /// The ffprobe executable.
    pub ffprobe: PathBuf,
}

impl RecordingConfig {
    /// A config with defaults: default template, no split, 30 s stall
    /// timeout, 15 s I/O timeout, reconnect on, 2 s probe, 1 GiB disk guard.
    pub fn new(source: StreamSource, output_dir: impl Into<PathBuf>) -> Self {
        RecordingConfig {
            source,
            resolver: None,
            output_dir: output_dir.into(),
            template: FilenameTemplate::default(),
            container: None,
            split: SplitPolicy::default(),
            engine: Engine::default(),
            stop_after: None,
            first_part: 1,
            stall_timeout: Duration::from_secs(30),
            io_timeout: Duration::from_secs(15),
            reconnect: true,
            probe_duration: Some(Duration::from_secs(2)),
            min_free_bytes: 1 << 30,
            quit_timeout: Duration::from_secs(5),
            term_timeout: Duration::from_secs(5),
            ffmpeg: PathBuf::from("ffmpeg"),
            ffprobe: PathBuf::from("ffprobe"),
        }
    }

    /// The container actually used.
    pub fn effective_container(&self) -> Container {
        self.container.unwrap_or_else(|| Container::for_kind(self.source.kind))
    }
}
