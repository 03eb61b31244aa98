//! In-memory implementations of the engine's seams.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use onelive_engine::seams::{
    ChannelRef, DeliveryRecord, DeliveryStats, EventDelivery, LiveSource, PollResult, Recorder,
    RecordingControl, RecordingEvent, RecordingHandle, RecordingRequest, StreamChoice, Transmuxer,
};
use onelive_engine::{EngineError, EngineParts, WebhookConfig};
use onelive_events::{Event, LiveInfo, LiveStatus};
use onelive_transmux::TransmuxJob;
use tokio::sync::mpsc;

/// What the fake platform answers, per channel id.
#[derive(Clone, Default)]
pub struct FakeSource {
    pub answers: Arc<Mutex<BTreeMap<String, PollResult>>>,
    pub polls: Arc<Mutex<u64>>,
    /// Channel ids and the canonical id each stands for (a short id and
    /// the long id, as on Bilibili).
    pub aliases: Arc<Mutex<BTreeMap<String, String>>>,
}

impl FakeSource {
    pub fn set(&self, channel: &str, result: PollResult) {
        self.answers.lock().unwrap().insert(channel.into(), result);
    }
    pub fn live(&self, channel: &str, title: &str, category: &str) {
        self.set(
            channel,
            PollResult::Live({
                let mut built = LiveInfo::default();
                built.title = title.into();
                built.categories = vec![category.into()];
                built.status = LiveStatus::Live;
                built
            }),
        );
    }
    pub fn offline(&self, channel: &str) {
        self.set(channel, PollResult::Offline(LiveInfo::default()));
    }
}

#[async_trait]
impl LiveSource for FakeSource {
    fn resolve(&self, url: &str) -> Result<ChannelRef, EngineError> {
        let channel = url.strip_prefix("https://fake.test/").ok_or_else(|| {
            onelive_platform::PlatformError::UnsupportedUrl(format!("no adapter claims {url}"))
        })?;
        Ok(ChannelRef { platform: "fake".into(), channel: channel.into() })
    }
    async fn canonical(&self, channel: ChannelRef) -> ChannelRef {
        match self.aliases.lock().unwrap().get(&channel.channel) {
            Some(id) => ChannelRef { channel: id.clone(), ..channel },
            None => channel,
        }
    }
    fn min_poll_interval(&self, _platform: &str) -> Duration {
        Duration::ZERO
    }
    async fn poll(&self, channel: &ChannelRef) -> PollResult {
        *self.polls.lock().unwrap() += 1;
        self.answers
            .lock()
            .unwrap()
            .get(&channel.channel)
            .cloned()
            .unwrap_or(PollResult::Offline(LiveInfo::default()))
    }
    async fn stream(
        &self,
        channel: &ChannelRef,
        _quality: &[String],
    ) -> Result<StreamChoice, EngineError> {
        Ok(StreamChoice {
            url: format!("http://127.0.0.1:1/{}.m3u8", channel.channel),
            quality: "source".into(),
            kind: onelive_platform::StreamKind::Hls,
            headers: vec![],
        })
    }
}

/// A recorder that writes a small real file and reports it.
#[derive(Clone, Default)]
pub struct FakeRecorder {
    pub started: Arc<Mutex<Vec<PathBuf>>>,
}

struct FakeControl(Option<tokio::sync::oneshot::Sender<()>>);

impl RecordingControl for FakeControl {
    fn stop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

#[async_trait]
impl Recorder for FakeRecorder {
    async fn start(&self, request: RecordingRequest) -> Result<RecordingHandle, EngineError> {
        // Names the file as the real recorder does: the template, the context, the part.
        let ctx = &request.context;
        let relative = request.template.render(&onelive_recorder::TemplateValues {
            platform: &ctx.platform,
            channel: &ctx.channel,
            uname: &ctx.live_info.uname,
            title: &ctx.live_info.title,
            start_time: ctx.session_start,
            part: request.first_part,
            ext: "ts",
        });
        let path = request.output_dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        self.started.lock().unwrap().push(path.clone());
        let (tx, rx) = mpsc::channel(16);
        let ctx = ctx.clone();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let _ = tx.send(file_created(&ctx, &path)).await;
            let _ = std::fs::write(&path, b"0123456789");
            let _ = tx.send(RecordingEvent::Progress { bytes: 10 }).await;
            let _ = stop_rx.await;
            let _ = tx.send(file_finished(&ctx, &path, 10, 1.5)).await;
            let _ = tx
                .send(RecordingEvent::Stopped {
                    reason: "stopped".into(),
                    failed: false,
                    next_part: 0,
                })
                .await;
        });
        Ok(RecordingHandle { events: rx, control: Box::new(FakeControl(Some(stop_tx))) })
    }
}

