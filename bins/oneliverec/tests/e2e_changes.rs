//! Title and category changed mid-live: `title_change` and
//! `category_change` carry the old and the new `live_info`.

use std::time::Duration;

use nix::sys::signal::Signal;
use onelive_events::EventData;

use crate::e2e_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn title_and_category_changes_are_announced_with_old_and_new_info() {
    let Scenario { dir, origin: _origin, mock, receiver, config } = Scenario::live("3s").await;
    let d = dir.path();
    let mut child = spawn_run(&config, d, 1);

    wait_for("live_start", Duration::from_secs(30), d, || receiver.count("live_start") == 1).await;
    mock.set(|r| r.title = "second title".into());
    wait_for("title_change", Duration::from_secs(15), d, || receiver.count("title_change") == 1)
        .await;
    mock.set(|r| {
        r.parent_area = "生活".into();
        r.area = "日常".into();
    });
    wait_for("category_change", Duration::from_secs(15), d, || {
        receiver.count("category_change") == 1
    })
    .await;
    signal(&child, Signal::SIGTERM);
    assert!(wait_exit(&mut child, Duration::from_secs(30)).await.success());

    let events = receiver.snapshot();
    let session = events.iter().find_map(|e| match &e.data {
        EventData::LiveStart(d) => d.session_id,
        _ => None,
    });
    let title = events
        .iter()
        .find_map(|e| match &e.data {
            EventData::TitleChange(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(title.old_live_info.title, "first title");
    assert_eq!(title.new_live_info.title, "second title");
    assert_eq!(title.new_live_info.categories, ["单机游戏", "我的世界"]);
    assert_eq!(title.session_id, session);
    let cat = events
        .iter()
        .find_map(|e| match &e.data {
            EventData::CategoryChange(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(cat.old_live_info.categories, ["单机游戏", "我的世界"]);
    assert_eq!(cat.new_live_info.categories, ["生活", "日常"]);
    assert_eq!(cat.old_live_info.title, "second title");
    assert_eq!(cat.session_id, session);
    assert_eq!(receiver.count("title_change"), 1);
    assert_eq!(receiver.count("live_end"), 0);
}
