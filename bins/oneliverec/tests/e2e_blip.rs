//! The origin drops for less than the debounce window: the same session
//! continues with the next part, and no `live_end` comes in between.

use std::time::Duration;

use nix::sys::signal::Signal;
use onelive_events::EventData;

use crate::e2e_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_drop_continues_the_session_with_the_next_part() {
    let Scenario { dir, mut origin, mock, receiver, config } = Scenario::live("12s").await;
    let d = dir.path();
    let mut child = spawn_run(&config, d, 1);

    wait_for("first file", Duration::from_secs(30), d, || receiver.count("video_file_create") == 1)
        .await;
    wait_for_recorded(d, 2.0).await;
    // The room goes offline and the origin dies ...
    mock.set(|r| r.live = false);
    origin.stop().await;
    wait_for("first file finished", Duration::from_secs(30), d, || {
        receiver.count("video_file_finish") == 1
    })
    .await;
    // ... and both come back well inside the 12 s window.
    origin.restart().await.unwrap();
    mock.set(|r| r.live = true);
    wait_for("second file", Duration::from_secs(30), d, || {
        receiver.count("video_file_create") == 2
    })
    .await;
    wait_for_recorded(d, 2.0).await;
    signal(&child, Signal::SIGTERM);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).await.success(), "{}", log(d, 1));

    let events = receiver.snapshot();
    let types: Vec<&str> = events.iter().map(|e| e.type_name()).collect();
    assert_eq!(types.iter().filter(|t| **t == "live_start").count(), 1, "{types:?}");
    assert_eq!(types.iter().filter(|t| **t == "live_end").count(), 0, "{types:?}");
    let sessions: std::collections::BTreeSet<_> =
        events.iter().filter_map(|e| e.data.session_id()).collect();
    assert_eq!(sessions.len(), 1, "{types:?}");
    let created: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::VideoFileCreate(d) => Some(d.path.clone()),
            _ => None,
        })
        .collect();
    assert!(created[0].ends_with("_part1.ts"), "{created:?}");
    assert!(created[1].ends_with("_part2.ts"), "{created:?}");
    assert!(assert_announced_files_valid(&events) >= 3, "{types:?}");
}
