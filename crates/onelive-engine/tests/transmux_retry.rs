//! A transmux job that keeps failing is retried after growing waits, with
//! one `error` event for the whole episode (issue 16, item 1).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use onelive_engine::{Engine, EngineError, EngineParts, Transmuxer};
use onelive_events::EventData;
use onelive_transmux::TransmuxJob;

use crate::engine_flow::{config, count};
use crate::fakes::{FakeTransmuxer, Fakes, wait_for};

/// Fails its first `failures` jobs with ENOSPC; records when each call came.
#[derive(Clone, Default)]
struct TimedFlakyTransmuxer {
    failures: Arc<Mutex<u32>>,
    calls: Arc<Mutex<Vec<Instant>>>,
}

#[async_trait]
impl Transmuxer for TimedFlakyTransmuxer {
    async fn transmux(&self, job: &TransmuxJob) -> Result<PathBuf, EngineError> {
        self.calls.lock().unwrap().push(Instant::now());
        {
            let mut left = self.failures.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return Err(EngineError::Transmux(onelive_transmux::TransmuxError::Io {
                    context: format!("cannot write {}", job.input.display()),
                    source: std::io::Error::other("No space left on device"),
                }));
            }
        }
        FakeTransmuxer.transmux(job).await
    }
}

#[tokio::test]
async fn a_transmux_failing_twice_waits_longer_before_its_third_try_and_reports_once() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let transmuxer = TimedFlakyTransmuxer::default();
    *transmuxer.failures.lock().unwrap() = 2;
    let parts = EngineParts { transmuxer: Arc::new(transmuxer.clone()), ..f.parts() };
    let engine = Engine::start(config(dir.path(), &["hank"]), None, parts).await.unwrap();
    f.source.live("hank", "t", "c");
    wait_for("video_file_create", Duration::from_secs(60), || {
        count(&f.delivery.types(), "video_file_create") == 1
    })
    .await;
    f.source.offline("hank");
    wait_for("the twice-retried transmux", Duration::from_secs(120), || {
        count(&f.delivery.types(), "video_transmux_finish") == 1
    })
    .await;
    let calls = transmuxer.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3, "two failures, then the success");
    // The schedule is 5 s, then 10 s, each shortened by at most 20 % jitter;
    // a loaded machine only makes the gaps longer.
    let (first, second) = (calls[1] - calls[0], calls[2] - calls[1]);
    assert!(first >= Duration::from_secs(4), "first retry after {first:?}");
    assert!(second >= Duration::from_secs(8), "second retry after {second:?} (did not grow)");
    let errors: Vec<String> = f
        .delivery
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.data {
            EventData::Error(d) => Some(d.error.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "one error event for the episode: {errors:?}");
    assert!(errors[0].contains("No space left on device"), "{errors:?}");
    engine.shutdown(Duration::from_secs(5)).await;
}
