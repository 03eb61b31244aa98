//! Failing recordings and transmux jobs are retried after growing waits,
//! with one `error` event per failure episode (issue 16, item 1).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use onelive_engine::{Engine, EngineParts};
use onelive_events::EventData;

use crate::engine_flow::{config, count};
use crate::fakes::{FailingRecorder, Fakes, FlakyTransmuxer, LosingRecorder, wait_for};

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
    assert_eq!(transmuxer.calls.lock().unwrap().len(), 2);
    let errs = errors(&f);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("No space left on device") && errs[0].contains("retrying"),
        "{errs:?}"
    );
    assert!(engine.pending_transmux_jobs().is_empty());
    engine.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_transmux_failing_twice_waits_longer_before_its_third_try_and_reports_once() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let transmuxer = FlakyTransmuxer::default();
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
    let errors = errors(&f);
    assert_eq!(errors.len(), 1, "one error event for the episode: {errors:?}");
    assert!(errors[0].contains("No space left on device"), "{errors:?}");
    engine.shutdown(Duration::from_secs(5)).await;
}

async fn losing_source(still_live: bool) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let recorder = LosingRecorder::default();
    let parts = EngineParts { recorder: Arc::new(recorder.clone()), ..f.parts() };
    let mut c = config(dir.path(), &["jane"]);
    // The next scheduled poll is far: the one that judges the loss is the
    // poll made at once when the recording ends.
    c.watch.poll_interval = onelive_engine::HumanDuration(Duration::from_secs(30));
    let engine = Engine::start(c, None, parts).await.unwrap();
    f.source.live("jane", "t", "c");
    wait_for("video_file_create", Duration::from_secs(40), || {
        count(&f.delivery.types(), "video_file_create") == 1
    })
    .await;
    if !still_live {
        f.source.offline("jane");
    }
    recorder.lose.notify_one();
    if still_live {
        // A real loss: reported, and the next part records.
        wait_for("part 2", Duration::from_secs(20), || {
            count(&f.delivery.types(), "video_file_create") == 2
        })
        .await;
    } else {
        wait_for("live_end", Duration::from_secs(20), || {
            count(&f.delivery.types(), "live_end") == 1
        })
        .await;
    }
    engine.shutdown(Duration::from_secs(5)).await;
    errors(&f)
}

#[tokio::test]
async fn a_source_lost_at_the_end_of_a_stream_is_no_error() {
    let errs = losing_source(false).await;
    assert!(errs.is_empty(), "{errs:?}");
}

#[tokio::test]
async fn a_source_lost_while_the_channel_is_live_is_one_error() {
    let errs = losing_source(true).await;
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("lost the stream source"), "{errs:?}");
}
