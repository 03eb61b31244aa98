//! The engine: channels, watchers, recordings, the transmux queue and the
//! event flow.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onelive_events::{ErrorData, Event, EventData, LiveInfo, Uuid, VideoTransmuxFinishData};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use crate::EngineError;
use crate::backoff::{Backoff, Episode};
use crate::config::{ChannelConfig, EngineConfig, WebhookConfig};
use crate::seams::{ChannelRef, EventDelivery, LiveSource, Recorder, Transmuxer};
use crate::watcher::{ChannelView, WatcherCommand, WatcherContext, run_watcher};

/// The parts the engine composes.
pub struct EngineParts {
    /// Platform adapters.
    pub source: Arc<dyn LiveSource>,
    /// The recorder.
    pub recorder: Arc<dyn Recorder>,
    /// The transmuxer (used when `transmux.enabled`).
    pub transmuxer: Arc<dyn Transmuxer>,
    /// The webhook dispatcher.
    pub delivery: Arc<dyn EventDelivery>,
}

impl std::fmt::Debug for EngineParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineParts").finish_non_exhaustive()
    }
}

/// A transmux job kept in the state folder until it is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransmuxJob {
    /// The recording.
    pub input: PathBuf,
    /// Platform.
    pub platform: String,
    /// Channel.
    pub channel: String,
    /// Session.
    pub session_id: Option<Uuid>,
    /// Metadata when the file was opened.
    pub live_info: Option<LiveInfo>,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Channel status polls by platform and result (`live`, `offline`,
    /// `failed`, `rate_limited`).
    pub polls: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// Recordings started, by platform.
    pub recordings_started: Mutex<BTreeMap<String, u64>>,
    /// Bytes of finished files.
    pub bytes_finished: AtomicU64,
    /// Files finished.
    pub files_finished: AtomicU64,
    /// Transmux jobs done.
    pub transmux_done: AtomicU64,
    /// Transmux jobs failed.
    pub transmux_failed: AtomicU64,
    /// Events published.
    pub events: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    /// Counts one poll of a `platform` channel that ended with `result`.
    pub(crate) fn count_poll(&self, platform: &str, result: &'static str) {
        *lock(&self.polls).entry((platform.to_owned(), result)).or_default() += 1;
    }

    /// Counts one recording started on `platform`.
    pub(crate) fn count_recording_started(&self, platform: &str) {
        *lock(&self.recordings_started).entry(platform.to_owned()).or_default() += 1;
    }
}

struct ChannelEntry {
    config: ChannelConfig,
    cref: ChannelRef,
    view: Arc<Mutex<ChannelView>>,
    commands: Option<mpsc::UnboundedSender<WatcherCommand>>,
    task: Option<JoinHandle<()>>,
}

pub(crate) struct Shared {
    pub(crate) config: Mutex<EngineConfig>,
    pub(crate) config_path: Option<PathBuf>,
    pub(crate) state_dir: PathBuf,
    pub(crate) parts: EngineParts,
    pub(crate) poll_permits: Arc<Semaphore>,
    pub(crate) record_permits: Arc<Semaphore>,
    pub(crate) counters: Counters,
    channels: Mutex<BTreeMap<String, ChannelEntry>>,
    transmux_permits: Arc<Semaphore>,
    transmux_pending: Mutex<Vec<TransmuxJob>>,
    pub(crate) open_files: Mutex<Vec<crate::recovery::OpenFile>>,
    pub(crate) open_sessions: Mutex<BTreeMap<String, crate::sessions::OpenSession>>,
    /// Recent recording files, oldest first.
    pub(crate) recordings: Mutex<Vec<crate::recordings::Recording>>,
    transmux_running: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) recent_events: Mutex<std::collections::VecDeque<Event>>,
    stopping: watch::Sender<bool>,
}

/// A running engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("state_dir", &self.shared.state_dir).finish_non_exhaustive()
    }
}

/// A channel as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelSnapshot {
    /// Stable id (derived from the URL).
    pub id: String,
    /// Configured URL.
    pub url: String,
    /// Display name.
    pub name: String,
    /// Platform.
    pub platform: String,
    /// Channel id on the platform.
    pub channel: String,
    /// Watched.
    pub enabled: bool,
    /// Records when live.
    pub record: bool,
    /// Live state and recording progress.
    #[serde(flatten)]
    pub view: ChannelView,
}

