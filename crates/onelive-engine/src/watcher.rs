//! One watcher task per channel: polls, runs the [`ChannelMachine`], and
//! drives the recorder.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onelive_events::{ErrorData, Event, EventData, LiveData, LiveInfo, LiveInfoChangeData, Uuid};
use rand::Rng;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::Instant;

use crate::backoff::{Backoff, Episode};
use crate::config::ChannelConfig;
use crate::config::EngineConfig;
use crate::machine::{Action, ChannelMachine, Observation, Phase};
use crate::publisher::Publisher;
use crate::seams::{
    ChannelRef, PollResult, RecordingEvent, RecordingHandle, RecordingRequest, StreamRefetch,
};
use crate::seams::{ChatConnection, ChatOptions, ChatPartInfo, ChatSource, LiveSignal};
use crate::seams::{LiveSource, Recorder};
use crate::store::{LedgerFile, OpenSession, Store, logged};
use crate::sync::lock;
use crate::template::{EngineValues, prepare};
use crate::transmux_queue::TransmuxQueue;

/// Commands from the engine to a watcher.
#[derive(Debug)]
pub(crate) enum WatcherCommand {
    StartRecording,
    StopRecording,
    Shutdown { end_session: bool },
}

/// The live state of a channel as the API shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChannelView {
    /// `offline`, `live`, `ending` (offline inside the debounce window) or `disabled`.
    pub state: String,
    /// Live now (or inside the debounce window).
    pub live: bool,
    /// A recording is running.
    pub recording: bool,
    /// The open session.
    pub session_id: Option<Uuid>,
    /// Part number of the current or last recording of the session.
    pub part: u32,
    /// Last known metadata.
    pub live_info: Option<LiveInfo>,
    /// File being written.
    pub current_file: Option<String>,
    /// Bytes written to the current file.
    pub bytes_written: u64,
    /// Bytes of every finished file of this channel since start.
    pub bytes_total: u64,
    /// When the channel was last polled (RFC 3339).
    pub last_poll: Option<String>,
    /// The last poll or recording error.
    pub last_error: Option<String>,
    /// Consecutive failed polls.
    pub consecutive_failures: u32,
}

/// What every watcher works with: handles on the parts and the state
/// owners, never the engine itself.
#[derive(Clone)]
pub(crate) struct Handles {
    /// The configuration (owned by the engine; read here).
    pub(crate) config: Arc<Mutex<EngineConfig>>,
    pub(crate) source: Arc<dyn LiveSource>,
    pub(crate) recorder: Arc<dyn Recorder>,
    pub(crate) chat: Option<Arc<dyn ChatSource>>,
    pub(crate) store: Arc<Store>,
    pub(crate) publisher: Arc<Publisher>,
    pub(crate) transmux: TransmuxQueue,
    pub(crate) poll_permits: Arc<Semaphore>,
    pub(crate) record_permits: Arc<Semaphore>,
    pub(crate) stopping: watch::Receiver<bool>,
}

pub(crate) struct WatcherContext {
    pub(crate) handles: Handles,
    pub(crate) config: ChannelConfig,
    pub(crate) cref: ChannelRef,
    pub(crate) view: Arc<Mutex<ChannelView>>,
}

struct ActiveRecording {
    handle: RecordingHandle,
    _permit: OwnedSemaphorePermit,
    session_id: Uuid,
    live_info: LiveInfo,
    started: Instant,
    created_file: bool,
    /// Part number of this recording's first file.
    first_part: u32,
    /// Files this recording created (one per part).
    files_created: u32,
    /// Non-empty files this recording finished.
    good_files: u32,
    /// An `error` event was published for this recording.
    reported_error: bool,
    /// The open part's video and chat file.
    chat_file: Option<(PathBuf, PathBuf)>,
    /// Chat files closed when the next part began, before their video's
    /// finish was reported (the native recorder checks a finished part
    /// while the next one is written): video and chat file.
    chat_closed: Vec<(PathBuf, Option<PathBuf>)>,
}

/// The chat connection of a watched channel (`[danmaku]`).
struct Chat {
    connection: Box<dyn ChatConnection>,
    /// Its signals ended (the connection stopped).
    signals_done: bool,
    /// Poll at once on a live/offline signal.
    push_detection: bool,
}

struct Watcher {
    ctx: WatcherContext,
    machine: ChannelMachine,
    rec: Option<ActiveRecording>,
    next_poll: Instant,
    interval: Duration,
    jitter: f64,
    max_backoff: Duration,
    backoff_level: u32,
    disk_paused: bool,
    /// The open session as last saved in the store.
    persisted: Option<OpenSession>,
    heartbeat: Duration,
    /// Recordings that failed in a row (failed to start, or ended quickly
    /// without a good file): the current failure episode.
    episode: Episode,
    /// The delays between the retries of a failing recording.
    retry: Backoff,
    /// No recording starts before this (set after a failure).
    retry_at: Option<Instant>,
    /// A lost stream source, reported only if the next poll finds the
    /// channel still live (else the stream simply ended).
    source_lost: Option<(Uuid, String)>,
    /// The channel's chat connection, when `[danmaku]` enables it.
    chat: Option<Chat>,
    /// When the last poll asked for by a chat signal started.
    last_push_poll: Option<Instant>,
    /// Quick re-polls left after a `live` signal the poll did not confirm
    /// yet (the platform's status API may lag its chat by a moment).
    push_confirm: u32,
}

