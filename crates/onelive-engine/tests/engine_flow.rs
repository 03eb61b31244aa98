//! The engine end to end with in-memory seams: sessions, parts, changes,
//! caps, transmux resume, shutdown.

use std::time::Duration;

use onelive_engine::{ChannelConfig, Engine, HumanDuration};
use onelive_events::EventData;

use crate::fakes::{Fakes, wait_for};
use crate::sequences::{SESSION, SESSION_CUT_BY_SHUTDOWN};

pub(crate) use crate::fakes::config;

/// The scenario most tests start from: a temporary folder, the fakes, and
/// an engine watching `channels` (`https://fake.test/<name>`).
async fn started(channels: &[&str]) -> (tempfile::TempDir, Fakes, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let engine = Engine::start(config(dir.path(), channels), None, f.parts()).await.unwrap();
    (dir, f, engine)
}

pub(crate) fn count(types: &[String], t: &str) -> usize {
    types.iter().filter(|x| *x == t).count()
}

#[tokio::test]
async fn a_session_records_transmuxes_and_ends_in_order() {
    let (_dir, f, engine) = started(&["alice"]).await;
    f.source.live("alice", "hello", "Games");
    wait_for("video_file_create", Duration::from_secs(5), || {
        count(&f.delivery.types(), "video_file_create") == 1
    })
    .await;
    let snap = &engine.channels()[0];
    assert_eq!(snap.view.state, "live");
    assert!(snap.view.recording);
    assert!(snap.view.current_file.as_deref().unwrap().ends_with("_part1.ts"));
    f.source.offline("alice");
    wait_for("live_end", Duration::from_secs(5), || count(&f.delivery.types(), "live_end") == 1)
        .await;
    assert!(engine.shutdown(Duration::from_secs(5)).await);
    let events = f.delivery.events.lock().unwrap().clone();
    let types: Vec<_> = events.iter().map(|e| e.type_name().to_owned()).collect();
    assert_eq!(types, SESSION);
    let session = events[1].data.session_id().unwrap();
    for e in &events[1..6] {
        assert_eq!(e.data.session_id(), Some(session), "{}", e.type_name());
    }
    let EventData::VideoTransmuxFinish(t) = &events[4].data else { panic!() };
    assert!(std::path::Path::new(&t.output).exists());
    assert!(t.output.ends_with(".mp4"));
    let EventData::VideoFileFinish(fin) = &events[3].data else { panic!() };
    assert_eq!(fin.filesize, 10);
    assert_eq!(fin.live_info.as_ref().unwrap().title, "hello");
    let EventData::LiveEnd(end) = &events[5].data else { panic!() };
    assert_eq!(end.live_info.status, onelive_events::LiveStatus::Offline);
    assert_eq!(end.url, "https://fake.test/alice");
}

#[tokio::test]
async fn a_blip_shorter_than_the_debounce_continues_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let mut c = config(dir.path(), &["bob"]);
    c.watch.debounce = HumanDuration(Duration::from_secs(3));
    let engine = Engine::start(c, None, f.parts()).await.unwrap();
    f.source.live("bob", "t", "c");
    wait_for("first file", Duration::from_secs(5), || {
        count(&f.delivery.types(), "video_file_create") == 1
    })
    .await;
    f.source.offline("bob");
    wait_for("first file finished", Duration::from_secs(5), || {
        count(&f.delivery.types(), "video_file_finish") == 1
    })
    .await;
    assert_eq!(engine.channels()[0].view.state, "ending");
    f.source.live("bob", "t", "c");
    wait_for("second file", Duration::from_secs(5), || {
        count(&f.delivery.types(), "video_file_create") == 2
    })
    .await;
    engine.shutdown(Duration::from_secs(5)).await;
    let events = f.delivery.events.lock().unwrap().clone();
    let types: Vec<_> = events.iter().map(|e| e.type_name().to_owned()).collect();
    assert_eq!(count(&types, "live_start"), 1, "{types:?}");
    assert_eq!(count(&types, "live_end"), 0, "{types:?}");
    let sessions: std::collections::BTreeSet<_> =
        events.iter().filter_map(|e| e.data.session_id()).collect();
    assert_eq!(sessions.len(), 1);
    let started = f.recorder.started.lock().unwrap().clone();
    assert!(started[0].to_string_lossy().ends_with("_part1.ts"));
    assert!(started[1].to_string_lossy().ends_with("_part2.ts"));
}

