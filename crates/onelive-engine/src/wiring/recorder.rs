//! [`Recorder`] over onelive-recorder (ffmpeg stream copy with a watchdog).

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use onelive_events::{Event, EventData};
use onelive_recorder::{
    EndReason, Engine, RecordingConfig, SourceResolver, SplitPolicy, StreamSource, record,
};
use tokio::sync::{mpsc, oneshot};

use crate::EngineError;
use crate::seams::{
    Recorder, RecordingControl, RecordingEvent, RecordingHandle, RecordingRequest, StreamChoice,
};

/// Records with ffmpeg through onelive-recorder.
#[derive(Debug, Clone)]
pub struct FfmpegRecorder {
    ffmpeg: PathBuf,
    ffprobe: PathBuf,
    engine: Engine,
}

impl Default for FfmpegRecorder {
    fn default() -> Self {
        FfmpegRecorder {
            ffmpeg: PathBuf::from("ffmpeg"),
            ffprobe: PathBuf::from("ffprobe"),
            engine: Engine::default(),
        }
    }
}

impl FfmpegRecorder {
    /// Uses these executables.
    pub fn new(ffmpeg: PathBuf, ffprobe: PathBuf) -> Self {
        FfmpegRecorder { ffmpeg, ffprobe, engine: Engine::default() }
    }

    /// Records with this engine (`[recording] engine`).
    pub fn with_engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }
}

fn source_of(stream: &StreamChoice) -> StreamSource {
    let mut source = StreamSource::new(stream.url.clone(), stream.kind);
    for (name, value) in &stream.headers {
        source = source.with_header(name.clone(), value.expose().to_owned());
    }
    source
}

/// The instant of an event's wall-clock time `ts` (it was stamped a moment
/// ago, when the recorder sent it).
fn instant_of(ts: time::OffsetDateTime) -> std::time::Instant {
    let now = std::time::Instant::now();
    let age = time::OffsetDateTime::now_utc() - ts;
    let age = std::time::Duration::try_from(age).unwrap_or_default();
    now.checked_sub(age.min(Duration::from_secs(60))).unwrap_or(now)
}

struct StopSender(Option<oneshot::Sender<()>>);

impl RecordingControl for StopSender {
    fn stop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

#[async_trait]
impl Recorder for FfmpegRecorder {
    async fn start(&self, request: RecordingRequest) -> Result<RecordingHandle, EngineError> {
        let mut config = RecordingConfig::new(source_of(&request.stream), request.output_dir);
        config.resolver =
            request.refetch.map(|refetch| {
                SourceResolver::new(move || {
                    let refetch = refetch.clone();
                    async move {
                        refetch.fetch().await.map(|s| source_of(&s)).map_err(|e| e.to_string())
                    }
                })
            });
        config.template = request.template;
        config.container = request.container;
        config.split = SplitPolicy {
            max_duration: request.split.max_duration.map(|d| d.0),
            max_bytes: request
                .split
                .max_size_mb
                .filter(|m| *m > 0)
                .map(|m| m.saturating_mul(1024 * 1024)),
        };
        config.first_part = request.first_part.max(1);
        config.stall_timeout = request.stall_timeout.max(Duration::from_secs(1));
        config.min_free_bytes = request.min_free_bytes;
        config.engine = self.engine;
        config.ffmpeg = self.ffmpeg.clone();
        config.ffprobe = self.ffprobe.clone();

        let (ev_tx, mut ev_rx) = mpsc::channel::<Event>(64);
        // The context names the files; the engine turns the file facts
        // into its own events with the session data.
        let recording = record(config, request.context, ev_tx).await?;
        let mut progress = recording.subscribe_progress();
        let (out_tx, out_rx) = mpsc::channel::<RecordingEvent>(64);
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let mut stop_requested = false;
            let mut last_bytes = 0u64;
            // The recorder's last `error` is held until the next event: when
            // the recording then ends with a lost source, it was that loss,
            // which the engine reports only if the channel is still live.
            let mut held_error: Option<String> = None;
            loop {
                tokio::select! {
                    r = &mut stop_rx, if !stop_requested => {
                        stop_requested = true;
                        if r.is_ok() {
                            recording.request_stop();
                        } else {
                            // The engine dropped the handle: stop as well.
                            recording.request_stop();
                        }
                    }
                    ev = ev_rx.recv() => {
                        let Some(ev) = ev else { break };
                        if let Some(message) = held_error.take() {
                            let _ = out_tx.send(RecordingEvent::Error { message }).await;
                        }
                        let mapped = match ev.data {
                            EventData::VideoFileCreate(d) => Some(RecordingEvent::FileCreated {
                                data: d,
                                at: instant_of(ev.ts),
                            }),
                            EventData::VideoFileFinish(d) => Some(RecordingEvent::FileFinished(d)),
                            EventData::Error(d) => {
                                held_error = Some(d.error);
                                None
                            }
                            _ => None,
                        };
                        if let Some(m) = mapped {
                            let _ = out_tx.send(m).await;
                        }
                    }
                    changed = progress.changed() => {
                        if changed.is_err() {
                            continue;
                        }
                        let bytes = progress.borrow().current_file_bytes;
                        if bytes != last_bytes {
                            last_bytes = bytes;
                            let _ = out_tx.try_send(RecordingEvent::Progress { bytes });
                        }
                    }
                }
            }
            let outcome = recording.wait().await;
            if let Some(message) = held_error.take() {
                let event = if matches!(outcome.reason, EndReason::SourceLost { .. }) {
                    RecordingEvent::SourceLost { message }
                } else {
                    RecordingEvent::Error { message }
                };
                let _ = out_tx.send(event).await;
            }
            let (reason, failed) = match &outcome.reason {
                EndReason::Stopped => ("stopped".to_owned(), false),
                EndReason::StreamEnded => ("the stream ended".to_owned(), false),
                EndReason::LimitReached => ("the time limit was reached".to_owned(), false),
                EndReason::Stalled { after } => {
                    (format!("no data for {}s (watchdog)", after.as_secs()), false)
                }
                EndReason::FfmpegFailed { exit_code, stderr } => {
                    (format!("ffmpeg exited with {exit_code:?}: {stderr}"), true)
                }
                EndReason::LowDiskSpace { free_bytes } => {
                    (format!("disk almost full ({} MiB free)", free_bytes / (1024 * 1024)), true)
                }
                EndReason::StartFailed { message } => (message.clone(), true),
                EndReason::SourceLost { stderr } => {
                    (format!("lost the stream source: {stderr}"), true)
                }
                other => (format!("{other:?}"), true),
            };
            let _ = out_tx
                .send(RecordingEvent::Stopped { reason, failed, next_part: outcome.next_part })
                .await;
        });
        Ok(RecordingHandle { events: out_rx, control: Box::new(StopSender(Some(stop_tx))) })
    }
}