/// The id of a channel: a hash of its URL, stable across restarts.
pub fn channel_id(url: &str) -> String {
    // FNV-1a, 64 bits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in url.trim().trim_end_matches('/').bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

const RECENT_EVENTS: usize = 200;

impl Engine {
    /// Starts the engine: publishes `app_launch`, resumes persisted transmux
    /// jobs and starts one watcher per enabled channel.
    ///
    /// `config_path` is where API changes are written back (none: kept in memory).
    pub async fn start(
        config: EngineConfig,
        config_path: Option<PathBuf>,
        parts: EngineParts,
    ) -> Result<Engine, EngineError> {
        let state_dir = config.state_dir(config_path.as_deref());
        std::fs::create_dir_all(&state_dir).map_err(|e| {
            EngineError::io(format!("cannot create state folder {}", state_dir.display()), e)
        })?;
        std::fs::create_dir_all(&config.output.folder).map_err(|e| {
            EngineError::io(
                format!("cannot create output folder {}", config.output.folder.display()),
                e,
            )
        })?;
        let webhooks = numbered_webhooks(&config.webhooks);
        parts.delivery.set_endpoints(&webhooks).await?;
        let (stopping, _) = watch::channel(false);
        let open_sessions = crate::sessions::load(&state_dir);
        let recordings = crate::recordings::load(&state_dir);
        let shared = Arc::new(Shared {
            poll_permits: Arc::new(Semaphore::new(config.watch.max_concurrent_polls)),
            record_permits: Arc::new(Semaphore::new(config.watch.max_concurrent_recordings)),
            transmux_permits: Arc::new(Semaphore::new(config.transmux.concurrency)),
            config: Mutex::new(EngineConfig { webhooks, ..config.clone() }),
            config_path,
            state_dir,
            parts,
            counters: Counters::default(),
            channels: Mutex::new(BTreeMap::new()),
            transmux_pending: Mutex::new(Vec::new()),
            open_files: Mutex::new(Vec::new()),
            open_sessions: Mutex::new(open_sessions),
            recordings: Mutex::new(recordings),
            transmux_running: Mutex::new(Vec::new()),
            recent_events: Mutex::new(std::collections::VecDeque::new()),
            stopping,
        });
        let engine = Engine { shared };
        engine.publish(EventData::AppLaunch).await;
        crate::sessions::announce_pending(&engine.shared).await;
        engine.resume_transmux_jobs();
        let leftovers = crate::recovery::load(&engine.shared.state_dir);
        // Still listed until checked, so that a shutdown during the check
        // leaves them for the next start.
        lock(&engine.shared.open_files).extend(leftovers.iter().cloned());
        if !leftovers.is_empty() {
            let quiet_for = config.watch.stall_timeout.0;
            tokio::spawn(crate::recovery::recover(engine.shared.clone(), leftovers, quiet_for));
        }
        for channel in config.channels {
            if let Err(e) = engine.insert_channel(channel) {
                tracing::error!(error = %e, "channel not watched");
                engine.publish_error("", "", None, e.to_string()).await;
            }
        }
        let watched: Vec<String> = lock(&engine.shared.channels)
            .values()
            .filter(|e| e.task.is_some())
            .map(|e| crate::sessions::key(&e.cref.platform, &e.cref.channel))
            .collect();
        crate::sessions::end_unwatched(&engine.shared, &watched).await;
        Ok(engine)
    }

    /// The configuration as it is now (with API changes).
    pub fn config(&self) -> EngineConfig {
        lock(&self.shared.config).clone()
    }

    /// Folder of the engine's state files.
    pub fn state_dir(&self) -> &Path {
        &self.shared.state_dir
    }

    /// The counters behind `/metrics`.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// The delivery side (for the API).
    pub fn delivery(&self) -> &Arc<dyn EventDelivery> {
        &self.shared.parts.delivery
    }

    /// The most recent recording files (at most `limit`), newest first;
    /// kept across restarts (see [`recordings`](crate::recordings)).
    pub fn recordings(&self, limit: usize) -> Vec<crate::Recording> {
        lock(&self.shared.recordings).iter().rev().take(limit).cloned().collect()
    }

    /// The last events published (at most 200), oldest first.
    pub fn recent_events(&self) -> Vec<Event> {
        lock(&self.shared.recent_events).iter().cloned().collect()
    }

    /// Publishes an event to the webhooks and the log.
    pub async fn publish(&self, data: EventData) {
        publish(&self.shared, data).await;
    }

    async fn publish_error(
        &self,
        platform: &str,
        channel: &str,
        session_id: Option<Uuid>,
        error: String,
    ) {
        self.publish(EventData::Error(ErrorData {
            platform: platform.into(),
            channel: channel.into(),
            error,
            session_id,
        }))
        .await;
    }

    fn insert_channel(&self, config: ChannelConfig) -> Result<ChannelSnapshot, EngineError> {
        let cref = self.shared.parts.source.resolve(&config.url)?;
        let id = channel_id(&config.url);
        let mut channels = lock(&self.shared.channels);
        if channels.contains_key(&id) {
            return Err(EngineError::Invalid(format!("channel {} is already watched", config.url)));
        }
        let view = Arc::new(Mutex::new(ChannelView::default()));
        let mut entry = ChannelEntry { config, cref, view, commands: None, task: None };
        if entry.config.enabled && !*self.shared.stopping.borrow() {
            self.spawn_watcher(&mut entry);
        }
        let snapshot = snapshot(&id, &entry);
        channels.insert(id, entry);
        Ok(snapshot)
    }

    fn spawn_watcher(&self, entry: &mut ChannelEntry) {
        let (tx, rx) = mpsc::unbounded_channel();
        let ctx = WatcherContext {
            shared: self.shared.clone(),
            config: entry.config.clone(),
            cref: entry.cref.clone(),
            view: entry.view.clone(),
        };
        entry.commands = Some(tx);
        entry.task = Some(tokio::spawn(run_watcher(ctx, rx)));
    }

    /// Every channel with its state.
    pub fn channels(&self) -> Vec<ChannelSnapshot> {
        lock(&self.shared.channels).iter().map(|(id, e)| snapshot(id, e)).collect()
    }

    /// One channel.
    pub fn channel(&self, id: &str) -> Result<ChannelSnapshot, EngineError> {
        lock(&self.shared.channels)
            .get(id)
            .map(|e| snapshot(id, e))
            .ok_or_else(|| EngineError::NotFound(format!("channel {id}")))
    }

    /// Adds a channel, starts watching it and saves the config.
    pub fn add_channel(&self, config: ChannelConfig) -> Result<ChannelSnapshot, EngineError> {
        {
            let mut probe = self.config();
            probe.channels.push(config.clone());
            probe.validate(Path::new("<api>"))?;
        }
        let snap = self.insert_channel(config.clone())?;
        lock(&self.shared.config).channels.push(config);
        self.save()?;
        Ok(snap)
    }

    /// Stops watching a channel (finalizing its recording), removes it and saves.
    pub async fn remove_channel(&self, id: &str) -> Result<(), EngineError> {
        let entry = lock(&self.shared.channels)
            .remove(id)
            .ok_or_else(|| EngineError::NotFound(format!("channel {id}")))?;
        stop_entry_watcher(entry.commands, entry.task, true).await;
        lock(&self.shared.config).channels.retain(|c| channel_id(&c.url) != id);
        self.save()
    }

    /// Enables or disables a channel (a disabled channel's session ends) and saves.
    pub async fn set_enabled(
        &self,
        id: &str,
        enabled: bool,
    ) -> Result<ChannelSnapshot, EngineError> {
        let (commands, task) = {
            let mut channels = lock(&self.shared.channels);
            let entry = channels
                .get_mut(id)
                .ok_or_else(|| EngineError::NotFound(format!("channel {id}")))?;
            entry.config.enabled = enabled;
            if enabled {
                if entry.task.is_none() && !*self.shared.stopping.borrow() {
                    self.spawn_watcher(entry);
                }
                (None, None)
            } else {
                (entry.commands.take(), entry.task.take())
            }
        };
        stop_entry_watcher(commands, task, true).await;
        for c in lock(&self.shared.config).channels.iter_mut() {
            if channel_id(&c.url) == id {
                c.enabled = enabled;
            }
        }
        self.save()?;
        self.channel(id)
    }

    /// "Record now" (`true`) or "stop recording now" (`false`).
    pub fn set_recording(&self, id: &str, record: bool) -> Result<ChannelSnapshot, EngineError> {
        {
            let channels = lock(&self.shared.channels);
            let entry =
                channels.get(id).ok_or_else(|| EngineError::NotFound(format!("channel {id}")))?;
            let tx = entry
                .commands
                .as_ref()
                .ok_or_else(|| EngineError::Invalid(format!("channel {id} is disabled")))?;
            let cmd =
                if record { WatcherCommand::StartRecording } else { WatcherCommand::StopRecording };
            tx.send(cmd)
                .map_err(|_| EngineError::Invalid(format!("channel {id} is not running")))?;
        }
        self.channel(id)
    }

    /// The webhooks as configured.
    pub fn webhooks(&self) -> Vec<WebhookConfig> {
        lock(&self.shared.config).webhooks.clone()
    }

    /// Adds a webhook (an id is assigned when absent) and saves.
    pub async fn add_webhook(
        &self,
        mut webhook: WebhookConfig,
    ) -> Result<WebhookConfig, EngineError> {
        if webhook.id.is_none() {
            webhook.id = Some(format!("wh-{}", &Uuid::now_v7().simple().to_string()[20..]));
        }
        let mut next = self.config();
        next.webhooks.push(webhook.clone());
        self.replace_webhooks(next).await?;
        Ok(webhook)
    }

    /// Replaces the webhook with this id and saves.
    pub async fn edit_webhook(
        &self,
        id: &str,
        mut webhook: WebhookConfig,
    ) -> Result<WebhookConfig, EngineError> {
        webhook.id = Some(id.to_owned());
        let mut next = self.config();
        let slot = next
            .webhooks
            .iter_mut()
            .find(|w| w.id.as_deref() == Some(id))
            .ok_or_else(|| EngineError::NotFound(format!("webhook {id}")))?;
        *slot = webhook.clone();
        self.replace_webhooks(next).await?;
        Ok(webhook)
    }

    /// Removes a webhook and saves.
    pub async fn remove_webhook(&self, id: &str) -> Result<(), EngineError> {
        let mut next = self.config();
        let before = next.webhooks.len();
        next.webhooks.retain(|w| w.id.as_deref() != Some(id));
        if next.webhooks.len() == before {
            return Err(EngineError::NotFound(format!("webhook {id}")));
        }
        self.replace_webhooks(next).await
    }

    /// Sends a `test` event to a webhook now.
    pub async fn test_webhook(&self, id: &str) -> Result<String, EngineError> {
        let wh = self
            .webhooks()
            .into_iter()
            .find(|w| w.id.as_deref() == Some(id))
            .ok_or_else(|| EngineError::NotFound(format!("webhook {id}")))?;
        self.shared.parts.delivery.send_test(&wh).await
    }

    async fn replace_webhooks(&self, next: EngineConfig) -> Result<(), EngineError> {
        next.validate(Path::new("<api>"))?;
        self.shared.parts.delivery.set_endpoints(&next.webhooks).await?;
        lock(&self.shared.config).webhooks = next.webhooks;
        self.save()
    }

    fn save(&self) -> Result<(), EngineError> {
        if let Some(path) = &self.shared.config_path {
            let config = self.config();
            config.write_atomic(path)?;
        }
        Ok(())
    }

    /// Number of recordings running now.
    pub fn active_recordings(&self) -> usize {
        lock(&self.shared.channels).values().filter(|e| lock(&e.view).recording).count()
    }

    /// Transmux jobs not yet done.
    pub fn pending_transmux_jobs(&self) -> Vec<TransmuxJob> {
        lock(&self.shared.transmux_pending).clone()
    }

    /// Graceful shutdown: stops every watcher (recordings are finalized and
    /// their files announced), waits for transmux jobs until `deadline`
    /// (unfinished ones stay persisted and resume on the next start),
    /// publishes `app_exit` and flushes the outbox within what is left of
    /// `deadline`. Returns true when every event was delivered.
    pub async fn shutdown(&self, deadline: Duration) -> bool {
        let started = tokio::time::Instant::now();
        let _ = self.shared.stopping.send(true);
        let stops: Vec<_> = {
            let mut channels = lock(&self.shared.channels);
            channels.values_mut().map(|e| (e.commands.take(), e.task.take())).collect()
        };
        let mut waits = Vec::new();
        for (commands, task) in stops {
            waits.push(tokio::spawn(stop_entry_watcher(commands, task, false)));
        }
        for w in waits {
            let _ = w.await;
        }
        let running: Vec<JoinHandle<()>> =
            std::mem::take(&mut *lock(&self.shared.transmux_running));
        let left = deadline.saturating_sub(started.elapsed());
        let all = futures_join(running);
        if tokio::time::timeout(left, all).await.is_err() {
            tracing::warn!(
                "transmux jobs still running at the deadline; they resume on the next start"
            );
        }
        self.publish(EventData::AppExit).await;
        let left = deadline.saturating_sub(started.elapsed()).max(Duration::from_millis(200));
        let flushed = self.shared.parts.delivery.flush(left).await;
        if !flushed {
            tracing::warn!(
                "some events were not delivered before the deadline; they stay in the outbox for the next start"
            );
        }
        self.shared.parts.delivery.close().await;
        flushed
    }

    fn resume_transmux_jobs(&self) {
        let jobs: Vec<TransmuxJob> =
            crate::state_file::load(&self.shared.state_dir, TRANSMUX_QUEUE_FILE, "transmux queue");
        for job in jobs {
            if job.input.exists() {
                tracing::info!(input = %job.input.display(), "resuming transmux job");
                submit_transmux(&self.shared, job);
            }
        }
    }
}

impl Shared {
    pub(crate) fn stopping_flag(&self) -> watch::Ref<'_, bool> {
        self.stopping.borrow()
    }
}