#[tokio::test]
async fn title_and_category_changes_are_published_with_old_and_new() {
    let (_dir, f, engine) = started(&["carol"]).await;
    f.source.live("carol", "morning", "Chatting");
    wait_for("live_start", Duration::from_secs(5), || {
        count(&f.delivery.types(), "live_start") == 1
    })
    .await;
    f.source.live("carol", "evening", "Music");
    wait_for("changes", Duration::from_secs(5), || {
        count(&f.delivery.types(), "category_change") == 1
    })
    .await;
    engine.shutdown(Duration::from_secs(5)).await;
    let events = f.delivery.events.lock().unwrap().clone();
    let title = events.iter().find_map(|e| match &e.data {
        EventData::TitleChange(d) => Some(d.clone()),
        _ => None,
    });
    let title = title.expect("title_change");
    assert_eq!(title.old_live_info.title, "morning");
    assert_eq!(title.new_live_info.title, "evening");
    assert!(title.session_id.is_some());
    let cat = events.iter().find_map(|e| match &e.data {
        EventData::CategoryChange(d) => Some(d.clone()),
        _ => None,
    });
    let cat = cat.expect("category_change");
    assert_eq!(cat.old_live_info.categories, ["Chatting"]);
    assert_eq!(cat.new_live_info.categories, ["Music"]);
}

