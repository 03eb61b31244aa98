//! A running recording: the part loop, the watchdog, events and progress.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onelive_events::{ErrorData, Event, EventData, VideoFileCreateData, VideoFileFinishData};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{Engine, EventContext, RecordingConfig};
use crate::disk::free_bytes;
use crate::error::RecorderError;
use crate::ffmpeg::{self, ProgressBlock};
use crate::native;
use crate::redact::Redactor;
use crate::template::TemplateValues;

/// How many ffmpeg stderr lines are kept for error reports.
const STDERR_LINES: usize = 30;
/// How many of them an error event carries.
const STDERR_REPORTED: usize = 8;
/// A part that ends this close to its `-t` limit reached it.
const LIMIT_TOLERANCE: f64 = 1.5;

/// Live figures of a recording, for an API or a progress bar.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordingProgress {
    /// The part being written (or the last one).
    pub part: u32,
    /// The file being written, when one is open.
    pub current_file: Option<PathBuf>,
    /// Bytes in the current file.
    pub current_file_bytes: u64,
    /// Bytes written by this recording so far (all parts).
    pub bytes_written: u64,
    /// ffmpeg's reported output bitrate in kbit/s.
    pub bitrate_kbps: f64,
    /// Media time written to the current file.
    pub media_time: Duration,
    /// Files finished and announced so far.
    pub files_finished: u32,
}

/// A file the recording finished and announced with `video_file_finish`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishedFile {
    /// Its path.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Duration in seconds: ffprobe's (ffmpeg engine) or the stream's own
    /// timestamps (native engine).
    pub duration: f64,
}

/// Why a recording ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EndReason {
    /// [`Recording::stop`] (or dropping the handle) stopped it.
    Stopped,
    /// ffmpeg reached the end of the stream (HLS `#EXT-X-ENDLIST`, FLV EOF).
    StreamEnded,
    /// [`RecordingConfig::stop_after`] was reached.
    LimitReached,
    /// The watchdog saw no progress for this long and stopped ffmpeg.
    Stalled {
        /// The configured stall timeout.
        after: Duration,
    },
    /// ffmpeg ended cleanly but only after network errors (the origin went
    /// away: HLS playlist reloads refused, segments failing). ffmpeg's HLS
    /// demuxer exits 0 in that case, so this is told apart from a real
    /// [`StreamEnded`](Self::StreamEnded) by its stderr.
    SourceLost {
        /// ffmpeg's last stderr lines, redacted.
        stderr: String,
    },
    /// ffmpeg exited with an error by itself.
    FfmpegFailed {
        /// Its exit code (`None` when killed by a signal).
        exit_code: Option<i32>,
        /// Its last stderr lines, redacted.
        stderr: String,
    },
    /// Free disk space fell below [`RecordingConfig::min_free_bytes`].
    LowDiskSpace {
        /// Free bytes when it stopped.
        free_bytes: u64,
    },
    /// ffmpeg could not be started, or an output directory not created.
    StartFailed {
        /// What failed.
        message: String,
    },
}

/// The result of a finished recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingOutcome {
    /// Why it ended.
    pub reason: EndReason,
    /// The files announced with `video_file_finish`, in order.
    pub files: Vec<FinishedFile>,
    /// Empty or unplayable files that were removed (and reported as errors).
    pub discarded: Vec<PathBuf>,
    /// The part number a follow-up recording of the same session should start at.
    pub next_part: u32,
}

/// A running recording. Dropping it stops the recording gracefully in the
/// background (files are still finalized and announced).
#[derive(Debug)]
pub struct Recording {
    progress: watch::Receiver<RecordingProgress>,
    stop: CancellationToken,
    task: Option<JoinHandle<RecordingOutcome>>,
}

impl Recording {
    /// A snapshot of the progress.
    pub fn progress(&self) -> RecordingProgress {
        self.progress.borrow().clone()
    }

    /// A receiver that sees every progress update.
    pub fn subscribe_progress(&self) -> watch::Receiver<RecordingProgress> {
        self.progress.clone()
    }

