//! A bounded queue of transmux jobs with a configurable concurrency.

use std::sync::Arc;

use onelive_events::{ErrorData, Event, EventData, VideoTransmuxFinishData};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};

use crate::error::TransmuxError;
use crate::job::{TransmuxJob, TransmuxOptions, TransmuxReport, convert, delete_source};

/// Settings of a [`TransmuxQueue`].
#[derive(Debug, Clone, PartialEq)]
pub struct TransmuxQueueConfig {
    /// Jobs run at the same time (at least 1).
    pub concurrency: usize,
    /// Jobs waiting before [`TransmuxQueue::submit`] waits (at least 1).
    pub capacity: usize,
    /// Tools and checks.
    pub options: TransmuxOptions,
}

impl Default for TransmuxQueueConfig {
    fn default() -> Self {
        TransmuxQueueConfig { concurrency: 1, capacity: 256, options: TransmuxOptions::default() }
    }
}

/// The end of one job.
#[derive(Debug, Clone)]
pub struct TransmuxUpdate {
    /// The job (a caller that persisted it can now forget it).
    pub job: TransmuxJob,
    /// The verified result, or the error message (the source was kept).
    pub result: Result<TransmuxReport, String>,
    /// The event to publish: `video_transmux_finish {input, output}` on
    /// success (sent only after verification, before the source is
    /// deleted), `error` on failure.
    pub event: Event,
}

/// Runs submitted jobs with bounded concurrency and reports each one.
///
/// ```no_run
/// use onelive_transmux::{OutputFormat, TransmuxJob, TransmuxQueue, TransmuxQueueConfig};
/// # async fn demo() -> Result<(), onelive_transmux::TransmuxError> {
/// let (queue, mut updates) = TransmuxQueue::start(TransmuxQueueConfig::default());
/// queue.submit(TransmuxJob::new("rec/a.ts", OutputFormat::Mp4)).await?;
/// queue.shutdown().await; // waits for the queued jobs
/// while let Some(update) = updates.recv().await {
///     println!("{}", update.event.to_json());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TransmuxQueue {
    jobs: mpsc::Sender<TransmuxJob>,
    dispatcher: JoinHandle<()>,
}

impl TransmuxQueue {
    /// Starts the queue; updates arrive on the returned receiver (if it is
    /// dropped, jobs still run).
    pub fn start(config: TransmuxQueueConfig) -> (TransmuxQueue, mpsc::Receiver<TransmuxUpdate>) {
        let (jobs, rx) = mpsc::channel(config.capacity.max(1));
        let (updates_tx, updates) = mpsc::channel(config.capacity.max(1));
        let dispatcher = tokio::spawn(dispatch(config, rx, updates_tx));
        (TransmuxQueue { jobs, dispatcher }, updates)
    }

    /// Queues a job, waiting while the queue is full.
    pub async fn submit(&self, job: TransmuxJob) -> Result<(), TransmuxError> {
        self.jobs.send(job).await.map_err(|_| TransmuxError::QueueClosed)
    }

    /// Queues a job, or fails at once when the queue is full.
    pub fn try_submit(&self, job: TransmuxJob) -> Result<(), TransmuxError> {
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => TransmuxError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => TransmuxError::QueueClosed,
        })
    }

    /// Stops accepting jobs and waits until every queued job has finished.
    pub async fn shutdown(self) {
        drop(self.jobs);
        let _ = self.dispatcher.await;
    }
}

async fn dispatch(
    config: TransmuxQueueConfig,
    mut jobs: mpsc::Receiver<TransmuxJob>,
    updates: mpsc::Sender<TransmuxUpdate>,
) {
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let options = Arc::new(config.options);
    let mut running = JoinSet::new();
    while let Some(job) = jobs.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let options = options.clone();
        let updates = updates.clone();
        running.spawn(async move {
            let update = run_job(job, &options).await;
            let _ = updates.send(update).await;
            drop(permit);
        });
        // Reap finished jobs so the set does not grow.
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}

async fn run_job(job: TransmuxJob, options: &TransmuxOptions) -> TransmuxUpdate {
    let platform = job.metadata.platform.clone();
    let channel = job.metadata.channel.clone();
    let error_event = |message: String| {
        Event::new(EventData::Error(
            ErrorData::new(platform.clone(), channel.clone(), message)
                .with_session_id(job.session_id),
        ))
    };
    match convert(&job, options).await {
        Ok(mut report) => {
            let event = Event::new(EventData::VideoTransmuxFinish(
                VideoTransmuxFinishData::new(
                    platform.clone(),
                    channel.clone(),
                    report.input.to_string_lossy().into_owned(),
                    report.output.to_string_lossy().into_owned(),
                )
                .with_session_id(job.session_id)
                .with_live_info(job.live_info.clone()),
            ));
            if job.delete_source
                && let Err(e) = delete_source(&mut report).await
            {
                tracing::warn!(error = %e, "transmux done but the source could not be deleted");
            }
            TransmuxUpdate { job, result: Ok(report), event }
        }
        Err(e) => {
            let message = format!("transmux of {} failed: {e}", job.input.display());
            tracing::warn!("{message}");
            TransmuxUpdate { event: error_event(message.clone()), job, result: Err(message) }
        }
    }
}