#[tokio::test]
async fn the_recording_cap_is_global_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let mut c = config(dir.path(), &["d1", "d2"]);
    c.watch.max_concurrent_recordings = 1;
    let engine = Engine::start(c, None, f.parts()).await.unwrap();
    f.source.live("d1", "t", "c");
    f.source.live("d2", "t", "c");
    wait_for("cap error", Duration::from_secs(5), || count(&f.delivery.types(), "error") >= 1)
        .await;
    assert_eq!(engine.active_recordings(), 1);
    let events = f.delivery.events.lock().unwrap().clone();
    let err = events
        .iter()
        .find_map(|e| match &e.data {
            EventData::Error(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap();
    assert!(err.error.contains("max_concurrent_recordings"), "{}", err.error);
    assert!(err.session_id.is_some());
    engine.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn failing_polls_raise_one_error_and_keep_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let mut c = config(dir.path(), &["eve"]);
    c.watch.max_backoff = HumanDuration(Duration::from_millis(200));
    let engine = Engine::start(c, None, f.parts()).await.unwrap();
    f.source.live("eve", "t", "c");
    wait_for("live_start", Duration::from_secs(5), || {
        count(&f.delivery.types(), "live_start") == 1
    })
    .await;
    f.source.set("eve", onelive_engine::seams::PollResult::Failed("connection refused".into()));
    wait_for("error", Duration::from_secs(5), || count(&f.delivery.types(), "error") == 1).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let types = f.delivery.types();
    assert_eq!(count(&types, "error"), 1, "{types:?}");
    assert_eq!(count(&types, "live_end"), 0, "{types:?}");
    assert_eq!(engine.channels()[0].view.state, "live");
    assert!(
        engine.channels()[0].view.last_error.as_deref().unwrap().contains("connection refused")
    );
    engine.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn shutdown_finalizes_the_recording_without_live_end() {
    let (_dir, f, engine) = started(&["frank"]).await;
    f.source.live("frank", "t", "c");
    wait_for("recording", Duration::from_secs(5), || {
        count(&f.delivery.types(), "video_file_create") == 1
    })
    .await;
    engine.shutdown(Duration::from_secs(5)).await;
    let types = f.delivery.types();
    assert_eq!(types, SESSION_CUT_BY_SHUTDOWN);
}

#[tokio::test]
async fn persisted_transmux_jobs_resume_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let input = dir.path().join("left-over.ts");
    std::fs::write(&input, b"data").unwrap();
    let job = serde_json::json!([{ "input": input, "platform": "fake", "channel": "gina", "session_id": null, "live_info": null }]);
    std::fs::write(state.join("transmux-queue.json"), job.to_string()).unwrap();
    let f = Fakes::new();
    let engine = Engine::start(config(dir.path(), &[]), None, f.parts()).await.unwrap();
    wait_for("transmux", Duration::from_secs(5), || {
        count(&f.delivery.types(), "video_transmux_finish") == 1
    })
    .await;
    assert!(dir.path().join("left-over.mp4").exists());
    assert!(engine.pending_transmux_jobs().is_empty());
    // The queue of the older version was imported into the store and set aside.
    assert!(engine.store().transmux_pending().unwrap().is_empty());
    assert!(!state.join("transmux-queue.json").exists());
    assert!(state.join("transmux-queue.json.migrated").exists());
    let recordings = engine.recordings(10);
    assert_eq!(recordings[0].path, input.display().to_string());
    assert_eq!(recordings[0].transmux, onelive_engine::recordings::TransmuxState::Done);
    engine.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn notify_only_channels_do_not_record_and_disable_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let mut c = config(dir.path(), &["hal"]);
    c.channels[0].record = false;
    c.watch.debounce = HumanDuration(Duration::from_secs(60));
    let engine = Engine::start(c, None, f.parts()).await.unwrap();
    f.source.live("hal", "t", "c");
    wait_for("live_start", Duration::from_secs(5), || {
        count(&f.delivery.types(), "live_start") == 1
    })
    .await;
    let id = engine.channels()[0].id.clone();
    engine.set_enabled(&id, false).await.unwrap();
    assert_eq!(f.delivery.types(), ["app_launch", "live_start", "live_end"]);
    assert!(f.recorder.started.lock().unwrap().is_empty());
    assert_eq!(engine.channels()[0].view.state, "disabled");
    engine.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn files_left_open_by_a_crash_are_announced_or_reported_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let good = dir.path().join("left-open.ts");
    let made = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x90:rate=10",
            "-t",
            "1",
        ])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts"])
        .arg(&good)
        .status()
        .unwrap();
    assert!(made.success());
    let bad = dir.path().join("garbage.ts");
    std::fs::write(&bad, b"not a video").unwrap();
    let session = onelive_events::Uuid::now_v7();
    let list = serde_json::json!([
        { "path": good, "platform": "fake", "channel": "ivy", "session_id": session, "live_info": null },
        { "path": bad, "platform": "fake", "channel": "ivy", "session_id": session, "live_info": null },
        { "path": dir.path().join("gone.ts"), "platform": "fake", "channel": "ivy", "session_id": null, "live_info": null }
    ]);
    std::fs::write(state.join("open-files.json"), list.to_string()).unwrap();
    let f = Fakes::new();
    let mut c = config(dir.path(), &[]);
    c.watch.stall_timeout = HumanDuration(Duration::from_secs(1));
    let engine = Engine::start(c, None, f.parts()).await.unwrap();
    wait_for("recovery", Duration::from_secs(10), || {
        count(&f.delivery.types(), "video_transmux_finish") == 1
            && count(&f.delivery.types(), "error") == 1
    })
    .await;
    let events = f.delivery.events.lock().unwrap().clone();
    let fin = events
        .iter()
        .find_map(|e| match &e.data {
            EventData::VideoFileFinish(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(fin.path, good.display().to_string());
    assert_eq!(fin.session_id, Some(session));
    assert!(fin.duration > 0.5, "{}", fin.duration);
    let err = events
        .iter()
        .find_map(|e| match &e.data {
            EventData::Error(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        err.error.contains("garbage.ts") && err.error.contains("not readable"),
        "{}",
        err.error
    );
    assert!(bad.exists(), "an unreadable leftover is kept");
    assert_eq!(count(&f.delivery.types(), "video_file_finish"), 1);
    // Every file of the older version's list was checked: none is left open.
    assert!(engine.store().left_open().unwrap().is_empty());
    assert!(state.join("open-files.json.migrated").exists());
    engine.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_session_open_at_shutdown_continues_after_a_restart_or_ends_when_its_channel_is_gone() {
    let (dir, f, engine) = started(&["alice"]).await;
    f.source.live("alice", "hello", "Games");
    wait_for("recording", Duration::from_secs(5), || {
        count(&f.delivery.types(), "video_file_create") == 1
    })
    .await;
    let session = engine.channels()[0].view.session_id.expect("a session");
    engine.shutdown(Duration::from_secs(5)).await;
    assert_eq!(count(&f.delivery.types(), "live_end"), 0);

    // Still live at the restart: the same session, part 2, no live_start.
    let f2 = Fakes::new();
    f2.source.live("alice", "hello", "Games");
    let engine = Engine::start(config(dir.path(), &["alice"]), None, f2.parts()).await.unwrap();
    wait_for("part 2", Duration::from_secs(5), || {
        count(&f2.delivery.types(), "video_file_create") == 1
    })
    .await;
    let view = engine.channels()[0].view.clone();
    assert_eq!(view.session_id, Some(session));
    let file = view.current_file.unwrap();
    assert!(file.ends_with("_part2.ts"), "{file}");
    assert_eq!(count(&f2.delivery.types(), "live_start"), 0, "{:?}", f2.delivery.types());
    engine.shutdown(Duration::from_secs(5)).await;

    // The channel was removed from the config meanwhile: its session ends at the start.
    let f3 = Fakes::new();
    let engine = Engine::start(config(dir.path(), &["bob"]), None, f3.parts()).await.unwrap();
    let events = f3.delivery.events.lock().unwrap().clone();
    let end = events.iter().find(|e| e.type_name() == "live_end").expect("live_end");
    let EventData::LiveEnd(data) = &end.data else { unreachable!() };
    assert_eq!((data.session_id, data.channel.as_str()), (Some(session), "alice"));
    assert_eq!(data.live_info.title, "hello");
    engine.shutdown(Duration::from_secs(5)).await;
    assert_eq!(engine.store().sessions().unwrap(), []);
}

#[tokio::test]
async fn hostile_titles_and_strftime_dates_name_files_safely() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let mut c = config(dir.path(), &["alice"]);
    c.output.filename_template = "{channel}/{start_time:%Y%m%d}_{title}".into();
    let engine = Engine::start(c, None, f.parts()).await.unwrap();
    let day = |t: time::OffsetDateTime| {
        format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day())
    };
    let before = day(time::OffsetDateTime::now_utc());
    f.source.live("alice", "../a/b %Y {title} {{part}}", "Games");
    wait_for("video_file_create", Duration::from_secs(5), || {
        count(&f.delivery.types(), "video_file_create") == 1
    })
    .await;
    let after = day(time::OffsetDateTime::now_utc());
    let started = f.recorder.started.lock().unwrap().clone();
    assert_eq!(started.len(), 1);
    let relative = started[0].strip_prefix(dir.path().join("rec")).unwrap();
    // One folder (the channel) and one file: the title's `/` and `..` stay in the name.
    assert_eq!(relative.components().count(), 2, "{relative:?}");
    let name = relative.file_name().unwrap().to_str().unwrap();
    let expected = |d: &str| format!("{d}_.._a_b ％Y {{title}} {{{{part}}}}_part1.ts");
    assert!(name == expected(&before) || name == expected(&after), "{name}");
    assert!(started[0].exists());
    assert!(engine.shutdown(Duration::from_secs(5)).await);
}

/// An upgrade in place: the open session an older version kept in
/// `open-sessions.json` (its shape from that version; values made up)
/// continues after the first start with the store.
#[tokio::test]
async fn a_session_saved_by_an_older_version_continues_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let session = onelive_events::Uuid::now_v7();
    let info = serde_json::json!({ "title": "hello", "uname": "Alice" });
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let old = serde_json::json!({ "fake/alice": {
        "platform": "fake", "channel": "alice", "url": "https://fake.test/alice",
        "session_id": session, "started_at": "2026-01-01T00:00:00Z",
        "start_live_info": info, "live_info": info, "next_part": 3, "last_live_at": now_ms } });
    std::fs::write(state.join("open-sessions.json"), old.to_string()).unwrap();
    let f = Fakes::new();
    f.source.live("alice", "hello", "Games");
    let engine = Engine::start(config(dir.path(), &["alice"]), None, f.parts()).await.unwrap();
    wait_for("part 3", Duration::from_secs(60), || {
        count(&f.delivery.types(), "video_file_create") == 1
    })
    .await;
    let view = engine.channels()[0].view.clone();
    assert_eq!(view.session_id, Some(session));
    let file = view.current_file.unwrap();
    assert!(file.ends_with("_part3.ts"), "{file}");
    assert_eq!(count(&f.delivery.types(), "live_start"), 0, "{:?}", f.delivery.types());
    assert!(state.join("open-sessions.json.migrated").exists());
    assert!(!state.join("open-sessions.json").exists());
    engine.shutdown(Duration::from_secs(5)).await;
}

/// Issue 11: a short-id URL and the long id are one channel, whichever is
/// pasted: events, files and sessions carry the canonical (long) id, and
/// adding the other URL is refused, at start and through the API.
#[tokio::test]
async fn a_short_id_url_is_watched_under_its_canonical_id() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    for short in ["196", "0196"] {
        f.source.aliases.lock().unwrap().insert(short.into(), "21452505".into());
    }
    // Both forms in the config: the second is refused (and reported), not watched twice.
    let c = config(dir.path(), &["196", "21452505"]);
    let engine = Engine::start(c, None, f.parts()).await.unwrap();
    let channels = engine.channels();
    assert_eq!(channels.len(), 1, "{channels:?}");
    assert_eq!(channels[0].channel, "21452505");
    assert_eq!(channels[0].url, "https://fake.test/196");
    let refused = f
        .delivery
        .events
        .lock()
        .unwrap()
        .iter()
        .find_map(|e| match &e.data {
            EventData::Error(d) => Some(d.error.clone()),
            _ => None,
        })
        .expect("an error for the second form");
    assert!(
        refused.contains("https://fake.test/21452505 is already watched as https://fake.test/196"),
        "{refused}"
    );
    // Through the API (the web UI adds the same way): another form of the room.
    let again = engine.add_channel(ChannelConfig::new("https://fake.test/0196")).await;
    let e = again.unwrap_err().to_string();
    assert!(e.contains("already watched as https://fake.test/196 (fake channel 21452505)"), "{e}");

    f.source.live("21452505", "hello", "Games");
    wait_for("video_file_create", Duration::from_secs(60), || {
        count(&f.delivery.types(), "video_file_create") == 1
    })
    .await;
    let events = f.delivery.events.lock().unwrap().clone();
    // The start's refusal (engine-wide: no channel), live_start, video_file_create.
    let of_the_room: Vec<_> = events.iter().filter_map(|e| e.data.channel()).collect();
    assert_eq!(of_the_room, [("", ""), ("fake", "21452505"), ("fake", "21452505")]);
    let started = f.recorder.started.lock().unwrap().clone();
    assert!(started[0].starts_with(dir.path().join("rec/21452505")), "{started:?}");
    engine.shutdown(Duration::from_secs(5)).await;
    let sessions = engine.store().sessions().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].channel, "21452505");
}