    /// Asks the recording to stop without waiting.
    pub fn request_stop(&self) {
        self.stop.cancel();
    }

    /// True once the recording has ended.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops gracefully (`q`, then SIGTERM, then SIGKILL after the
    /// configured timeouts), finalizes and announces the current file, and
    /// returns the outcome.
    pub async fn stop(mut self) -> RecordingOutcome {
        self.stop.cancel();
        self.join().await
    }

    /// Waits until the recording ends by itself (stream end, stall, error,
    /// limit) or is stopped.
    pub async fn wait(mut self) -> RecordingOutcome {
        self.join().await
    }

    async fn join(&mut self) -> RecordingOutcome {
        let lost = |message: String| RecordingOutcome {
            reason: EndReason::StartFailed { message },
            files: Vec::new(),
            discarded: Vec::new(),
            next_part: self.progress.borrow().part,
        };
        match self.task.take() {
            Some(task) => match task.await {
                Ok(outcome) => outcome,
                Err(e) => lost(format!("the recording task ended abnormally: {e}")),
            },
            None => lost("the recording was already joined".into()),
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts recording `config.source`. Events (`video_file_create`,
/// `video_file_finish`, `error`) go to `events`, tagged with `context`.
///
/// Fails before starting when the configuration is invalid, the output
/// directory cannot be created, or free disk space is below
/// `config.min_free_bytes` (then an `error` event is sent too).
pub async fn record(
    config: RecordingConfig,
    context: EventContext,
    events: mpsc::Sender<Event>,
) -> Result<Recording, RecorderError> {
    validate(&config)?;
    let emitter = Emitter { tx: events, ctx: Arc::new(context) };
    tokio::fs::create_dir_all(&config.output_dir).await.map_err(|e| RecorderError::Io {
        context: format!("cannot create the output directory {}", config.output_dir.display()),
        source: e,
    })?;
    let free = free_bytes(&config.output_dir).map_err(|e| RecorderError::Io {
        context: format!("cannot read free space of {}", config.output_dir.display()),
        source: e,
    })?;
    if free < config.min_free_bytes {
        let err = RecorderError::LowDiskSpace {
            path: config.output_dir.clone(),
            free_bytes: free,
            min_free_bytes: config.min_free_bytes,
        };
        emitter.error(format!("recording not started: {err}")).await;
        return Err(err);
    }
    let (progress_tx, progress) =
        watch::channel(RecordingProgress { part: config.first_part, ..Default::default() });
    let stop = CancellationToken::new();
    let task = match config.engine {
        Engine::Ffmpeg => tokio::spawn(run(config, emitter, stop.clone(), progress_tx)),
        Engine::Native => tokio::spawn(native::run(config, emitter, stop.clone(), progress_tx)),
    };
    Ok(Recording { progress, stop, task: Some(task) })
}

fn validate(cfg: &RecordingConfig) -> Result<(), RecorderError> {
    let bad = |m: &str| Err(RecorderError::InvalidConfig(m.to_owned()));
    if cfg.source.url.trim().is_empty() {
        return bad("the stream URL is empty");
    }
    if url::Url::parse(&cfg.source.url).is_err() {
        return bad("the stream URL is not a valid URL");
    }
    if cfg.stall_timeout < Duration::from_secs(1) {
        return bad("stall_timeout must be at least 1 s");
    }
    if cfg.io_timeout < Duration::from_millis(100) {
        return bad("io_timeout must be at least 100 ms");
    }
    if cfg.split.max_duration.is_some_and(|d| d < Duration::from_secs(1)) {
        return bad("split.max_duration must be at least 1 s");
    }
    if cfg.split.max_bytes.is_some_and(|b| b < 64 * 1024) {
        return bad("split.max_bytes must be at least 64 KiB");
    }
    if cfg.stop_after.is_some_and(|d| d < Duration::from_secs(1)) {
        return bad("stop_after must be at least 1 s");
    }
    for (name, _) in &cfg.source.headers {
        if name.is_empty() || name.contains([':', '\r', '\n']) {
            return bad("a header name is empty or contains ':' or a line break");
        }
    }
    Ok(())
}

/// Sends events tagged with the recording's context.
#[derive(Debug, Clone)]
pub(crate) struct Emitter {
    tx: mpsc::Sender<Event>,
    pub(crate) ctx: Arc<EventContext>,
}

impl Emitter {
    async fn send(&self, data: EventData) {
        // A closed receiver must not stop the recording itself.
        let _ = self.tx.send(Event::new(data)).await;
    }

    pub(crate) async fn error(&self, message: String) {
        tracing::warn!(platform = %self.ctx.platform, channel = %self.ctx.channel, "{message}");
        self.send(EventData::Error(
            ErrorData::new(self.ctx.platform.clone(), self.ctx.channel.clone(), message)
                .with_session_id(self.ctx.session_id),
        ))
        .await;
    }

    pub(crate) async fn created(&self, path: &Path) {
        self.send(EventData::VideoFileCreate(
            VideoFileCreateData::new(
                self.ctx.platform.clone(),
                self.ctx.channel.clone(),
                path.to_string_lossy().into_owned(),
            )
            .with_session_id(self.ctx.session_id)
            .with_live_info(Some(self.ctx.live_info.clone())),
        ))
        .await;
    }

    pub(crate) async fn finished(&self, file: &FinishedFile) {
        self.send(EventData::VideoFileFinish(
            VideoFileFinishData::new(
                self.ctx.platform.clone(),
                self.ctx.channel.clone(),
                file.path.to_string_lossy().into_owned(),
                file.size,
                file.duration,
            )
            .with_session_id(self.ctx.session_id)
            .with_live_info(Some(self.ctx.live_info.clone())),
        ))
        .await;
    }
}

/// How one ffmpeg run ended.
enum PartEnd {
    Exited(ExitStatus),
    Stopped,
    Stalled,
    LowDisk(u64),
}

pub(crate) async fn run(
    cfg: RecordingConfig,
    emitter: Emitter,
    stop: CancellationToken,
    progress: watch::Sender<RecordingProgress>,
) -> RecordingOutcome {
    let redactor = Redactor::new(&cfg.source.url, &cfg.source.headers);
    let ext = cfg.effective_container().extension();
    let mut part = cfg.first_part;
    let mut files: Vec<FinishedFile> = Vec::new();
    let mut discarded = Vec::new();
    let mut recorded = 0.0_f64;
    let mut finished_bytes = 0_u64;
    let mut last_part_created: bool;
    let reason = loop {
        last_part_created = false;
        if stop.is_cancelled() {
            break EndReason::Stopped;
        }
        if let Ok(free) = free_bytes(&cfg.output_dir)
            && free < cfg.min_free_bytes
        {
            emitter.error(low_disk_message(&cfg, free)).await;
            break EndReason::LowDiskSpace { free_bytes: free };
        }
        let remaining = cfg.stop_after.map(|s| s.as_secs_f64() - recorded);
        if remaining.is_some_and(|r| r < 0.5) {
            break EndReason::LimitReached;
        }
        let limit = match (cfg.split.max_duration.map(|d| d.as_secs_f64()), remaining) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .map(Duration::from_secs_f64);

        let info = &emitter.ctx.live_info;
        let relative = cfg.template.render(&TemplateValues {
            platform: &emitter.ctx.platform,
            channel: &emitter.ctx.channel,
            uname: &info.uname,
            title: &info.title,
            start_time: emitter.ctx.session_start,
            part,
            ext,
        });
        let path = unique_path(&cfg.output_dir.join(relative)).await;
        if let Some(parent) = path.parent()
            && let Err(e) = tokio::fs::create_dir_all(parent).await
        {
            let message = format!("cannot create directory {}: {e}", parent.display());
            emitter.error(message.clone()).await;
            break EndReason::StartFailed { message };
        }
        // Request headers (cookies, authorization) and a URL with a query
        // string (tokens, signatures) reach ffmpeg through loopback (a proxy
        // that adds the headers, or a one-shot redirect), not through its
        // world-readable command line.
        let handoff = if crate::handoff::proxied(&cfg) || cfg.source.url.contains('?') {
            let started = if crate::handoff::proxied(&cfg) {
                crate::handoff::Handoff::proxy(&cfg).await
            } else {
                crate::handoff::Handoff::start(&cfg.source.url).await
            };
            match started {
                Ok(h) => Some(h),
                Err(e) => {
                    let message = format!("cannot hand the stream URL to ffmpeg: {e}");
                    emitter.error(message.clone()).await;
                    break EndReason::StartFailed { message };
                }
            }
        } else {
            None
        };
        let input = handoff.as_ref().map_or(cfg.source.url.as_str(), |h| h.local_url());
        let args = ffmpeg::record_args(&cfg, input, &path, limit);
        tracing::info!(
            command = %ffmpeg::loggable_command(&cfg.ffmpeg, &args, &redactor),
            part,
            "starting ffmpeg"
        );
        let mut command = Command::new(&cfg.ffmpeg);
        command
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        onelive_listen::die_with_parent(&mut command);
        let child = command.spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                let message = format!("cannot run {}: {e}", cfg.ffmpeg.display());
                emitter.error(message.clone()).await;
                break EndReason::StartFailed { message };
            }
        };
        progress.send_modify(|p| {
            p.part = part;
            p.current_file = None;
            p.current_file_bytes = 0;
            p.media_time = Duration::ZERO;
        });
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let readers = spawn_readers(&mut child, &redactor, stderr_tail.clone());
        let (end, created) = supervise(
            &cfg,
            &mut child,
            &path,
            &emitter,
            &stop,
            &progress,
            finished_bytes,
            readers.progress,
        )
        .await;
        // Let the readers drain what ffmpeg wrote last.
        for task in readers.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        last_part_created = created;
        let stderr = tail_text(&stderr_tail, STDERR_REPORTED);

        // Finalize: announce a valid file, remove an empty or broken one.
        let mut file_duration = 0.0;
        let mut file_size = 0;
        if created {
            match check_file(&cfg, &path).await {
                Ok(file) => {
                    file_duration = file.duration;
                    file_size = file.size;
                    recorded += file.duration;
                    finished_bytes += file.size;
                    emitter.finished(&file).await;
                    files.push(file);
                }
                Err(why) => {
                    let _ = tokio::fs::remove_file(&path).await;
                    emitter
                        .error(format!("removed {} ({why}); it is not announced", path.display()))
                        .await;
                    discarded.push(path.clone());
                }
            }
        }
        progress.send_modify(|p| {
            p.current_file = None;
            p.current_file_bytes = 0;
            p.bytes_written = finished_bytes;
            p.files_finished = u32::try_from(files.len()).unwrap_or(u32::MAX);
        });

        match end {
            PartEnd::Stopped => break EndReason::Stopped,
            PartEnd::Stalled => {
                emitter
                    .error(format!(
                        "recording stalled: no progress for {} s, ffmpeg stopped (last stderr: {})",
                        cfg.stall_timeout.as_secs(),
                        if stderr.is_empty() { "none" } else { &stderr }
                    ))
                    .await;
                break EndReason::Stalled { after: cfg.stall_timeout };
            }
            PartEnd::LowDisk(free) => {
                emitter.error(low_disk_message(&cfg, free)).await;
                break EndReason::LowDiskSpace { free_bytes: free };
            }
            PartEnd::Exited(status) if status.success() => {
                let hit_time =
                    limit.is_some_and(|l| file_duration >= l.as_secs_f64() - LIMIT_TOLERANCE);
                let hit_size = cfg.split.max_bytes.is_some_and(|b| file_size >= b);
                if created && (hit_time || hit_size) {
                    if cfg.stop_after.is_some_and(|s| recorded >= s.as_secs_f64() - LIMIT_TOLERANCE)
                    {
                        break EndReason::LimitReached;
                    }
                    part += 1;
                    continue;
                }
                let all_stderr = tail_text(&stderr_tail, STDERR_LINES);
                if lost_source(&all_stderr) {
                    emitter.error(format!("lost the stream source, ffmpeg ended: {stderr}")).await;
                    break EndReason::SourceLost { stderr };
                }
                break EndReason::StreamEnded;
            }
            PartEnd::Exited(status) => {
                let exit_code = status.code();
                emitter
                    .error(format!(
                        "ffmpeg exited with {}: {}",
                        exit_code.map_or_else(|| "a signal".to_owned(), |c| format!("code {c}")),
                        if stderr.is_empty() { "no output" } else { &stderr }
                    ))
                    .await;
                break EndReason::FfmpegFailed { exit_code, stderr };
            }
        }
    };
    progress.send_modify(|p| p.current_file = None);
    RecordingOutcome {
        reason,
        files,
        discarded,
        next_part: if last_part_created { part + 1 } else { part },
    }
}

/// ffmpeg stderr lines that mean the source failed rather than ended.
const SOURCE_LOST_MARKERS: &[&str] = &[
    "Failed to reload playlist",
    "Failed to open segment",
    "Connection refused",
    "Connection reset",
    "Connection timed out",
    "Server returned 4",
    "Server returned 5",
    "Input/output error",
];

fn lost_source(stderr: &str) -> bool {
    SOURCE_LOST_MARKERS.iter().any(|m| stderr.contains(m))
}

pub(crate) fn low_disk_message(cfg: &RecordingConfig, free: u64) -> String {
    format!(
        "recording stopped: {} bytes free in {}, below the minimum of {}",
        free,
        cfg.output_dir.display(),
        cfg.min_free_bytes
    )
}

struct Readers {
    progress: watch::Receiver<ProgressBlock>,
    tasks: Vec<JoinHandle<()>>,
}

fn spawn_readers(
    child: &mut Child,
    redactor: &Redactor,
    tail: Arc<Mutex<VecDeque<String>>>,
) -> Readers {
    let (tx, progress) = watch::channel(ProgressBlock::default());
    let mut tasks = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        tasks.push(tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            let mut block = ProgressBlock::default();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(b) = ffmpeg::parse_progress_line(&mut block, &line) {
                    tx.send_replace(b);
                }
            }
        }));
    }
    if let Some(stderr) = child.stderr.take() {
        let redactor = redactor.clone();
        tasks.push(tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.trim().is_empty() {
                    continue;
                }
                let line = redactor.redact(&line);
                tracing::debug!(target: "onelive_recorder::ffmpeg", "{line}");
                if let Ok(mut t) = tail.lock() {
                    if t.len() >= STDERR_LINES {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            }
        }));
    }
    Readers { progress, tasks }
}

