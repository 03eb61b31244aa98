//! Signals: SIGTERM finalizes the recording and delivers `app_exit`;
//! SIGKILL mid-recording loses nothing that was announced, and the next
//! start records again and delivers what was not delivered.

use std::time::Duration;

use nix::sys::signal::Signal;
use onelive_events::EventData;
use onelive_synthetic::{SyntheticOptions, SyntheticOrigin};

use crate::e2e_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finalizes_files_and_delivers_app_exit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let mock = BiliMock::start(room(origin_host(&origin))).await;
    let receiver = Receiver::start().await;
    let config = write_config(d, &mock, &receiver, "3s");
    let mut child = spawn_run(&config, d, 1);
    wait_for("video_file_create", Duration::from_secs(30), d, || {
        receiver.count("video_file_create") == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    signal(&child, Signal::SIGTERM);
    let status = wait_exit(&mut child, Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}");
    let types = receiver.types();
    assert_eq!(
        types,
        [
            "app_launch",
            "live_start",
            "video_file_create",
            "video_file_finish",
            "video_transmux_finish",
            "app_exit"
        ],
        "log:\n{}",
        log(d, 1)
    );
    assert_eq!(assert_announced_files_valid(&receiver.snapshot()), 2);
    // Nothing is left to resume.
    let queue = std::fs::read_to_string(d.join(".onelive/transmux-queue.json")).unwrap();
    assert_eq!(queue.trim(), "[]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_then_restart_records_again_and_delivers_the_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let mock = BiliMock::start(room(origin_host(&origin))).await;
    let receiver = Receiver::start().await;
    *receiver.down.lock().unwrap() = true;
    let config = write_config(d, &mock, &receiver, "3s");
    let mut child = spawn_run(&config, d, 1);
    // Wait until the first file is being written (its create event is in the outbox).
    wait_for("a recording file", Duration::from_secs(30), d, || {
        walk(&d.join("rec")).iter().any(|p| {
            p.extension().is_some_and(|e| e == "ts") && p.metadata().is_ok_and(|m| m.len() > 0)
        })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    signal(&child, Signal::SIGKILL);
    let _ = wait_exit(&mut child, Duration::from_secs(10)).await;
    assert!(receiver.types().is_empty(), "the receiver was down");

    *receiver.down.lock().unwrap() = false;
    let mut child = spawn_run(&config, d, 2);
    wait_for("two sessions recording", Duration::from_secs(40), d, || {
        receiver.count("video_file_create") == 2
    })
    .await;
    // The first run's events arrive from the outbox (their first retry is due ~5 s after the failure).
    wait_for("two app_launch", Duration::from_secs(30), d, || receiver.count("app_launch") == 2)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    signal(&child, Signal::SIGTERM);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).await.success(), "{}", log(d, 2));

    let events = receiver.snapshot();
    let types: Vec<&str> = events.iter().map(|e| e.type_name()).collect();
    assert_eq!(types.iter().filter(|t| **t == "live_start").count(), 2, "{types:?}");
    assert_eq!(types.iter().filter(|t| **t == "app_exit").count(), 1, "{types:?}");
    assert_eq!(*receiver.rejected.lock().unwrap(), 0);
    // Every file announced as finished is playable (the killed run's file was never announced as finished).
    let finished = assert_announced_files_valid(&events);
    assert!(finished >= 2, "{types:?}");
    let created: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::VideoFileCreate(d) => Some(d.path.clone()),
            _ => None,
        })
        .collect();
    assert_ne!(created[0], created[1]);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let mock = BiliMock::start(room(origin_host(&origin))).await;
    let receiver = Receiver::start().await;
    // A receiver that is down makes the graceful shutdown wait for its deadline.
    *receiver.down.lock().unwrap() = true;
    let config = write_config(d, &mock, &receiver, "3s");
    let mut child = spawn_run(&config, d, 1);
    wait_for("a recording file", Duration::from_secs(30), d, || {
        walk(&d.join("rec")).iter().any(|p| p.metadata().is_ok_and(|m| m.len() > 0))
    })
    .await;
    signal(&child, Signal::SIGTERM);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = std::time::Instant::now();
    signal(&child, Signal::SIGTERM);
    let status = wait_exit(&mut child, Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(130), "{status:?}\n{}", log(d, 1));
    assert!(second.elapsed() < Duration::from_secs(5), "took {:?}", second.elapsed());
    assert!(log(d, 1).contains("second SIGTERM"), "{}", log(d, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_exit_that_cannot_be_delivered_in_time_is_delivered_by_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let mut r = room(origin_host(&origin));
    r.live = false;
    let mock = BiliMock::start(r).await;
    let receiver = Receiver::start().await;
    *receiver.down.lock().unwrap() = true;
    let config = write_config(d, &mock, &receiver, "3s");
    let mut child = spawn_run_with(&config, d, 1, "2s");
    wait_for("the first run to start", Duration::from_secs(20), d, || {
        log(d, 1).contains("event=app_launch")
    })
    .await;
    signal(&child, Signal::SIGTERM);
    let started = std::time::Instant::now();
    assert!(wait_exit(&mut child, Duration::from_secs(20)).await.success());
    assert!(started.elapsed() < Duration::from_secs(10), "the shutdown deadline was not kept");
    assert!(receiver.types().is_empty());

    *receiver.down.lock().unwrap() = false;
    let mut child = spawn_run(&config, d, 2);
    wait_for("the first run's app_exit", Duration::from_secs(30), d, || {
        receiver.count("app_exit") == 1
    })
    .await;
    signal(&child, Signal::SIGTERM);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).await.success());
    assert_eq!(receiver.count("app_launch"), 2, "{:?}", receiver.types());
    assert_eq!(receiver.count("app_exit"), 2, "{:?}", receiver.types());
}
