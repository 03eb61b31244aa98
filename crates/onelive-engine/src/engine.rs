//! The engine: channels, watchers, recordings, the transmux queue and the
//! event flow.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onelive_events::{ErrorData, Event, EventData, Uuid};
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use crate::EngineError;
use crate::config::{ChannelConfig, EngineConfig, WebhookConfig, numbered_webhooks};
use crate::publisher::{Counters, Publisher};
use crate::recovery::Recovery;
use crate::seams::{ChannelRef, ChatSource, EventDelivery, LiveSource, Recorder, Transmuxer};
use crate::store::{LedgerFile, Store};
use crate::sync::lock;
use crate::transmux_queue::TransmuxQueue;
use crate::watcher::{ChannelView, Handles, WatcherCommand, WatcherContext, run_watcher};

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
    /// Live chat capture (used for the channels `[danmaku]` enables);
    /// `None`: no chat.
    pub chat: Option<Arc<dyn ChatSource>>,
}

impl std::fmt::Debug for EngineParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineParts").finish_non_exhaustive()
    }
}

struct ChannelEntry {
    config: ChannelConfig,
    cref: ChannelRef,
    view: Arc<Mutex<ChannelView>>,
    commands: Option<mpsc::UnboundedSender<WatcherCommand>>,
    task: Option<JoinHandle<()>>,
}

/// What the engine owns: the configuration, the channels and their
/// watchers, and the stop signal. The durable state is the [`Store`]'s, the
/// events and counters the [`Publisher`]'s, the transmux jobs the
/// [`TransmuxQueue`]'s; the watchers get [`Handles`] on those.
struct Inner {
    config: Arc<Mutex<EngineConfig>>,
    config_path: Option<PathBuf>,
    state_dir: PathBuf,
    handles: Handles,
    channels: Mutex<BTreeMap<String, ChannelEntry>>,
    stopping: watch::Sender<bool>,
}

