//! The engine's transmux queue: runs the pending transmux jobs of the
//! [file ledger](crate::store) through the [`Transmuxer`], at most
//! `transmux.concurrency` at a time, retrying a failing job with a backoff
//! before it is given up (the recording is kept). The ledger is the queue's
//! durable side: a job is pending from the commit that finished its file
//! until the one that records its result, so a job cut short by a shutdown
//! or a crash runs again at the next start.
//!
//! (`onelive_transmux::TransmuxQueue` runs the real transmux directly; this
//! queue goes through the [`Transmuxer`] seam, retries, and stops with the
//! engine, which that queue does not.)

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onelive_events::{ErrorData, EventData, VideoTransmuxFinishData};
use onelive_transmux::{OutputFormat, RecordingMetadata, TransmuxJob};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::backoff::{Backoff, Episode};
use crate::config::EngineConfig;
use crate::publisher::Publisher;
use crate::seams::Transmuxer;
use crate::store::{LedgerFile, Store, logged};
use crate::sync::lock;

/// Tries of one transmux job before it is given up (the recording is kept).
const TRANSMUX_ATTEMPTS: u32 = 6;
/// The waits between the tries of a failing transmux job: 5 s, 10 s, 20 s...
const TRANSMUX_RETRY: Backoff =
    Backoff { base: Duration::from_secs(5), cap: Duration::from_secs(600), jitter: 0.2 };

/// A handle on the queue; cheap to clone.
#[derive(Clone)]
pub(crate) struct TransmuxQueue {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    publisher: Arc<Publisher>,
    transmuxer: Arc<dyn Transmuxer>,
    config: Arc<Mutex<EngineConfig>>,
    permits: Arc<Semaphore>,
    running: Mutex<Vec<JoinHandle<()>>>,
    stopping: watch::Receiver<bool>,
}

impl TransmuxQueue {
    pub(crate) fn new(
        store: Arc<Store>,
        publisher: Arc<Publisher>,
        transmuxer: Arc<dyn Transmuxer>,
        config: Arc<Mutex<EngineConfig>>,
        stopping: watch::Receiver<bool>,
    ) -> TransmuxQueue {
        let concurrency = lock(&config).transmux.concurrency;
        TransmuxQueue {
            inner: Arc::new(Inner {
                store,
                publisher,
                transmuxer,
                config,
                permits: Arc::new(Semaphore::new(concurrency)),
                running: Mutex::new(Vec::new()),
                stopping,
            }),
        }
    }

    /// True when finished files are transmuxed (`transmux.enabled`).
    pub(crate) fn enabled(&self) -> bool {
        lock(&self.inner.config).transmux.enabled
    }

    /// Resumes the jobs the ledger holds as pending (left by the last run).
    pub(crate) fn resume(&self) {
        let pending = match self.inner.store.transmux_pending() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot resume the transmux jobs");
                return;
            }
        };
        for file in pending {
            if file.path.exists() {
                tracing::info!(input = %file.path.display(), "resuming transmux job");
                self.run(file);
            } else {
                logged(self.inner.store.transmux_failed(&file.path, "the recording file is gone"));
            }
        }
    }

    /// Runs the transmux of a file the ledger holds as pending (its
    /// `file_finished` said so).
    pub(crate) fn run(&self, file: LedgerFile) {
        let inner = self.inner.clone();
        let handle = tokio::spawn(async move { inner.run(file).await });
        let mut running = lock(&self.inner.running);
        running.retain(|h| !h.is_finished());
        running.push(handle);
    }

    /// Jobs not finished yet.
    pub(crate) fn pending(&self) -> Vec<LedgerFile> {
        self.inner.store.transmux_pending().unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot list the transmux queue");
            Vec::new()
        })
    }

    /// Waits for the running jobs, at most `timeout`; false when some were
    /// still running (they stay pending and resume at the next start).
    pub(crate) async fn drain(&self, timeout: Duration) -> bool {
        let running: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.inner.running));
        let all = async {
            for h in running {
                let _ = h.await;
            }
        };
        tokio::time::timeout(timeout, all).await.is_ok()
    }
}

impl Inner {
    fn job(&self, file: &LedgerFile) -> TransmuxJob {
        let (format, delete_source) = {
            let c = lock(&self.config);
            (c.transmux.format.clone(), c.transmux.delete_source)
        };
        let format = if format == "mkv" { OutputFormat::Mkv } else { OutputFormat::Mp4 };
        let mut job = TransmuxJob::new(file.path.clone(), format);
        job.delete_source = delete_source;
        job.session_id = file.session_id;
        job.live_info = file.live_info.clone();
        let info = file.live_info.clone().unwrap_or_default();
        job.metadata = RecordingMetadata {
            title: info.title,
            uname: info.uname,
            channel: file.channel.clone(),
            platform: file.platform.clone(),
            start_time: info.start_time,
        };
        job
    }

    async fn run(&self, file: LedgerFile) {
        let mut stopping = self.stopping.clone();
        let mut episode = Episode::default();
        loop {
            let result = {
                let Ok(_permit) = self.permits.clone().acquire_owned().await else {
                    return;
                };
                let job = self.job(&file);
                self.transmuxer.transmux(&job).await
            };
            let e = match result {
                Ok(output) => {
                    self.publisher.counters().transmux_done.fetch_add(1, Ordering::Relaxed);
                    logged(self.store.transmux_done(&file.path, &output));
                    self.publisher
                        .publish(EventData::VideoTransmuxFinish(
                            VideoTransmuxFinishData::new(
                                file.platform.clone(),
                                file.channel.clone(),
                                file.path.display().to_string(),
                                output.display().to_string(),
                            )
                            .with_session_id(file.session_id)
                            .with_live_info(file.live_info.clone()),
                        ))
                        .await;
                    return;
                }
                Err(e) => e,
            };
            self.publisher.counters().transmux_failed.fetch_add(1, Ordering::Relaxed);
            let failures = episode.fail();
            let give_up = failures >= TRANSMUX_ATTEMPTS;
            if episode.report() {
                let retry = if give_up {
                    String::new()
                } else {
                    format!("; retrying (at most {TRANSMUX_ATTEMPTS} attempts)")
                };
                self.publisher
                    .publish(EventData::Error(
                        ErrorData::new(
                            file.platform.clone(),
                            file.channel.clone(),
                            format!(
                                "transmux of {} failed (the recording is kept): {e}{retry}",
                                file.path.display()
                            ),
                        )
                        .with_session_id(file.session_id),
                    ))
                    .await;
            } else {
                tracing::warn!(input = %file.path.display(), error = %e, failures, "transmux failed again");
            }
            if give_up {
                tracing::error!(input = %file.path.display(), failures, "transmux given up; the recording is kept");
                logged(self.store.transmux_failed(&file.path, &e.to_string()));
                return;
            }
            let delay = TRANSMUX_RETRY.delay(failures, rand::random::<f64>());
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                // Shutting down: the job stays pending and resumes at the next start.
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
    }
}
