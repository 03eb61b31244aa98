//! Signals: SIGTERM finalizes the recording and delivers `app_exit`;
//! SIGKILL mid-recording loses nothing that was announced, and the next
//! start continues the open session (or ends it when the channel is
//! offline) and delivers what was not delivered.

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
    wait_for_recorded(d, 2.0).await;
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
    assert_eq!(stored(d).transmux_pending().unwrap(), []);
}

/// The state store the runs in `d` left (opened after they exited).
fn stored(d: &std::path::Path) -> onelive_engine::Store {
    onelive_engine::Store::open(&d.join(".onelive")).unwrap()
}

/// The session id of an event, if it has one.
fn session_of(e: &onelive_events::Event) -> Option<onelive_events::Uuid> {
    match &e.data {
        EventData::LiveStart(d) | EventData::LiveEnd(d) => d.session_id,
        EventData::VideoFileCreate(d) => d.session_id,
        EventData::VideoFileFinish(d) => d.session_id,
        _ => None,
    }
}

/// Starts run 1 with the receiver down and SIGKILLs it mid-recording.
async fn killed_mid_recording(d: &std::path::Path, config: &std::path::Path, receiver: &Receiver) {
    *receiver.down.lock().unwrap() = true;
    let mut child = spawn_run(config, d, 1);
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
    let open = stored(d).sessions().unwrap();
    assert!(
        open.len() == 1 && open[0].next_part >= 2,
        "the open session was not persisted: {open:?}"
    );
    *receiver.down.lock().unwrap() = false;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_then_restart_while_live_continues_the_session_and_delivers_the_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let mock = BiliMock::start(room(origin_host(&origin))).await;
    let receiver = Receiver::start().await;
    let config = write_config(d, &mock, &receiver, "3s");
    killed_mid_recording(d, &config, &receiver).await;

    let mut child = spawn_run(&config, d, 2);
    wait_for("the session's second part", Duration::from_secs(120), d, || {
        receiver.count("video_file_create") == 2
    })
    .await;
    // The first run's events arrive from the outbox (their first retry is due ~5 s after the failure).
    wait_for("two app_launch", Duration::from_secs(30), d, || receiver.count("app_launch") == 2)
        .await;
    wait_for_recorded(d, 1.5).await;
    signal(&child, Signal::SIGTERM);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).await.success(), "{}", log(d, 2));

    let events = receiver.snapshot();
    let types: Vec<&str> = events.iter().map(|e| e.type_name()).collect();
    // One session across the crash: one live_start, no live_end (the channel is still live).
    assert_eq!(types.iter().filter(|t| **t == "live_start").count(), 1, "{types:?}");
    assert_eq!(types.iter().filter(|t| **t == "live_end").count(), 0, "{types:?}");
    assert_eq!(types.iter().filter(|t| **t == "app_exit").count(), 1, "{types:?}");
    assert_eq!(*receiver.rejected.lock().unwrap(), 0);
    let session = events
        .iter()
        .find(|e| e.type_name() == "live_start")
        .and_then(session_of)
        .expect("live_start has a session");
    let created: Vec<(String, Option<onelive_events::Uuid>)> = events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::VideoFileCreate(d) => Some((d.path.clone(), d.session_id)),
            _ => None,
        })
        .collect();
    assert_eq!(created.len(), 2, "{types:?}");
    assert!(created.iter().all(|(_, s)| *s == Some(session)), "{created:?} vs {session}");
    // The next part: another file of the same session (the backlog may arrive after run 2's events).
    let mut paths: Vec<&str> = created.iter().map(|(p, _)| p.as_str()).collect();
    paths.sort_by_key(|p| p.contains("_part2"));
    assert!(paths[0].contains("_part1") && paths[1].contains("_part2"), "{created:?}");
    // Every file announced as finished is playable (the killed run's file is announced
    // by the next start), all in the same session.
    let finished = assert_announced_files_valid(&events);
    assert!(finished >= 2, "{types:?}");
    assert!(
        events
            .iter()
            .filter(|e| e.type_name() == "video_file_finish")
            .all(|e| session_of(e) == Some(session)),
        "{types:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_then_restart_while_offline_ends_the_old_session() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let mock = BiliMock::start(room(origin_host(&origin))).await;
    let receiver = Receiver::start().await;
    let config = write_config(d, &mock, &receiver, "3s");
    killed_mid_recording(d, &config, &receiver).await;
    mock.set(|r| r.live = false);

    let restarted = std::time::Instant::now();
    let mut child = spawn_run(&config, d, 2);
    wait_for("live_end of the old session", Duration::from_secs(40), d, || {
        receiver.count("live_end") == 1
    })
    .await;
    let ended_after = restarted.elapsed();
    signal(&child, Signal::SIGTERM);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).await.success(), "{}", log(d, 2));

    let events = receiver.snapshot();
    let types: Vec<&str> = events.iter().map(|e| e.type_name()).collect();
    assert_eq!(types.iter().filter(|t| **t == "live_start").count(), 1, "{types:?}");
    let start = events.iter().find(|e| e.type_name() == "live_start").unwrap();
    let end = events.iter().find(|e| e.type_name() == "live_end").unwrap();
    assert!(session_of(start).is_some());
    assert_eq!(session_of(start), session_of(end), "{types:?}");
    let EventData::LiveEnd(data) = &end.data else { unreachable!() };
    assert_eq!(data.live_info.status, onelive_events::LiveStatus::Offline);
    // The usual debounce (3 s) applies before the live_end.
    assert!(ended_after >= Duration::from_secs(3), "live_end after {ended_after:?}");
    // Nothing is left open for a third start.
    let open = stored(d).sessions().unwrap();
    assert!(open.is_empty(), "{open:?}");
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
    // The first signal has been taken (the graceful shutdown is under way) before the second.
    wait_for("the first SIGTERM to be handled", Duration::from_secs(20), d, || {
        log(d, 1).contains("shutting down")
    })
    .await;
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
    let status = wait_exit(&mut child, Duration::from_secs(20)).await;
    assert!(status.success(), "{status:?}\n{}", log(d, 1));
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

/// The pids of `parent`'s children whose command name is `name`.
fn children_named(parent: u32, name: &str) -> Vec<u32> {
    children_of(parent).into_iter().filter(|(_, comm)| comm == name).map(|(pid, _)| pid).collect()
}

/// Whether `pid` still runs (a zombie waiting for its reaper does not write).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, r)| !r.starts_with('Z') && !r.starts_with('X')))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_takes_the_recording_ffmpeg_down_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let mock = BiliMock::start(room(origin_host(&origin))).await;
    let receiver = Receiver::start().await;
    let config = write_config(d, &mock, &receiver, "3s");
    // The ffmpeg engine: the native one records in-process.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n[recording]\nengine = \"ffmpeg\"\n")).unwrap();
    let mut child = spawn_run(&config, d, 1);
    let mut ffmpeg = Vec::new();
    wait_for("ffmpeg recording the stream", Duration::from_secs(60), d, || {
        ffmpeg = children_named(child.id(), "ffmpeg");
        !ffmpeg.is_empty()
    })
    .await;
    signal(&child, Signal::SIGKILL);
    let _ = wait_exit(&mut child, Duration::from_secs(10)).await;
    // Before the fix the orphan kept recording into the part until the stream ended.
    wait_for("ffmpeg to die with oneliverec", Duration::from_secs(20), d, || {
        ffmpeg.iter().all(|pid| !running(*pid))
    })
    .await;
}