/// Polls asked for by chat signals start at most this often.
const PUSH_POLL_GAP: Duration = Duration::from_secs(1);
/// After a `live` signal that the poll does not confirm, poll again this
/// many times...
const PUSH_CONFIRM_POLLS: u32 = 3;
/// ... this far apart.
const PUSH_CONFIRM_EVERY: Duration = Duration::from_secs(2);

/// A recording that ends sooner than this without a good file is a quick failure.
const QUICK_FAILURE: Duration = Duration::from_secs(3);
/// The longest wait between two tries of a recording that keeps failing.
const RECORDING_RETRY_CAP: Duration = Duration::from_secs(60);
/// The fraction of a retry delay taken off at random.
const RETRY_JITTER: f64 = 0.2;

const STOP_DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) async fn run_watcher(
    ctx: WatcherContext,
    mut commands: mpsc::UnboundedReceiver<WatcherCommand>,
) {
    let (interval, debounce, jitter, error_after, max_backoff, chat) = {
        let c = lock(&ctx.handles.config);
        let chat = c
            .danmaku
            .enabled_for(&ctx.config)
            .then(|| (ChatOptions { jsonl: c.danmaku.jsonl }, c.danmaku.push_detection));
        let platform_min = c
            .watch
            .min_interval
            .get(&ctx.cref.platform)
            .map(|d| d.0)
            .unwrap_or_else(|| ctx.handles.source.min_poll_interval(&ctx.cref.platform));
        let interval =
            ctx.config.poll_interval.unwrap_or(c.watch.poll_interval).0.max(platform_min);
        let debounce = ctx.config.debounce.unwrap_or(c.watch.debounce).0;
        (
            interval,
            debounce,
            c.watch.jitter,
            c.watch.error_after_failures,
            c.watch.max_backoff.0,
            chat,
        )
    };
    let chat = chat.and_then(|(options, push_detection)| {
        connect_chat(&ctx, &options).map(|connection| Chat {
            connection,
            signals_done: false,
            push_detection,
        })
    });
    // The first poll of each channel lands anywhere in the first interval, so
    // that thousands of channels do not poll in one burst.
    let mut first = Duration::from_secs_f64(interval.as_secs_f64() * rand::rng().random::<f64>());
    let heartbeat = crate::sessions::heartbeat(debounce);
    let persisted =
        ctx.handles.store.session(&ctx.cref.platform, &ctx.cref.channel).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the open session; starting without it");
            None
        });
    let machine = match &persisted {
        // A session left open by the last run: poll at once; it continues when
        // live within a fresh debounce window, unless the channel went unseen for
        // longer than the window (then it ends at the first poll).
        Some(s) => {
            first = Duration::ZERO;
            let unseen = Duration::from_millis(
                u64::try_from(crate::sessions::unix_ms().saturating_sub(s.last_live_at))
                    .unwrap_or(0),
            );
            let now = std::time::Instant::now();
            let deadline = if unseen <= debounce + heartbeat { now + debounce } else { now };
            tracing::info!(
                platform = %ctx.cref.platform, channel = %ctx.cref.channel, session = %s.session_id,
                unseen = ?unseen, "resuming the session left open by the last run"
            );
            ChannelMachine::resume(
                debounce,
                ctx.config.record,
                error_after,
                s.session_id,
                s.live_info.clone(),
                s.next_part.saturating_sub(1),
                deadline,
            )
        }
        None => ChannelMachine::new(debounce, ctx.config.record, error_after),
    };
    {
        let mut v = lock(&ctx.view);
        v.state = "offline".into();
    }
    let mut w = Watcher {
        ctx,
        machine,
        rec: None,
        next_poll: Instant::now() + first,
        interval,
        jitter,
        max_backoff,
        backoff_level: 0,
        disk_paused: false,
        persisted,
        heartbeat,
        episode: Episode::default(),
        retry: recording_retry(interval),
        retry_at: None,
        source_lost: None,
        chat,
        last_push_poll: None,
        push_confirm: 0,
    };
    loop {
        let wake = match w.machine.deadline() {
            Some(d) => Instant::from_std(d).min(w.next_poll),
            None => w.next_poll,
        };
        tokio::select! {
            cmd = commands.recv() => match cmd {
                None | Some(WatcherCommand::Shutdown { end_session: true }) => {
                    let actions = w.machine.shutdown(true);
                    Box::pin(w.apply(actions)).await;
                    break;
                }
                Some(WatcherCommand::Shutdown { end_session: false }) => {
                    let actions = w.machine.shutdown(false);
                    Box::pin(w.apply(actions)).await;
                    break;
                }
                Some(WatcherCommand::StartRecording) => {
                    // Asked for explicitly: try now, whatever the backoff says.
                    w.retry_at = None;
                    let actions = w.machine.manual_start();
                    Box::pin(w.apply(actions)).await;
                }
                Some(WatcherCommand::StopRecording) => {
                    let actions = w.machine.manual_stop();
                    Box::pin(w.apply(actions)).await;
                }
            },
            // The work futures are boxed: a watcher at rest then stays small,
            // which matters with thousands of channels.
            ev = next_event(&mut w.rec) => Box::pin(w.on_recording_event(ev)).await,
            signal = next_signal(&mut w.chat) => w.on_chat_signal(signal),
            () = tokio::time::sleep_until(wake) => {
                if Instant::now() >= w.next_poll {
                    Box::pin(w.poll()).await;
                } else {
                    let actions = w.machine.tick(std::time::Instant::now());
                    Box::pin(w.apply(actions)).await;
                }
            }
        }
        w.persist_session();
        w.refresh_view();
    }
    // The loop ended: make sure no recording is left behind.
    Box::pin(w.stop_recording()).await;
    if let Some(chat) = w.chat.take() {
        chat.connection.stop().await;
    }
    let mut v = lock(&w.ctx.view);
    v.state = "disabled".into();
    v.live = false;
    v.recording = false;
}