async fn futures_join(handles: Vec<JoinHandle<()>>) {
    for h in handles {
        let _ = h.await;
    }
}

async fn stop_entry_watcher(
    commands: Option<mpsc::UnboundedSender<WatcherCommand>>,
    task: Option<JoinHandle<()>>,
    end_session: bool,
) {
    if let Some(tx) = commands {
        let _ = tx.send(WatcherCommand::Shutdown { end_session });
    }
    if let Some(task) = task {
        let _ = task.await;
    }
}

fn snapshot(id: &str, e: &ChannelEntry) -> ChannelSnapshot {
    ChannelSnapshot {
        id: id.to_owned(),
        url: crate::redact::redact_urls(&e.config.url).into_owned(),
        name: crate::redact::redact_urls(e.config.name.as_deref().unwrap_or(&e.cref.channel))
            .into_owned(),
        platform: e.cref.platform.clone(),
        channel: crate::redact::redact_urls(&e.cref.channel).into_owned(),
        enabled: e.config.enabled,
        record: e.config.record,
        view: lock(&e.view).clone(),
    }
}

pub(crate) fn numbered_webhooks(webhooks: &[WebhookConfig]) -> Vec<WebhookConfig> {
    webhooks
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let mut w = w.clone();
            if w.id.is_none() {
                w.id = Some(format!("wh{}", i + 1));
            }
            w
        })
        .collect()
}