/// A transmuxer that copies the file to `.mp4`.
#[derive(Clone, Default)]
pub struct FakeTransmuxer;

#[async_trait]
impl Transmuxer for FakeTransmuxer {
    async fn transmux(&self, job: &TransmuxJob) -> Result<PathBuf, EngineError> {
        let out = job.input.with_extension(job.format.extension());
        std::fs::copy(&job.input, &out).map_err(|source| onelive_transmux::TransmuxError::Io {
            context: format!("cannot copy {}", job.input.display()),
            source,
        })?;
        Ok(out)
    }
}

/// Collects published events.
#[derive(Clone, Default)]
pub struct FakeDelivery {
    pub events: Arc<Mutex<Vec<Event>>>,
    pub endpoints: Arc<Mutex<Vec<WebhookConfig>>>,
}

impl FakeDelivery {
    pub fn types(&self) -> Vec<String> {
        self.events.lock().unwrap().iter().map(|e| e.type_name().to_owned()).collect()
    }
}

#[async_trait]
impl EventDelivery for FakeDelivery {
    async fn publish(&self, event: &Event) -> Result<(), EngineError> {
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }
    async fn set_endpoints(&self, endpoints: &[WebhookConfig]) -> Result<(), EngineError> {
        *self.endpoints.lock().unwrap() = endpoints.to_vec();
        Ok(())
    }
    async fn send_test(&self, endpoint: &WebhookConfig) -> Result<String, EngineError> {
        Ok(format!("delivered to {}", endpoint.url))
    }
    async fn recent(
        &self,
        _webhook_id: Option<&str>,
        _limit: usize,
    ) -> Result<Vec<DeliveryRecord>, EngineError> {
        Ok(vec![])
    }
    async fn redeliver(&self, delivery_id: &str) -> Result<(), EngineError> {
        Err(EngineError::NotFound(format!("delivery {delivery_id}")))
    }
    async fn flush(&self, _timeout: Duration) -> bool {
        true
    }
    async fn stats(&self) -> DeliveryStats {
        DeliveryStats {
            delivered: self.events.lock().unwrap().len() as u64,
            ..DeliveryStats::default()
        }
    }
    async fn close(&self) {}
}

pub struct Fakes {
    pub source: FakeSource,
    pub recorder: FakeRecorder,
    pub delivery: FakeDelivery,
}

impl Fakes {
    pub fn new() -> Self {
        Fakes {
            source: FakeSource::default(),
            recorder: FakeRecorder::default(),
            delivery: FakeDelivery::default(),
        }
    }
    pub fn parts(&self) -> EngineParts {
        EngineParts {
            source: Arc::new(self.source.clone()),
            recorder: Arc::new(self.recorder.clone()),
            transmuxer: Arc::new(FakeTransmuxer),
            delivery: Arc::new(self.delivery.clone()),
            chat: None,
        }
    }
}

/// Waits until `f` is true (polling every 20 ms) or panics after `timeout`.
pub async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    // A condition, never a time: the deadline is generous (at least 60 s)
    // because the machine may be loaded by several builds at once.
    let deadline = tokio::time::Instant::now() + timeout.max(Duration::from_secs(60));
    while !f() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A recorder whose recordings fail at once, without a file (a full disk,
/// a stream URL that never plays), while `failing`; then it records like
/// [`FakeRecorder`]. Every start is timed.
#[derive(Clone, Default)]
pub struct FailingRecorder {
    pub failing: Arc<std::sync::atomic::AtomicBool>,
    pub starts: Arc<Mutex<Vec<std::time::Instant>>>,
    pub inner: FakeRecorder,
}

#[async_trait]
impl Recorder for FailingRecorder {
    async fn start(&self, request: RecordingRequest) -> Result<RecordingHandle, EngineError> {
        self.starts.lock().unwrap().push(std::time::Instant::now());
        if !self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return self.inner.start(request).await;
        }
        let (tx, rx) = mpsc::channel(4);
        let _ = tx
            .send(RecordingEvent::Error {
                message: "ffmpeg: cannot open the output: No space left on device".into(),
            })
            .await;
        // As the native engine on a full disk: a second error about the
        // same failed try (the empty part it removed).
        let _ = tx
            .send(RecordingEvent::Error {
                message: "removed rec/part1.flv (no media in it); it is not announced".into(),
            })
            .await;
        let _ = tx
            .send(RecordingEvent::Stopped {
                reason: "ffmpeg exited with status 1".into(),
                failed: true,
                next_part: 0,
            })
            .await;
        Ok(RecordingHandle { events: rx, control: Box::new(FakeControl(None)) })
    }
}