/// Connects the channel's chat; `None` when its platform has none or it
/// cannot have one (logged).
fn connect_chat(ctx: &WatcherContext, options: &ChatOptions) -> Option<Box<dyn ChatConnection>> {
    let source = ctx.handles.chat.as_ref()?;
    let (platform, channel) = (&ctx.cref.platform, &ctx.cref.channel);
    match source.connect(&ctx.cref, options) {
        Ok(Some(connection)) => {
            tracing::info!(%platform, %channel, "chat capture on");
            Some(connection)
        }
        Ok(None) => {
            tracing::info!(%platform, %channel, "no chat client for this platform; recording without chat");
            None
        }
        Err(e) => {
            tracing::warn!(%platform, %channel, error = %e, "chat capture off for this channel");
            None
        }
    }
}

async fn next_signal(chat: &mut Option<Chat>) -> Option<LiveSignal> {
    match chat {
        Some(c) if !c.signals_done => c.connection.signal().await,
        _ => std::future::pending().await,
    }
}

/// Opens the chat file of a part whose video file was just created.
fn open_chat_part(
    chat: &mut Option<Chat>,
    ctx: &WatcherContext,
    live_info: &LiveInfo,
    chat_file: &mut Option<(PathBuf, PathBuf)>,
    video: &Path,
    part_start: std::time::Instant,
) {
    let Some(chat) = chat.as_mut() else { return };
    let path = onelive_danmaku::xml_path_for(video);
    let info = ChatPartInfo {
        platform: None,
        room_id: ctx.cref.channel.clone(),
        name: match ctx.config.name.as_deref().filter(|n| !n.trim().is_empty()) {
            Some(n) => n.to_owned(),
            None => live_info.uname.clone(),
        },
        title: live_info.title.clone(),
        start_time: now_rfc3339(),
    };
    match chat.connection.start_part(&path, part_start, &info) {
        Ok(()) => *chat_file = Some((video.to_path_buf(), path)),
        Err(e) => {
            tracing::warn!(
                platform = %ctx.cref.platform, channel = %ctx.cref.channel,
                path = %path.display(), error = %e, "cannot open the chat file; recording without chat"
            );
            *chat_file = None;
        }
    }
}

/// The chat file of `video` when its part finishes: the open one when it
/// is `video`'s (closed now), else the one closed when the next part began.
fn finish_chat_part(
    chat: &mut Option<Chat>,
    chat_file: &mut Option<(PathBuf, PathBuf)>,
    chat_closed: &mut Vec<(PathBuf, Option<PathBuf>)>,
    video: &Path,
) -> Option<PathBuf> {
    if chat_file.as_ref().is_some_and(|(v, _)| v == video) {
        return close_chat_part(chat, chat_file);
    }
    let at = chat_closed.iter().position(|(v, _)| v == video)?;
    chat_closed.swap_remove(at).1
}

/// Closes the open part's chat file; its path when there is one to announce.
fn close_chat_part(
    chat: &mut Option<Chat>,
    chat_file: &mut Option<(PathBuf, PathBuf)>,
) -> Option<PathBuf> {
    let (_, path) = chat_file.take()?;
    let chat = chat.as_mut()?;
    match chat.connection.finish_part() {
        Ok(Some(summary)) => {
            tracing::info!(
                path = %summary.path.display(), comments = summary.comments,
                gifts = summary.gifts, super_chats = summary.super_chats,
                guards = summary.guards, "chat file closed"
            );
            Some(summary.path)
        }
        Ok(None) => None,
        Err(e) => {
            // What was flushed before the failure is kept (valid XML).
            tracing::warn!(path = %path.display(), error = %e, "chat file incomplete");
            path.exists().then_some(path)
        }
    }
}