/// Locks a std mutex, recovering from poisoning (a panicked holder leaves
/// plain data that is still usable).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) async fn publish(shared: &Shared, data: EventData) {
    publish_event(shared, Event::new(data)).await;
}

/// Publishes an event built by the caller (whose id it may have saved:
/// the outbox keeps one copy of each event id).
pub(crate) async fn publish_event(shared: &Shared, event: Event) {
    // Tokens in URLs (a direct stream's channel URL, a stream URL quoted in an
    // error) stay in the engine: nothing published carries a query string.
    let event = crate::redact::redact_event(event);
    let type_name = event.type_name().to_owned();
    match event.data.channel() {
        Some((platform, channel)) => {
            tracing::info!(event = %type_name, %platform, %channel, session = ?event.data.session_id(), "event")
        }
        None => tracing::info!(event = %type_name, "event"),
    }
    *lock(&shared.counters.events).entry(type_name).or_default() += 1;
    {
        let mut recent = lock(&shared.recent_events);
        if recent.len() >= RECENT_EVENTS {
            recent.pop_front();
        }
        recent.push_back(event.clone());
    }
    if let Err(e) = shared.parts.delivery.publish(&event).await {
        tracing::error!(error = %e, event = %event.type_name(), "event could not be queued for delivery");
    }
}