fn tail_text(tail: &Mutex<VecDeque<String>>, n: usize) -> String {
    match tail.lock() {
        Ok(t) => {
            let skip = t.len().saturating_sub(n);
            t.iter().skip(skip).cloned().collect::<Vec<_>>().join(" | ")
        }
        Err(_) => String::new(),
    }
}

/// Watches one ffmpeg run until it exits, is stopped, stalls or runs out of disk.
/// Returns how it ended and whether the output file was created (and announced).
#[allow(clippy::too_many_arguments)]
async fn supervise(
    cfg: &RecordingConfig,
    child: &mut Child,
    path: &Path,
    emitter: &Emitter,
    stop: &CancellationToken,
    progress: &watch::Sender<RecordingProgress>,
    finished_bytes: u64,
    mut blocks: watch::Receiver<ProgressBlock>,
) -> (PartEnd, bool) {
    enum Step {
        Exited(ExitStatus),
        Stop,
        Block,
        Tick,
        Nothing,
    }
    let mut created = false;
    let mut last_advance = Instant::now();
    let mut last_size = 0_u64;
    let mut last_time = Duration::ZERO;
    let mut last_disk_check = Instant::now();
    let mut blocks_open = true;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let end = loop {
        let step = tokio::select! {
            status = child.wait() => match status {
                Ok(s) => Step::Exited(s),
                Err(_) => Step::Nothing,
            },
            _ = stop.cancelled() => Step::Stop,
            changed = blocks.changed(), if blocks_open => {
                if changed.is_err() { blocks_open = false; Step::Nothing } else { Step::Block }
            }
            _ = tick.tick() => Step::Tick,
        };
        match step {
            Step::Exited(status) => break PartEnd::Exited(status),
            Step::Stop => {
                ffmpeg::shutdown(child, cfg.quit_timeout, cfg.term_timeout).await;
                break PartEnd::Stopped;
            }
            Step::Block => {
                let b = *blocks.borrow_and_update();
                if b.total_size > last_size || b.out_time > last_time {
                    last_advance = Instant::now();
                    last_size = last_size.max(b.total_size);
                    last_time = last_time.max(b.out_time);
                }
                progress.send_modify(|p| {
                    p.bitrate_kbps = b.bitrate_kbps;
                    p.media_time = b.out_time;
                    p.current_file_bytes = p.current_file_bytes.max(b.total_size);
                    p.bytes_written = finished_bytes + p.current_file_bytes;
                });
            }
            Step::Tick => {
                if let Ok(meta) = tokio::fs::metadata(path).await {
                    if !created {
                        created = true;
                        emitter.created(path).await;
                        progress.send_modify(|p| p.current_file = Some(path.to_path_buf()));
                    }
                    let size = meta.len();
                    if size > last_size {
                        last_size = size;
                        last_advance = Instant::now();
                    }
                    progress.send_modify(|p| {
                        p.current_file_bytes = p.current_file_bytes.max(size);
                        p.bytes_written = finished_bytes + p.current_file_bytes;
                    });
                }
                if last_advance.elapsed() >= cfg.stall_timeout {
                    // ffmpeg is blocked on the network: `q` is only read between
                    // packets, so go to the signals soon. Everything received is
                    // on disk already (`-flush_packets 1`).
                    let quick = cfg.quit_timeout.min(Duration::from_millis(300));
                    let term = cfg.term_timeout.min(Duration::from_secs(2));
                    ffmpeg::shutdown(child, quick, term).await;
                    break PartEnd::Stalled;
                }
                if last_disk_check.elapsed() >= Duration::from_secs(2) {
                    last_disk_check = Instant::now();
                    if let Ok(free) = free_bytes(&cfg.output_dir)
                        && free < cfg.min_free_bytes
                    {
                        ffmpeg::shutdown(child, cfg.quit_timeout, cfg.term_timeout).await;
                        break PartEnd::LowDisk(free);
                    }
                }
            }
            Step::Nothing => {}
        }
    };
    // A file that appeared between the last tick and the exit is still announced
    // as created before it is finished.
    if !created && tokio::fs::metadata(path).await.is_ok() {
        created = true;
        emitter.created(path).await;
    }
    (end, created)
}