async fn next_event(rec: &mut Option<ActiveRecording>) -> Option<RecordingEvent> {
    match rec {
        Some(r) => r.handle.events.recv().await,
        None => std::future::pending().await,
    }
}

impl Watcher {
    /// A chat feed said live or offline: poll at once (at most one such
    /// poll per [`PUSH_POLL_GAP`]); the poll decides.
    fn on_chat_signal(&mut self, signal: Option<LiveSignal>) {
        let Some(chat) = self.chat.as_mut() else { return };
        let Some(signal) = signal else {
            chat.signals_done = true;
            return;
        };
        if !chat.push_detection {
            return;
        }
        let now = Instant::now();
        let at = match self.last_push_poll {
            Some(last) => (last + PUSH_POLL_GAP).max(now),
            None => now,
        };
        tracing::info!(
            platform = %self.ctx.cref.platform, channel = %self.ctx.cref.channel, ?signal,
            "chat signal: polling now"
        );
        self.push_confirm = if signal == LiveSignal::Live { PUSH_CONFIRM_POLLS } else { 0 };
        if at < self.next_poll {
            self.next_poll = at;
            self.last_push_poll = Some(at);
        }
    }

    fn refresh_view(&self) {
        let mut v = lock(&self.ctx.view);
        v.state = match self.machine.phase() {
            Phase::Offline => "offline",
            Phase::Live => "live",
            Phase::Ending { .. } => "ending",
        }
        .into();
        v.live = self.machine.phase() != Phase::Offline;
        v.recording = self.rec.is_some();
        v.session_id = self.machine.session_id();
        v.part = self.machine.part();
        v.consecutive_failures = self.machine.failures();
        if self.machine.session_id().is_some() {
            v.live_info = Some(self.machine.live_info().clone());
        }
        if self.rec.is_none() {
            v.current_file = None;
            v.bytes_written = 0;
        }
    }

    fn schedule_next(&mut self, base: Duration) {
        let spread = base.as_secs_f64() * self.jitter;
        let offset =
            if spread > 0.0 { rand::rng().random_range(-spread / 2.0..=spread / 2.0) } else { 0.0 };
        let secs = (base.as_secs_f64() + offset).max(0.05);
        self.next_poll = Instant::now() + Duration::from_secs_f64(secs);
    }

    fn backoff(&mut self, at_least: Option<Duration>) -> Duration {
        self.backoff_level = (self.backoff_level + 1).min(10);
        let exp = self.interval.saturating_mul(1u32 << self.backoff_level.min(6));
        exp.max(at_least.unwrap_or_default()).min(self.max_backoff.max(self.interval))
    }

    async fn poll(&mut self) {
        let h = self.ctx.handles.clone();
        let result = {
            let Ok(_permit) = h.poll_permits.acquire().await else { return };
            h.source.poll(&self.ctx.cref).await
        };
        let counters = h.publisher.counters();
        {
            let mut v = lock(&self.ctx.view);
            v.last_poll = Some(now_rfc3339());
        }
        let now = std::time::Instant::now();
        let observation = match result {
            PollResult::Live(info) => {
                counters.count_poll(&self.ctx.cref.platform, "live");
                self.backoff_level = 0;
                self.push_confirm = 0;
                self.schedule_next(self.interval);
                Some(Observation::Live(info))
            }
            PollResult::Offline(_) => {
                counters.count_poll(&self.ctx.cref.platform, "offline");
                self.backoff_level = 0;
                if self.push_confirm > 0 {
                    // The chat said live; the status API may not say so yet.
                    self.push_confirm -= 1;
                    self.schedule_next(PUSH_CONFIRM_EVERY.min(self.interval));
                } else {
                    self.schedule_next(self.interval);
                }
                Some(Observation::Offline)
            }
            PollResult::RateLimited(after) => {
                counters.count_poll(&self.ctx.cref.platform, "rate_limited");
                let d = self.backoff(after);
                tracing::warn!(platform = %self.ctx.cref.platform, channel = %self.ctx.cref.channel, wait = ?d, "rate limited");
                self.schedule_next(d);
                lock(&self.ctx.view).last_error = Some("rate limited by the platform".into());
                None
            }
            PollResult::Failed(message) => {
                counters.count_poll(&self.ctx.cref.platform, "failed");
                let d = self.backoff(None);
                tracing::warn!(platform = %self.ctx.cref.platform, channel = %self.ctx.cref.channel, error = %message, retry_in = ?d, "poll failed");
                self.schedule_next(d);
                lock(&self.ctx.view).last_error = Some(message.clone());
                Some(Observation::Failed(message))
            }
        };
        let live = matches!(observation, Some(Observation::Live(_)));
        if let Some((session_id, message)) = self.source_lost.take() {
            if live {
                if self.episode.failures() == 0 || self.episode.report() {
                    self.emit_error(Some(session_id), message).await;
                }
            } else {
                tracing::info!(
                    platform = %self.ctx.cref.platform, channel = %self.ctx.cref.channel,
                    "the stream source went away and the channel is no longer live: the stream ended"
                );
            }
        }
        let mut actions = match observation {
            Some(obs) => self.machine.observe(now, obs),
            None => self.machine.tick(now),
        };
        if live {
            actions.extend(self.check_disk_while_live());
        }
        self.apply(actions).await;
    }

