//! A Bilibili room pasted by its short id (`/196`) is recorded and announced
//! under its long room id (`21452505`), the id the room reports for itself:
//! one room, one id in events, file names and sessions (issue 11).

use std::time::Duration;

use nix::sys::signal::Signal;
use onelive_events::EventData;

use crate::e2e_support::*;

/// The short id of the mock room (`short_id` in the real `room_init` fixture).
const SHORT_ID: &str = "196";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_id_url_is_recorded_under_the_long_room_id() {
    let Scenario { dir, origin: _origin, mock: _mock, receiver, config } =
        Scenario::live("3s").await;
    let d = dir.path();
    let text = std::fs::read_to_string(&config).unwrap();
    let pasted = format!("https://live.bilibili.com/{SHORT_ID}\"");
    let text = text.replace(&format!("https://live.bilibili.com/{ROOM}\""), &pasted);
    assert!(text.contains(&pasted), "the config names the room by its short id");
    std::fs::write(&config, text).unwrap();

    let mut child = spawn_run(&config, d, 1);
    wait_for("video_file_create", Duration::from_secs(60), d, || {
        receiver.count("video_file_create") >= 1
    })
    .await;
    signal(&child, Signal::SIGTERM);
    assert!(wait_exit(&mut child, Duration::from_secs(60)).await.success());

    let events = receiver.snapshot();
    let mut channels = Vec::new();
    for e in &events {
        if let Some((platform, channel)) = e.data.channel() {
            channels.push((platform.to_owned(), channel.to_owned()));
        }
        if let EventData::VideoFileCreate(f) = &e.data {
            assert!(
                f.path.contains(&format!("/bilibili/{ROOM}/")),
                "file under the long id: {}",
                f.path
            );
            assert!(!f.path.contains(&format!("/{SHORT_ID}/")), "no short id in {}", f.path);
        }
    }
    assert!(!channels.is_empty(), "channel events were delivered: {events:#?}");
    for (platform, channel) in &channels {
        assert_eq!((platform.as_str(), channel.as_str()), ("bilibili", ROOM), "{events:#?}");
    }
}
