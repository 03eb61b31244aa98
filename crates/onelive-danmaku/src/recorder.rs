//! [`ChatRecorder`]: drains a client's events into the current part's chat
//! file; the engine opens and closes parts.

use crate::client::ChatEvents;
use crate::error::DanmakuError;
use crate::xml::{PartInfo, PartSummary, XmlChatWriter, XmlOptions};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct State {
    writer: Option<XmlChatWriter>,
    last_error: Option<String>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Events that arrived while no part was open.
    unrecorded: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes one client's chat into per-part files. The engine calls
/// [`start_part`](Self::start_part) when a part's first frame is written and
/// [`finish_part`](Self::finish_part) when the part closes. Dropping it
/// stops the drain task (call `finish_part` first to keep the last batch).
#[derive(Debug)]
pub struct ChatRecorder {
    shared: Arc<Shared>,
    options: XmlOptions,
    task: tokio::task::JoinHandle<()>,
}

impl ChatRecorder {
    /// Starts draining `events` on the current tokio runtime.
    pub fn spawn(mut events: ChatEvents, options: XmlOptions) -> Result<Self, DanmakuError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| DanmakuError::Invalid {
            what: "runtime",
            detail: format!("ChatRecorder::spawn needs a tokio runtime: {e}"),
        })?;
        let shared = Arc::new(Shared::default());
        let drain = shared.clone();
        let tick = options.flush_interval.max(Duration::from_millis(50));
        let task = runtime.spawn(async move {
            let mut flush = tokio::time::interval(tick);
            loop {
                tokio::select! {
                    received = events.recv() => {
                        let Some(received) = received else { break };
                        let mut state = drain.lock();
                        let result = match state.writer.as_mut() {
                            Some(w) => w.write(&received),
                            None => {
                                drain.unrecorded.fetch_add(1, Ordering::Relaxed);
                                Ok(())
                            }
                        };
                        if let Err(e) = result {
                            tracing::warn!(error = %e, "chat file write failed; closing it");
                            state.writer = None;
                            state.last_error = Some(e.to_string());
                        }
                    }
                    _ = flush.tick() => {
                        let mut state = drain.lock();
                        let result = state.writer.as_mut().map(XmlChatWriter::flush_if_due);
                        if let Some(Err(e)) = result {
                            tracing::warn!(error = %e, "chat file flush failed; closing it");
                            state.writer = None;
                            state.last_error = Some(e.to_string());
                        }
                    }
                }
            }
        });
        Ok(Self { shared, options, task })
    }

    /// Opens the chat file of a new part at `path` (typically
    /// [`xml_path_for`](crate::xml_path_for) the video). Offsets count from
    /// `part_start`, the instant of the part's first frame; events received
    /// earlier are not written. A part still open is finished first.
    pub fn start_part(
        &self,
        path: &Path,
        part_start: Instant,
        info: &PartInfo,
    ) -> Result<Option<PartSummary>, DanmakuError> {
        let writer = XmlChatWriter::create(path, part_start, info, self.options.clone())?;
        let previous = self.shared.lock().writer.replace(writer);
        previous.map(XmlChatWriter::finish).transpose()
    }

    /// Closes the current part's chat file (flushed and synced); `None` when
    /// no part was open.
    pub fn finish_part(&self) -> Result<Option<PartSummary>, DanmakuError> {
        let writer = self.shared.lock().writer.take();
        writer.map(XmlChatWriter::finish).transpose()
    }

    /// Events that arrived while no part was open.
    pub fn unrecorded(&self) -> u64 {
        self.shared.unrecorded.load(Ordering::Relaxed)
    }

    /// The last write error, which closed the part's file.
    pub fn last_error(&self) -> Option<String> {
        self.shared.lock().last_error.clone()
    }
}

impl Drop for ChatRecorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}