    /// Pauses recording when the disk is low and resumes when space is back.
    fn check_disk_while_live(&mut self) -> Vec<Action> {
        let (folder, min_free) = {
            let c = lock(&self.ctx.handles.config);
            (c.output.folder.clone(), c.disk.min_free_mb)
        };
        if min_free == 0 {
            return Vec::new();
        }
        match free_mb(&folder) {
            Some(free) if free < min_free => {
                if !self.disk_paused {
                    self.disk_paused = true;
                    let mut actions = self.machine.manual_stop();
                    actions.push(Action::Error {
                        session_id: self.machine.session_id(),
                        message: format!(
                            "disk almost full: {free} MiB free in {} (threshold {min_free} MiB); recording paused",
                            folder.display()
                        ),
                    });
                    return actions;
                }
                Vec::new()
            }
            _ if self.disk_paused => {
                self.disk_paused = false;
                self.machine.manual_start()
            }
            _ => Vec::new(),
        }
    }

    async fn apply(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::LiveStart { session_id, info } => {
                    // One durable step with the session: it is saved with
                    // its `live_start` before the event is published (see
                    // `OpenSession::pending_live_start`).
                    let event = Event::new(EventData::LiveStart(self.live_data(session_id, info)));
                    self.persist_session_with(Some(event.to_json()));
                    self.ctx.handles.publisher.publish_event(event).await;
                }
                Action::LiveEnd { session_id, info } => {
                    self.emit(EventData::LiveEnd(self.live_data(session_id, info))).await;
                }
                Action::TitleChange { session_id, old, new } => {
                    self.emit(EventData::TitleChange(self.change_data(session_id, old, new))).await;
                }
                Action::CategoryChange { session_id, old, new } => {
                    self.emit(EventData::CategoryChange(self.change_data(session_id, old, new)))
                        .await;
                }
                Action::Error { session_id, message } => {
                    self.emit_error(session_id, message).await;
                }
                Action::StopRecording => self.stop_recording().await,
                Action::StartRecording { session_id, part } => {
                    if self.retry_at.is_some_and(|t| Instant::now() < t) {
                        // Backing off after failures: a live poll after
                        // `retry_at` tries again.
                        self.machine.recording_failed();
                    } else if let Err((message, back_off)) =
                        self.start_recording(session_id, part).await
                    {
                        self.machine.recording_failed();
                        lock(&self.ctx.view).last_error = Some(message.clone());
                        self.recording_failure(Some(session_id), Some(message), back_off).await;
                    }
                }
            }
            self.persist_session();
        }
        self.persist_session();
        self.refresh_view();
    }

    /// Saves the open session in the store when it started,
    /// ended, got a new part or new metadata, or the heartbeat is due while live.
    fn persist_session(&mut self) {
        self.persist_session_with(None);
    }

    /// [`Self::persist_session`], saving `live_start` (an event's JSON)
    /// with the session until the next write.
    fn persist_session_with(&mut self, live_start: Option<String>) {
        let store = &self.ctx.handles.store;
        let Some(session_id) = self.machine.session_id() else {
            if self.persisted.take().is_some() {
                logged(store.end_session(&self.ctx.cref.platform, &self.ctx.cref.channel));
            }
            return;
        };
        let now_ms = crate::sessions::unix_ms();
        let live = self.machine.phase() == Phase::Live;
        let info = self.machine.live_info().clone();
        let mut next_part = self.machine.part() + 1;
        if let Some(rec) = &self.rec {
            next_part = next_part.max(rec.first_part + rec.files_created);
        }
        let next = match &self.persisted {
            Some(p) if p.session_id == session_id => {
                let beat = live
                    && now_ms.saturating_sub(p.last_live_at)
                        >= i64::try_from(self.heartbeat.as_millis()).unwrap_or(i64::MAX);
                if !beat
                    && p.next_part == next_part
                    && p.live_info == info
                    && p.pending_live_start == live_start
                {
                    return;
                }
                OpenSession {
                    next_part,
                    live_info: info,
                    last_live_at: if live { now_ms } else { p.last_live_at },
                    pending_live_start: live_start,
                    ..p.clone()
                }
            }
            _ => OpenSession {
                platform: self.ctx.cref.platform.clone(),
                channel: self.ctx.cref.channel.clone(),
                url: self.ctx.config.url.trim().to_owned(),
                session_id,
                started_at: now_rfc3339(),
                start_live_info: info.clone(),
                live_info: info,
                next_part,
                last_live_at: now_ms,
                pending_live_start: live_start,
            },
        };
        logged(store.save_session(&next));
        self.persisted = Some(next);
    }

    /// Counts a failed recording (it did not start, or it ended quickly
    /// without a good file): the next try waits for the backoff when
    /// `back_off`, and `message` becomes an `error` event only when it is
    /// the first of the failure episode. Returns the wait.
    async fn recording_failure(
        &mut self,
        session_id: Option<Uuid>,
        message: Option<String>,
        back_off: bool,
    ) -> Duration {
        let failures = self.episode.fail();
        let delay = if back_off {
            self.retry.delay(failures, rand::rng().random::<f64>())
        } else {
            Duration::ZERO
        };
        self.retry_at = back_off.then(|| Instant::now() + delay);
        if let Some(message) = message {
            if self.episode.report() {
                self.emit_error(session_id, message).await;
            } else {
                tracing::warn!(
                    platform = %self.ctx.cref.platform, channel = %self.ctx.cref.channel,
                    error = %message, failures, retry_in = ?delay,
                    "recording failed again (one error event per failure episode)"
                );
            }
        }
        delay
    }

    /// A good file ends the failure episode.
    fn recording_succeeded(&mut self) {
        let failures = self.episode.succeed();
        self.retry_at = None;
        if failures > 0 {
            tracing::info!(
                platform = %self.ctx.cref.platform, channel = %self.ctx.cref.channel, failures,
                "recording works again after failures"
            );
        }
    }

    async fn start_recording(&mut self, session_id: Uuid, part: u32) -> Result<(), (String, bool)> {
        self.try_start_recording(session_id, part).await.map_err(|message| {
            // A full slot table is not this channel's failure: retried at the next poll.
            let back_off = !message.contains("max_concurrent_recordings");
            (message, back_off)
        })
    }

    async fn try_start_recording(&mut self, session_id: Uuid, part: u32) -> Result<(), String> {
        let h = self.ctx.handles.clone();
        if *h.stopping.borrow() {
            return Err("not recording: the engine is shutting down".into());
        }
        let (folder, template, container, split, stall, min_free, platform_quality, zone) = {
            let c = lock(&h.config);
            (
                c.output.folder.clone(),
                self.ctx
                    .config
                    .filename_template
                    .clone()
                    .unwrap_or_else(|| c.output.filename_template.clone()),
                c.output.container_choice(),
                c.split.clone(),
                c.watch.stall_timeout.0,
                c.disk.min_free_mb,
                c.platforms.quality_for(&self.ctx.cref.platform),
                c.output.zone().unwrap_or(jiff::tz::TimeZone::UTC),
            )
        };
        if min_free > 0
            && let Some(free) = free_mb(&folder)
            && free < min_free
        {
            return Err(format!(
                "not recording: only {free} MiB free in {} (threshold {min_free} MiB)",
                folder.display()
            ));
        }
        let permit = h.record_permits.clone().try_acquire_owned().map_err(|_| {
            "not recording: watch.max_concurrent_recordings reached; retrying at the next poll"
                .to_owned()
        })?;
        let quality = if self.ctx.config.quality.is_empty() {
            platform_quality
        } else {
            self.ctx.config.quality.clone()
        };
        let stream = h
            .source
            .stream(&self.ctx.cref, &quality)
            .await
            .map_err(|e| format!("no stream to record: {e}"))?;
        let info = self.machine.live_info().clone();
        let name = match self.ctx.config.name.as_deref().filter(|n| !n.trim().is_empty()) {
            Some(n) => n.to_owned(),
            None if !info.uname.trim().is_empty() => info.uname.clone(),
            None => self.ctx.cref.channel.clone(),
        };
        let template = prepare(&template, &EngineValues { name: &name, session: session_id })
            .map_err(|e| format!("not recording: file name template: {e}"))?;
        // `{start_time}` is the session start (in `[output] time_zone`), shared by all its parts.
        let session_start = self
            .persisted
            .as_ref()
            .filter(|p| p.session_id == session_id)
            .and_then(|p| {
                time::OffsetDateTime::parse(
                    &p.started_at,
                    &time::format_description::well_known::Rfc3339,
                )
                .ok()
            })
            .unwrap_or_else(time::OffsetDateTime::now_utc);
        let session_start = crate::template::in_zone(session_start, &zone);
        let mut context = onelive_recorder::EventContext::new(
            self.ctx.cref.platform.clone(),
            self.ctx.cref.channel.clone(),
        );
        context.session_id = Some(session_id);
        context.live_info = info.clone();
        context.session_start = session_start;
        let output_dir = absolute(&folder);
        tracing::info!(
            platform = %self.ctx.cref.platform, channel = %self.ctx.cref.channel, part,
            quality = %stream.quality, folder = %output_dir.display(), template = %template,
            "starting recording"
        );
        let handle =
            h.recorder
                .start(RecordingRequest {
                    stream,
                    output_dir,
                    template,
                    context,
                    first_part: part,
                    container,
                    min_free_bytes: min_free.saturating_mul(1024 * 1024),
                    split,
                    stall_timeout: stall,
                    refetch: h.source.single_use_stream_urls(&self.ctx.cref.platform).then(|| {
                        StreamRefetch::new(h.source.clone(), self.ctx.cref.clone(), quality)
                    }),
                })
                .await
                .map_err(|e| format!("recorder did not start: {e}"))?;
        h.publisher.counters().count_recording_started(&self.ctx.cref.platform);
        self.rec = Some(ActiveRecording {
            handle,
            _permit: permit,
            session_id,
            live_info: info,
            started: Instant::now(),
            created_file: false,
            first_part: part,
            files_created: 0,
            good_files: 0,
            reported_error: false,
            chat_file: None,
            chat_closed: Vec::new(),
        });
        Ok(())
    }

    /// Asks the recording to stop and handles its last events.
    async fn stop_recording(&mut self) {
        let Some(mut rec) = self.rec.take() else { return };
        rec.handle.control.stop();
        let deadline = Instant::now() + STOP_DRAIN_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, rec.handle.events.recv()).await {
                Ok(Some(RecordingEvent::Stopped { reason, next_part, .. })) => {
                    self.machine.bump_part(next_part);
                    tracing::info!(channel = %self.ctx.cref.channel, %reason, "recording stopped");
                    break;
                }
                Ok(Some(ev)) => self.handle_file_event(&mut rec, ev).await,
                Ok(None) => break,
                Err(_) => {
                    tracing::error!(channel = %self.ctx.cref.channel, "recording did not stop in time; abandoning it");
                    break;
                }
            }
        }
        if rec.chat_file.is_some() {
            // The recording ended without finishing its file.
            close_chat_part(&mut self.chat, &mut rec.chat_file);
        }
        drop(rec);
        self.refresh_view();
    }

    async fn on_recording_event(&mut self, ev: Option<RecordingEvent>) {
        let Some(mut rec) = self.rec.take() else { return };
        match ev {
            Some(RecordingEvent::Stopped { reason, failed, next_part }) => {
                self.machine.bump_part(next_part);
                self.recording_ended(rec, reason, failed).await;
            }
            None => self.recording_ended(rec, "recorder went away".into(), true).await,
            Some(ev) => {
                self.handle_file_event(&mut rec, ev).await;
                self.rec = Some(rec);
            }
        }
    }

    async fn recording_ended(&mut self, mut rec: ActiveRecording, reason: String, failed: bool) {
        if rec.chat_file.is_some() {
            // The recording ended without finishing its file.
            close_chat_part(&mut self.chat, &mut rec.chat_file);
        }
        let lasted = rec.started.elapsed();
        let created = rec.created_file;
        let session_id = rec.session_id;
        let good = rec.good_files > 0;
        let reported = rec.reported_error;
        drop(rec);
        self.machine.recording_stopped();
        tracing::info!(channel = %self.ctx.cref.channel, %reason, failed, ?lasted, "recording ended");
        // Poll now: still live -> next part. After a quick failure, wait:
        // longer and longer while the failures go on.
        let delay = if !good && (failed || lasted < QUICK_FAILURE) {
            // (A lost source is judged at the next poll instead.)
            let message = (failed && !created && self.source_lost.is_none())
                .then(|| format!("recording failed before writing a file: {reason}"));
            if let Some(m) = &message {
                lock(&self.ctx.view).last_error = Some(m.clone());
            }
            if reported {
                // This recording already published the episode's error.
                self.episode.report();
            }
            self.recording_failure(Some(session_id), message, true).await
        } else if lasted < QUICK_FAILURE {
            Duration::from_secs(1).min(self.interval)
        } else {
            Duration::ZERO
        };
        self.next_poll = Instant::now() + delay;
    }

    async fn handle_file_event(&mut self, rec: &mut ActiveRecording, ev: RecordingEvent) {
        let h = self.ctx.handles.clone();
        let ledger = |path: &Path| LedgerFile {
            path: path.to_path_buf(),
            platform: self.ctx.cref.platform.clone(),
            channel: self.ctx.cref.channel.clone(),
            session_id: Some(rec.session_id),
            live_info: Some(rec.live_info.clone()),
        };
        match ev {
            RecordingEvent::FileCreated { mut data, at } => {
                data.session_id = Some(rec.session_id);
                data.live_info = Some(rec.live_info.clone());
                let path = PathBuf::from(&data.path);
                rec.created_file = true;
                rec.files_created += 1;
                if let Some((video, _)) = rec.chat_file.clone() {
                    // The next part began: the last part's chat ends here,
                    // announced when its video's finish is reported.
                    let xml = close_chat_part(&mut self.chat, &mut rec.chat_file);
                    rec.chat_closed.push((video, xml));
                }
                open_chat_part(
                    &mut self.chat,
                    &self.ctx,
                    &rec.live_info,
                    &mut rec.chat_file,
                    &path,
                    at,
                );
                logged(h.store.file_opened(&ledger(&path)));
                {
                    let mut v = lock(&self.ctx.view);
                    v.current_file = Some(path.display().to_string());
                    v.bytes_written = 0;
                }
                self.emit(EventData::VideoFileCreate(data)).await;
            }
            RecordingEvent::Progress { bytes } => {
                lock(&self.ctx.view).bytes_written = bytes;
            }
            RecordingEvent::FileFinished(mut data) => {
                data.session_id = Some(rec.session_id);
                data.live_info = Some(rec.live_info.clone());
                let (path, size, duration) =
                    (PathBuf::from(&data.path), data.filesize, data.duration);
                let danmaku_path = finish_chat_part(
                    &mut self.chat,
                    &mut rec.chat_file,
                    &mut rec.chat_closed,
                    &path,
                );
                // One commit: finished, and (when enabled) its transmux pending.
                let file = ledger(&path);
                let transmux = h.transmux.enabled() && size > 0;
                logged(h.store.file_finished(&file, size, duration, transmux));
                if size > 0 {
                    rec.good_files += 1;
                    self.recording_succeeded();
                }
                let counters = h.publisher.counters();
                counters.bytes_finished.fetch_add(size, Ordering::Relaxed);
                counters.files_finished.fetch_add(1, Ordering::Relaxed);
                {
                    let mut v = lock(&self.ctx.view);
                    v.bytes_total += size;
                    v.current_file = None;
                    v.bytes_written = 0;
                }
                data.danmaku_path = danmaku_path.map(|p| p.display().to_string());
                self.emit(EventData::VideoFileFinish(data)).await;
                if transmux {
                    h.transmux.run(file);
                }
            }
            RecordingEvent::Error { message } => {
                lock(&self.ctx.view).last_error = Some(message.clone());
                // Inside a failure episode, only its first error is published;
                // so is only the first of a recording that has not written a
                // good file yet (a try failing on a full disk reports the
                // write error and then the empty part it removed: one failure).
                let first_try_of_episode =
                    self.episode.failures() == 0 && !(rec.reported_error && rec.good_files == 0);
                if first_try_of_episode || (self.episode.failures() > 0 && self.episode.report()) {
                    rec.reported_error = true;
                    self.emit_error(Some(rec.session_id), message).await;
                } else {
                    tracing::warn!(
                        platform = %self.ctx.cref.platform, channel = %self.ctx.cref.channel,
                        error = %message, failures = self.episode.failures(),
                        "recording error (one error event per failure episode)"
                    );
                }
            }
            RecordingEvent::SourceLost { message } => {
                // Judged at the next poll (which comes at once when the recording ends).
                self.source_lost = Some((rec.session_id, message));
            }
            RecordingEvent::Stopped { .. } => {}
        }
    }

    fn live_data(&self, session_id: Uuid, info: LiveInfo) -> LiveData {
        LiveData::new(
            self.ctx.cref.platform.clone(),
            self.ctx.cref.channel.clone(),
            self.ctx.config.url.trim().to_owned(),
            info,
        )
        .with_session_id(Some(session_id))
    }

    fn change_data(&self, session_id: Uuid, old: LiveInfo, new: LiveInfo) -> LiveInfoChangeData {
        LiveInfoChangeData::new(
            self.ctx.cref.platform.clone(),
            self.ctx.cref.channel.clone(),
            old,
            new,
        )
        .with_session_id(Some(session_id))
    }

    async fn emit(&self, data: EventData) {
        self.ctx.handles.publisher.publish(data).await;
    }

    async fn emit_error(&self, session_id: Option<Uuid>, message: String) {
        tracing::warn!(platform = %self.ctx.cref.platform, channel = %self.ctx.cref.channel, error = %message, "channel error");
        self.emit(EventData::Error(
            ErrorData::new(self.ctx.cref.platform.clone(), self.ctx.cref.channel.clone(), message)
                .with_session_id(session_id),
        ))
        .await;
    }
}

/// The retry schedule of a channel's failing recordings: from
/// `min(1 s, poll interval)` (what a single quick failure always waited)
/// doubling up to a minute.
fn recording_retry(interval: Duration) -> Backoff {
    let base = Duration::from_secs(1).min(interval).max(Duration::from_millis(50));
    Backoff { base, cap: RECORDING_RETRY_CAP.max(base), jitter: RETRY_JITTER }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Free space of the file system holding `folder`, in MiB.
pub(crate) fn free_mb(folder: &Path) -> Option<u64> {
    let stat = nix::sys::statvfs::statvfs(folder).ok()?;
    #[allow(clippy::useless_conversion)]
    let bytes = u64::from(stat.blocks_available()).saturating_mul(u64::from(stat.fragment_size()));
    Some(bytes / (1024 * 1024))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