/// Size and ffprobe duration of a closed file, or why it is not a recording.
async fn check_file(cfg: &RecordingConfig, path: &Path) -> Result<FinishedFile, String> {
    let size = tokio::fs::metadata(path).await.map_err(|e| format!("cannot stat it: {e}"))?.len();
    if size == 0 {
        return Err("empty file".into());
    }
    let probe = ffmpeg::probe(&cfg.ffprobe, path).await.map_err(|e| format!("unplayable: {e}"))?;
    if probe.streams == 0 {
        return Err("unplayable: no audio or video stream".into());
    }
    if probe.duration <= 0.0 {
        return Err("unplayable: no media time".into());
    }
    Ok(FinishedFile { path: path.to_path_buf(), size, duration: probe.duration })
}

/// `path`, or `stem-1.ext`, `stem-2.ext`... when it exists.
pub(crate) async fn unique_path(path: &Path) -> PathBuf {
    if tokio::fs::metadata(path).await.is_err() {
        return path.to_path_buf();
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    for n in 1..10_000 {
        let candidate = path.with_file_name(format!("{stem}-{n}{ext}"));
        if tokio::fs::metadata(&candidate).await.is_err() {
            return candidate;
        }
    }
    path.with_file_name(format!("{stem}-{}{ext}", onelive_events::Uuid::new_v4()))
}
