//! The complete example of docs/sink.md, run as written, with loopback
//! stand-ins for Telegram, the rclone remote (rclone serve webdav) and
//! Pixeldrain.

use std::time::Duration;

use onelive_sink::store::JobState;

use crate::common::*;

/// The TOML block after `<!-- complete-example -->` in docs/sink.md.
fn documented_example() -> String {
    let doc = include_str!("../../../docs/sink.md");
    let after = doc.split("<!-- complete-example -->").nth(1).expect("marker in docs/sink.md");
    let block = after.split("```toml\n").nth(1).unwrap();
    block.split("```").next().unwrap().to_owned()
}

#[tokio::test]
async fn the_documented_example_runs_end_to_end() {
    let telegram = Receiver::start().await;
    let dav = serve_webdav();
    let pd = stand_in().await;
    // Only the endpoints change: each service points at its stand-in.
    let toml = documented_example()
        .replace(
            "service = \"telegram\"",
            &format!("service = \"telegram\"\nurl = \"{}\"", telegram.url("")),
        )
        .replace("\"drive:recordings\"", &format!("\":webdav,url='{}':recordings\"", dav.url))
        .replace(
            "api_key = \"YOUR-PIXELDRAIN-API-KEY\"",
            &format!("api_key = \"{API_KEY}\"\napi = \"{}\"", pd.api_base()),
        );
    let sink = TestSink::start(&toml).await;
    let url = sink.url("?key=my_super_secret_webhook_key_123");
    let session = new_id();
    let live = serde_json::json!({"platform": "bilibili", "channel": "21452505",
        "url": "https://live.bilibili.com/21452505",
        "live_info": {"title": "测试直播", "uname": "主播"}, "session_id": session});
    let event = |kind: &str, data: serde_json::Value, ts: &str| {
        serde_json::json!({"id": new_id(), "ts": ts, "type": kind, "data": data}).to_string()
    };

    assert_eq!(post(&url, &event("live_start", live.clone(), "2026-03-11T05:00:00Z")).await.0, 200);
    for (i, p) in ["part1", "part2"].iter().enumerate() {
        make_part(&sink.rec(&format!("{p}.mp4")), "320x240");
        let ts = format!("2026-03-11T05:0{}:00Z", i + 1);
        let file = serde_json::json!({"platform": "bilibili", "channel": "21452505",
            "path": format!("/app/rec/{p}.flv"), "filesize": 1, "duration": 1.0, "session_id": session});
        assert_eq!(post(&url, &event("video_file_finish", file, &ts)).await.0, 200);
        let done = serde_json::json!({"platform": "bilibili", "channel": "21452505",
            "input": format!("/app/rec/{p}.flv"), "output": format!("/app/rec/{p}.mp4"), "session_id": session});
        assert_eq!(post(&url, &event("video_transmux_finish", done, &ts)).await.0, 200);
    }
    assert_eq!(post(&url, &event("live_end", live, "2026-03-11T06:00:00Z")).await.0, 200);

    let start = std::time::Instant::now();
    let jobs = loop {
        let jobs = sink.jobs();
        if jobs.len() == 5
            && jobs.iter().all(|j| matches!(j.state, JobState::Done | JobState::Failed))
        {
            break jobs;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{jobs:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(jobs.iter().all(|j| j.state == JobState::Done), "{jobs:#?}");

    // The merged file went to the rclone remote and to Pixeldrain, in parallel,
    // and `links` ran after both.
    let links = jobs.iter().find(|j| j.step.as_deref() == Some("links")).unwrap();
    assert_eq!(links.after, ["cloud", "pixeldrain"]);
    let last_upload = jobs
        .iter()
        .filter(|j| matches!(j.step.as_deref(), Some("cloud" | "pixeldrain")))
        .map(|j| j.updated_at_ms)
        .max()
        .unwrap();
    assert!(links.updated_at_ms >= last_upload);
    let merged = std::fs::read(sink.rec("part1.merged.mp4")).unwrap();
    assert_eq!(std::fs::read(dav.root.path().join("recordings/part1.merged.mp4")).unwrap(), merged);
    let uploads = pd.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].name, "part1.merged.mp4");
    assert_eq!(uploads[0].size, merged.len() as u64);

    // Telegram got the live start, then both links.
    let sent = telegram.bodies();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|(path, _)| path == "/bot123456:YOUR-BOT-TOKEN/sendMessage"));
    let first: serde_json::Value = serde_json::from_str(&sent[0].1).unwrap();
    assert_eq!(first["chat_id"], "-1001234567890");
    assert_eq!(
        first["text"],
        "主播 开播了（bilibili）：测试直播\nhttps://live.bilibili.com/21452505"
    );
    let last: serde_json::Value = serde_json::from_str(&sent[1].1).unwrap();
    let link = format!("https://pixeldrain.com/u/{}", uploads[0].id);
    assert_eq!(
        last["text"],
        format!("主播：测试直播\n:webdav:recordings/part1.merged.mp4\n{link}")
    );
}