/// A transmuxer that fails `failures` times (no space left), then copies
/// like [`FakeTransmuxer`]; `calls` holds when each call came.
#[derive(Clone, Default)]
pub struct FlakyTransmuxer {
    pub failures: Arc<Mutex<u32>>,
    pub calls: Arc<Mutex<Vec<std::time::Instant>>>,
}

#[async_trait]
impl Transmuxer for FlakyTransmuxer {
    async fn transmux(&self, job: &TransmuxJob) -> Result<PathBuf, EngineError> {
        self.calls.lock().unwrap().push(std::time::Instant::now());
        {
            let mut left = self.failures.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return Err(EngineError::Transmux(onelive_transmux::TransmuxError::Io {
                    context: format!(
                        "cannot write {}",
                        job.input.with_extension(job.format.extension()).display()
                    ),
                    source: std::io::Error::other("No space left on device"),
                }));
            }
        }
        FakeTransmuxer.transmux(job).await
    }
}

/// A recorder whose stream source goes away when `lose` is notified (the
/// file is finished, then [`RecordingEvent::SourceLost`] and a failed stop,
/// as the ffmpeg recorder reports it); a stop request ends it normally.
#[derive(Clone, Default)]
pub struct LosingRecorder {
    pub lose: Arc<tokio::sync::Notify>,
    pub starts: Arc<Mutex<u32>>,
}

#[async_trait]
impl Recorder for LosingRecorder {
    async fn start(&self, request: RecordingRequest) -> Result<RecordingHandle, EngineError> {
        let n = {
            let mut starts = self.starts.lock().unwrap();
            *starts += 1;
            *starts
        };
        let path = request.output_dir.join(format!("lost-{n}.ts"));
        std::fs::create_dir_all(&request.output_dir).unwrap();
        let (tx, rx) = mpsc::channel(16);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let ctx = request.context.clone();
        let lose = self.lose.clone();
        tokio::spawn(async move {
            let _ = tx.send(file_created(&ctx, &path)).await;
            let _ = std::fs::write(&path, b"0123456789");
            let lost = tokio::select! {
                () = lose.notified() => true,
                _ = stop_rx => false,
            };
            let _ = tx.send(file_finished(&ctx, &path, 10, 1.5)).await;
            if lost {
                let message = "lost the stream source, ffmpeg ended: Failed to reload playlist 0";
                let _ = tx.send(RecordingEvent::SourceLost { message: message.into() }).await;
            }
            let reason = if lost { "lost the stream source" } else { "stopped" };
            let _ = tx
                .send(RecordingEvent::Stopped { reason: reason.into(), failed: lost, next_part: 0 })
                .await;
        });
        Ok(RecordingHandle { events: rx, control: Box::new(FakeControl(Some(stop_tx))) })
    }
}

/// The `video_file_create` data a recorder reports (the watcher adds the session).
pub fn file_created(ctx: &onelive_recorder::EventContext, path: &Path) -> RecordingEvent {
    RecordingEvent::FileCreated {
        data: onelive_events::VideoFileCreateData::new(
            ctx.platform.clone(),
            ctx.channel.clone(),
            path.display().to_string(),
        )
        .with_session_id(ctx.session_id)
        .with_live_info(Some(ctx.live_info.clone())),
        at: std::time::Instant::now(),
    }
}

/// The `video_file_finish` data a recorder reports.
pub fn file_finished(
    ctx: &onelive_recorder::EventContext,
    path: &Path,
    filesize: u64,
    duration: f64,
) -> RecordingEvent {
    RecordingEvent::FileFinished(
        onelive_events::VideoFileFinishData::new(
            ctx.platform.clone(),
            ctx.channel.clone(),
            path.display().to_string(),
            filesize,
            duration,
        )
        .with_session_id(ctx.session_id)
        .with_live_info(Some(ctx.live_info.clone())),
    )
}

/// The engine configuration most tests start from: fast polls, no jitter, no
/// disk guard, channels `https://fake.test/<name>`.
pub fn config(dir: &std::path::Path, channels: &[&str]) -> onelive_engine::EngineConfig {
    let mut c = onelive_engine::EngineConfig::default();
    c.output.folder = dir.join("rec");
    c.output.filename_template = "{channel}/{session}_part{part}".into();
    c.state.dir = Some(dir.join("state"));
    c.watch.poll_interval = onelive_engine::HumanDuration(Duration::from_millis(200));
    c.watch.debounce = onelive_engine::HumanDuration(Duration::from_millis(800));
    c.watch.jitter = 0.0;
    c.disk.min_free_mb = 0;
    c.channels = channels
        .iter()
        .map(|ch| onelive_engine::ChannelConfig::new(format!("https://fake.test/{ch}")))
        .collect();
    c
}