fn save_transmux_queue(shared: &Shared) {
    let jobs = lock(&shared.transmux_pending).clone();
    crate::state_file::save(&shared.state_dir, TRANSMUX_QUEUE_FILE, &jobs, "transmux queue");
}

/// Transmux jobs not finished yet, resumed at the next start.
const TRANSMUX_QUEUE_FILE: &str = "transmux-queue.json";

/// Tries of one transmux job before it is given up (the recording is kept).
const TRANSMUX_ATTEMPTS: u32 = 6;
/// The waits between the tries of a failing transmux job: 5 s, 10 s, 20 s...
const TRANSMUX_RETRY: Backoff =
    Backoff { base: Duration::from_secs(5), cap: Duration::from_secs(600), jitter: 0.2 };

async fn transmux_done(shared: &Shared, job: &TransmuxJob, output: PathBuf) {
    shared.counters.transmux_done.fetch_add(1, Ordering::Relaxed);
    lock(&shared.transmux_pending).retain(|j| j.input != job.input);
    save_transmux_queue(shared);
    crate::recordings::transmux(
        shared,
        &job.input,
        crate::recordings::TransmuxState::Done,
        Some(output.display().to_string()),
        None,
    );
    publish(
        shared,
        EventData::VideoTransmuxFinish(VideoTransmuxFinishData {
            platform: job.platform.clone(),
            channel: job.channel.clone(),
            input: job.input.display().to_string(),
            output: output.display().to_string(),
            session_id: job.session_id,
            live_info: job.live_info.clone(),
        }),
    )
    .await;
}