#[tokio::test]
async fn a_channel_refused_at_start_can_be_removed_and_added_again() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let mut c = config(dir.path(), &["alice"]);
    // No adapter claims this URL: refused at start, but it stays in the file.
    c.channels.push(ChannelConfig::new("https://nobody.test/bob"));
    let engine = Engine::start(c, None, f.parts()).await.unwrap();
    assert_eq!(engine.channels().len(), 1, "the refused channel is not watched");
    wait_for("the refusal's error event", Duration::from_secs(5), || {
        count(&f.delivery.types(), "error") == 1
    })
    .await;
    // Adding it again is refused while the file still holds it ...
    let again = engine.add_channel(ChannelConfig::new("https://nobody.test/bob")).await;
    assert!(again.is_err());
    // ... and removing it by its id (`channel_id` of its URL) works.
    let id = onelive_engine::channel_id("https://nobody.test/bob");
    engine.remove_channel(&id).await.unwrap();
    assert!(engine.config().channels.iter().all(|c| c.url != "https://nobody.test/bob"));
    assert!(matches!(
        engine.remove_channel(&id).await,
        Err(onelive_engine::EngineError::NotFound(_))
    ));
    // The corrected URL is then accepted and watched.
    engine.add_channel(ChannelConfig::new("https://fake.test/bob")).await.unwrap();
    assert_eq!(engine.channels().len(), 2);
    assert!(engine.shutdown(Duration::from_secs(5)).await);
}
