//! Failing recordings and transmux jobs are retried after growing waits,
//! with one `error` event per failure episode (issue 16, item 1).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use onelive_engine::{Engine, EngineParts};
use onelive_events::EventData;

use crate::engine_flow::{config, count};
use crate::fakes::{FailingRecorder, Fakes, FlakyTransmuxer, wait_for};

fn errors(f: &Fakes) -> Vec<String> {
    f.delivery
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.data {
            EventData::Error(d) => Some(d.error.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_recording_that_keeps_failing_is_retried_later_and_later_with_one_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let recorder = FailingRecorder::default();
    recorder.failing.store(true, Ordering::SeqCst);
    let parts = EngineParts { recorder: Arc::new(recorder.clone()), ..f.parts() };
    // Poll interval 200 ms: the retries wait 200 ms, 400 ms, 800 ms, 1.6 s...
    // (each up to 20 % less), where they waited 200 ms every time before.
    let engine = Engine::start(config(dir.path(), &["gina"]), None, parts).await.unwrap();
    f.source.live("gina", "t", "c");
    wait_for("5 tries", Duration::from_secs(60), || recorder.starts.lock().unwrap().len() >= 5)
        .await;
    let starts = recorder.starts.lock().unwrap().clone();
    for (k, pair) in starts.windows(2).take(4).enumerate() {
        let gap = pair[1] - pair[0];
        let least = Duration::from_millis(160 << k);
        assert!(
            gap >= least,
            "try {} came {gap:?} after the last one, expected >= {least:?}",
            k + 2
        );
    }
    // One episode, one error, however many tries.
    let errs = errors(&f);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("No space left on device"), "{errs:?}");
    assert_eq!(count(&f.delivery.types(), "video_file_create"), 0);
    let view = &engine.channels()[0].view;
    assert!(view.last_error.as_deref().unwrap().contains("before writing a file"), "{view:?}");

    // Space is back: the next try records, still without a second error.
    recorder.failing.store(false, Ordering::SeqCst);
    wait_for("a file", Duration::from_secs(60), || {
        count(&f.delivery.types(), "video_file_create") == 1
    })
    .await;
    assert_eq!(errors(&f).len(), 1);
    engine.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_failed_transmux_is_retried_and_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let transmuxer = FlakyTransmuxer::default();
    *transmuxer.failures.lock().unwrap() = 1;
    let parts = EngineParts { transmuxer: Arc::new(transmuxer.clone()), ..f.parts() };
    let engine = Engine::start(config(dir.path(), &["hank"]), None, parts).await.unwrap();
    f.source.live("hank", "t", "c");
    wait_for("video_file_create", Duration::from_secs(10), || {
        count(&f.delivery.types(), "video_file_create") == 1
    })
    .await;
    f.source.offline("hank");
    wait_for("the retried transmux", Duration::from_secs(60), || {
        count(&f.delivery.types(), "video_transmux_finish") == 1
    })
    .await;
    assert_eq!(*transmuxer.calls.lock().unwrap(), 2);
    let errs = errors(&f);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("No space left on device") && errs[0].contains("retrying"),
        "{errs:?}"
    );
    assert!(engine.pending_transmux_jobs().is_empty());
    engine.shutdown(Duration::from_secs(5)).await;
}