/// A running engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("state_dir", &self.inner.state_dir).finish_non_exhaustive()
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
        let store = Arc::new(Store::open(&state_dir)?);
        let (stopping, _) = watch::channel(false);
        let publisher = Arc::new(Publisher::new(parts.delivery.clone()));
        let config_handle = Arc::new(Mutex::new(EngineConfig { webhooks, ..config.clone() }));
        let transmux = TransmuxQueue::new(
            store.clone(),
            publisher.clone(),
            parts.transmuxer.clone(),
            config_handle.clone(),
            stopping.subscribe(),
        );
        let handles = Handles {
            config: config_handle.clone(),
            source: parts.source.clone(),
            recorder: parts.recorder.clone(),
            chat: parts.chat.clone(),
            store: store.clone(),
            publisher: publisher.clone(),
            transmux: transmux.clone(),
            poll_permits: Arc::new(Semaphore::new(config.watch.max_concurrent_polls)),
            record_permits: Arc::new(Semaphore::new(config.watch.max_concurrent_recordings)),
            stopping: stopping.subscribe(),
        };
        let engine = Engine {
            inner: Arc::new(Inner {
                config: config_handle,
                config_path,
                state_dir,
                handles,
                channels: Mutex::new(BTreeMap::new()),
                stopping,
            }),
        };
        engine.publish(EventData::AppLaunch).await;
        crate::sessions::announce_pending(&store, &publisher).await;
        transmux.resume();
        let leftovers = store.left_open()?;
        if !leftovers.is_empty() {
            // They stay `left_open` until checked, so that a shutdown during
            // the check leaves them for the next start.
            let recovery = Recovery {
                store: store.clone(),
                publisher: publisher.clone(),
                transmux,
                stopping: engine.inner.stopping.subscribe(),
                quiet_for: config.watch.stall_timeout.0,
            };
            tokio::spawn(recovery.run(leftovers));
        }
        for (channel, resolved) in engine.resolve_all(config.channels).await {
            if let Err(e) = resolved.and_then(|cref| engine.insert_channel(channel, cref)) {
                tracing::error!(error = %e, "channel not watched");
                engine.publish_error("", "", None, e.to_string()).await;
            }
        }
        let watched: Vec<(String, String)> = lock(&engine.inner.channels)
            .values()
            .filter(|e| e.task.is_some())
            .map(|e| (e.cref.platform.clone(), e.cref.channel.clone()))
            .collect();
        crate::sessions::end_unwatched(&store, &publisher, &watched).await;
        Ok(engine)
    }

    /// The configuration as it is now (with API changes).
    pub fn config(&self) -> EngineConfig {
        lock(&self.inner.config).clone()
    }

    /// Folder of the engine's state files.
    pub fn state_dir(&self) -> &Path {
        &self.inner.state_dir
    }

    /// The counters behind `/metrics`.
    pub fn counters(&self) -> &Counters {
        self.inner.handles.publisher.counters()
    }

    /// The delivery side (for the API).
    pub fn delivery(&self) -> &Arc<dyn EventDelivery> {
        self.inner.handles.publisher.delivery()
    }

    /// The durable store (the file ledger and the open sessions).
    pub fn store(&self) -> &Store {
        &self.inner.handles.store
    }

    /// The most recent recording files (at most `limit`), newest first;
    /// kept across restarts (see [`recordings`](crate::recordings)).
    pub fn recordings(&self, limit: usize) -> Vec<crate::Recording> {
        self.inner.handles.store.recordings(limit).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot list the recordings");
            Vec::new()
        })
    }

    /// The last events published (at most 200), oldest first.
    pub fn recent_events(&self) -> Vec<Event> {
        self.inner.handles.publisher.recent()
    }

    /// Publishes an event to the webhooks and the log.
    pub async fn publish(&self, data: EventData) {
        self.inner.handles.publisher.publish(data).await;
    }

    async fn publish_error(
        &self,
        platform: &str,
        channel: &str,
        session_id: Option<Uuid>,
        error: String,
    ) {
        self.publish(EventData::Error(
            ErrorData::new(platform, channel, error).with_session_id(session_id),
        ))
        .await;
    }

    /// Resolves a channel URL and asks its platform for the canonical id
    /// (see [`LiveSource::canonical`]).
    async fn resolve(&self, url: &str) -> Result<ChannelRef, EngineError> {
        let source = &self.inner.handles.source;
        let cref = source.resolve(url)?;
        let _permit = self.inner.handles.poll_permits.acquire().await;
        Ok(source.canonical(cref).await)
    }

    /// [`Self::resolve`] for the channels of the config, at most
    /// `watch.max_concurrent_polls` at a time, in their order.
    async fn resolve_all(
        &self,
        channels: Vec<ChannelConfig>,
    ) -> Vec<(ChannelConfig, Result<ChannelRef, EngineError>)> {
        let mut set = tokio::task::JoinSet::new();
        for (i, channel) in channels.into_iter().enumerate() {
            let engine = self.clone();
            set.spawn(async move {
                let resolved = engine.resolve(&channel.url).await;
                (i, channel, resolved)
            });
        }
        let mut done = Vec::new();
        while let Some(joined) = set.join_next().await {
            if let Ok(one) = joined {
                done.push(one);
            }
        }
        done.sort_by_key(|(i, _, _)| *i);
        done.into_iter().map(|(_, c, r)| (c, r)).collect()
    }

    fn insert_channel(
        &self,
        config: ChannelConfig,
        cref: ChannelRef,
    ) -> Result<ChannelSnapshot, EngineError> {
        let id = channel_id(&config.url);
        let mut channels = lock(&self.inner.channels);
        if channels.contains_key(&id) {
            return Err(EngineError::Invalid(format!("channel {} is already watched", config.url)));
        }
        // Two URLs of one channel (a short id and its long id) are one channel.
        if let Some(other) = channels
            .values()
            .find(|e| e.cref.platform == cref.platform && e.cref.channel == cref.channel)
        {
            return Err(EngineError::Invalid(format!(
                "channel {} is already watched as {} ({} channel {})",
                crate::redact::redact_urls(&config.url),
                crate::redact::redact_urls(&other.config.url),
                cref.platform,
                cref.channel
            )));
        }
        let view = Arc::new(Mutex::new(ChannelView::default()));
        let mut entry = ChannelEntry { config, cref, view, commands: None, task: None };
        if entry.config.enabled && !*self.inner.stopping.borrow() {
            self.spawn_watcher(&mut entry);
        }
        let snapshot = snapshot(&id, &entry);
        channels.insert(id, entry);
        Ok(snapshot)
    }

    fn spawn_watcher(&self, entry: &mut ChannelEntry) {
        let (tx, rx) = mpsc::unbounded_channel();
        let ctx = WatcherContext {
            handles: self.inner.handles.clone(),
            config: entry.config.clone(),
            cref: entry.cref.clone(),
            view: entry.view.clone(),
        };
        entry.commands = Some(tx);
        entry.task = Some(tokio::spawn(run_watcher(ctx, rx)));
    }

    /// Every channel with its state.
    pub fn channels(&self) -> Vec<ChannelSnapshot> {
        lock(&self.inner.channels).iter().map(|(id, e)| snapshot(id, e)).collect()
    }

    /// One channel.
    pub fn channel(&self, id: &str) -> Result<ChannelSnapshot, EngineError> {
        lock(&self.inner.channels)
            .get(id)
            .map(|e| snapshot(id, e))
            .ok_or_else(|| EngineError::NotFound(format!("channel {id}")))
    }

    /// Adds a channel (under its canonical id: see
    /// [`LiveSource::canonical`]), starts watching it and saves the config.
    pub async fn add_channel(&self, config: ChannelConfig) -> Result<ChannelSnapshot, EngineError> {
        {
            let mut probe = self.config();
            probe.channels.push(config.clone());
            probe.validate(Path::new("<api>"))?;
        }
        let cref = self.resolve(&config.url).await?;
        let snap = self.insert_channel(config.clone(), cref)?;
        lock(&self.inner.config).channels.push(config);
        self.save()?;
        Ok(snap)
    }

    /// Stops watching a channel (finalizing its recording), removes it and saves.
    pub async fn remove_channel(&self, id: &str) -> Result<(), EngineError> {
        let entry = lock(&self.inner.channels).remove(id);
        match entry {
            Some(entry) => stop_entry_watcher(entry.commands, entry.task, true).await,
            // A channel of the file that was refused at start (no adapter,
            // a bad URL) is not watched, but the user must still be able to
            // remove it, and then add it again corrected.
            None if lock(&self.inner.config).channels.iter().any(|c| channel_id(&c.url) == id) => {}
            None => return Err(EngineError::NotFound(format!("channel {id}"))),
        }
        lock(&self.inner.config).channels.retain(|c| channel_id(&c.url) != id);
        self.save()
    }

    /// Enables or disables a channel (a disabled channel's session ends) and saves.
    pub async fn set_enabled(
        &self,
        id: &str,
        enabled: bool,
    ) -> Result<ChannelSnapshot, EngineError> {
        let (commands, task) = {
            let mut channels = lock(&self.inner.channels);
            let entry = channels
                .get_mut(id)
                .ok_or_else(|| EngineError::NotFound(format!("channel {id}")))?;
            entry.config.enabled = enabled;
            if enabled {
                if entry.task.is_none() && !*self.inner.stopping.borrow() {
                    self.spawn_watcher(entry);
                }
                (None, None)
            } else {
                (entry.commands.take(), entry.task.take())
            }
        };
        stop_entry_watcher(commands, task, true).await;
        for c in lock(&self.inner.config).channels.iter_mut() {
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
            let channels = lock(&self.inner.channels);
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
        lock(&self.inner.config).webhooks.clone()
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
        self.delivery().send_test(&wh).await
    }

    async fn replace_webhooks(&self, next: EngineConfig) -> Result<(), EngineError> {
        next.validate(Path::new("<api>"))?;
        self.delivery().set_endpoints(&next.webhooks).await?;
        lock(&self.inner.config).webhooks = next.webhooks;
        self.save()
    }

    fn save(&self) -> Result<(), EngineError> {
        if let Some(path) = &self.inner.config_path {
            let config = self.config();
            config.write_atomic(path)?;
        }
        Ok(())
    }

    /// Number of recordings running now.
    pub fn active_recordings(&self) -> usize {
        lock(&self.inner.channels).values().filter(|e| lock(&e.view).recording).count()
    }

    /// Files whose transmux is not done yet (queued or running).
    pub fn pending_transmux_jobs(&self) -> Vec<LedgerFile> {
        self.inner.handles.transmux.pending()
    }

    /// Graceful shutdown: stops every watcher (recordings are finalized and
    /// their files announced), waits for transmux jobs until `deadline`
    /// (unfinished ones stay persisted and resume on the next start),
    /// publishes `app_exit` and flushes the outbox within what is left of
    /// `deadline`. Returns true when every event was delivered.
    pub async fn shutdown(&self, deadline: Duration) -> bool {
        let started = tokio::time::Instant::now();
        let _ = self.inner.stopping.send(true);
        let stops: Vec<_> = {
            let mut channels = lock(&self.inner.channels);
            channels.values_mut().map(|e| (e.commands.take(), e.task.take())).collect()
        };
        let mut waits = Vec::new();
        for (commands, task) in stops {
            waits.push(tokio::spawn(stop_entry_watcher(commands, task, false)));
        }
        for w in waits {
            let _ = w.await;
        }
        let left = deadline.saturating_sub(started.elapsed());
        if !self.inner.handles.transmux.drain(left).await {
            tracing::warn!(
                "transmux jobs still running at the deadline; they resume on the next start"
            );
        }
        self.publish(EventData::AppExit).await;
        let left = deadline.saturating_sub(started.elapsed()).max(Duration::from_millis(200));
        let flushed = self.delivery().flush(left).await;
        if !flushed {
            tracing::warn!(
                "some events were not delivered before the deadline; they stay in the outbox for the next start"
            );
        }
        self.delivery().close().await;
        flushed
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