pub(crate) fn submit_transmux(shared: &Arc<Shared>, job: TransmuxJob) {
    {
        let mut pending = lock(&shared.transmux_pending);
        if !pending.iter().any(|j| j.input == job.input) {
            pending.push(job.clone());
        }
    }
    save_transmux_queue(shared);
    crate::recordings::transmux(
        shared,
        &job.input,
        crate::recordings::TransmuxState::Pending,
        None,
        None,
    );
    let shared2 = shared.clone();
    let handle = tokio::spawn(async move {
        let shared = shared2;
        let mut stopping = shared.stopping.subscribe();
        let mut episode = Episode::default();
        loop {
            let result = {
                let Ok(_permit) = shared.transmux_permits.clone().acquire_owned().await else {
                    return;
                };
                let (format, delete_source) = {
                    let c = lock(&shared.config);
                    (c.transmux.format.clone(), c.transmux.delete_source)
                };
                shared.parts.transmuxer.transmux(&job, &format, delete_source).await
            };
            let e = match result {
                Ok(output) => {
                    transmux_done(&shared, &job, output).await;
                    return;
                }
                Err(e) => e,
            };
            shared.counters.transmux_failed.fetch_add(1, Ordering::Relaxed);
            let failures = episode.fail();
            let give_up = failures >= TRANSMUX_ATTEMPTS;
            if episode.report() {
                let retry = if give_up {
                    String::new()
                } else {
                    format!("; retrying (at most {TRANSMUX_ATTEMPTS} attempts)")
                };
                publish(
                    &shared,
                    EventData::Error(ErrorData {
                        platform: job.platform.clone(),
                        channel: job.channel.clone(),
                        error: format!(
                            "transmux of {} failed (the recording is kept): {e}{retry}",
                            job.input.display()
                        ),
                        session_id: job.session_id,
                    }),
                )
                .await;
            } else {
                tracing::warn!(input = %job.input.display(), error = %e, failures, "transmux failed again");
            }
            if give_up {
                tracing::error!(input = %job.input.display(), failures, "transmux given up; the recording is kept");
                lock(&shared.transmux_pending).retain(|j| j.input != job.input);
                save_transmux_queue(&shared);
                crate::recordings::transmux(
                    &shared,
                    &job.input,
                    crate::recordings::TransmuxState::Failed,
                    None,
                    Some(e.to_string()),
                );
                return;
            }
            let delay = TRANSMUX_RETRY.delay(failures, rand::random::<f64>());
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                // Shutting down: the job stays queued and resumes at the next start.
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
    });
    let mut running = lock(&shared.transmux_running);
    running.retain(|h| !h.is_finished());
    running.push(handle);
}
