//! The full pipeline as a process: a Bilibili room (mocked on loopback
//! through host overrides) whose stream is a synthetic live HLS origin goes
//! live and offline; `oneliverec run` records, transmuxes and delivers every
//! event, signed, to a local receiver; SIGTERM ends it with `app_exit`.

use std::time::Duration;

use nix::sys::signal::Signal;
use onelive_events::EventData;

use crate::e2e_support::*;
use crate::sequences::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_session_is_recorded_transmuxed_and_announced_in_order() {
    let Scenario { dir, mut origin, mock, receiver, config } = Scenario::live("3s").await;
    let d = dir.path();
    let utc_day = || {
        let t = time::OffsetDateTime::now_utc();
        format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day())
    };
    let day_before = utc_day();
    let mut child = spawn_run(&config, d, 1);

    wait_for("video_file_create", Duration::from_secs(30), d, || {
        receiver.count("video_file_create") == 1
    })
    .await;
    wait_for_recorded(d, 3.0).await;
    mock.set(|r| r.live = false);
    origin.stop().await;
    wait_for("live_end", Duration::from_secs(40), d, || receiver.count("live_end") == 1).await;
    signal(&child, Signal::SIGTERM);
    let status = wait_exit(&mut child, Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}\n{}", log(d, 1));

    let events = receiver.snapshot();
    let mut types: Vec<&str> = events.iter().map(|e| e.type_name()).collect();
    // The transmux of the last part runs beside the debounce before live_end:
    // on a loaded machine it may finish after live_end. Every other step has
    // one order.
    let transmuxed = types.iter().position(|t| *t == "video_transmux_finish");
    let ended = types.iter().position(|t| *t == "live_end");
    if let (Some(t), Some(e)) = (transmuxed, ended)
        && t == e + 1
    {
        types.swap(t, e);
    }
    assert_eq!(types, SESSION, "log:\n{}", log(d, 1));
    assert_eq!(*receiver.rejected.lock().unwrap(), 0);
    let find = |name: &str| events.iter().find(|e| e.type_name() == name).unwrap();
    let session = find("live_start").data.session_id().expect("live_start has a session_id");
    for e in &events[1..6] {
        assert_eq!(e.data.session_id(), Some(session), "{}", e.type_name());
    }
    let EventData::LiveStart(start) = &find("live_start").data else { panic!() };
    assert_eq!((start.platform.as_str(), start.channel.as_str()), ("bilibili", ROOM));
    assert_eq!(start.live_info.title, "first title");
    assert_eq!(start.live_info.categories, ["单机游戏", "我的世界"]);
    assert_eq!(start.live_info.uname, "嘉然今天吃什么");
    let EventData::VideoFileFinish(fin) = &find("video_file_finish").data else { panic!() };
    assert!(fin.path.ends_with("_part1.ts"), "{}", fin.path);
    // `{start_time:%Y%m%d}` in the config: the session's UTC day.
    let file_name = std::path::Path::new(&fin.path).file_name().unwrap().to_string_lossy();
    assert!(
        file_name.starts_with(&format!("{day_before}_"))
            || file_name.starts_with(&format!("{}_", utc_day())),
        "{file_name} does not start with the UTC day {day_before}"
    );
    assert!(fin.path.starts_with(&d.join("rec/bilibili").display().to_string()), "{}", fin.path);
    assert_eq!(fin.filesize, std::fs::metadata(&fin.path).unwrap().len());
    assert!(fin.duration > 2.0, "{}", fin.duration);
    let EventData::VideoTransmuxFinish(t) = &find("video_transmux_finish").data else { panic!() };
    assert_eq!(t.input, fin.path);
    assert!(t.output.ends_with("_part1.mp4"));
    assert_eq!(assert_announced_files_valid(&events), 2);
    let EventData::LiveEnd(end) = &find("live_end").data else { panic!() };
    assert_eq!(end.live_info.status, onelive_events::LiveStatus::Offline);
    // The stream token never reaches the log.
    assert!(!log(d, 1).contains("streamtoken"), "a stream URL query leaked into the log");
}
