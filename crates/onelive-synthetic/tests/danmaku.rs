//! The synthetic danmaku server against the real Bilibili chat client.

use onelive_danmaku::*;
use onelive_synthetic::{SyntheticDanmaku, SyntheticDanmakuOptions};
use std::time::Duration;

#[tokio::test]
async fn a_bilibili_client_reads_the_synthetic_feed_and_signals() {
    let server =
        SyntheticDanmaku::start(SyntheticDanmakuOptions { room_id: 777, rate_per_second: 20.0 })
            .await
            .unwrap();
    let chat = BilibiliChat::new(
        777,
        BilibiliOptions {
            api_base: server.api_base().into(),
            tls: false,
            ..BilibiliOptions::default()
        },
    )
    .unwrap();
    let (client, mut events, mut signals) =
        ChatClient::spawn(chat, ClientOptions::default()).unwrap();
    let deadline = Duration::from_secs(60);
    // The automatic feed arrives (zlib batches).
    let first = tokio::time::timeout(deadline, events.recv()).await.unwrap().unwrap();
    let ChatEvent::Comment(c) = first.event else { panic!("expected a comment") };
    assert!(c.text.starts_with("synthetic danmaku #"), "{}", c.text);
    server.send_comment("tester", "hello <world>");
    server.go_live();
    assert_eq!(
        tokio::time::timeout(deadline, signals.recv()).await.unwrap(),
        Some(LiveSignal::Live)
    );
    let mut seen = false;
    while !seen {
        let r = tokio::time::timeout(deadline, events.recv()).await.unwrap().unwrap();
        if let ChatEvent::Comment(c) = r.event {
            seen = c.text == "hello <world>" && c.sender.name == "tester";
        }
    }
    server.go_offline();
    assert_eq!(
        tokio::time::timeout(deadline, signals.recv()).await.unwrap(),
        Some(LiveSignal::Offline)
    );
    assert_eq!(server.connections(), 1);
    assert_eq!(client.stats().errors, 0);
    client.stop().await;
}

#[tokio::test]
async fn a_client_for_another_room_is_refused() {
    let server =
        SyntheticDanmaku::start(SyntheticDanmakuOptions { room_id: 777, rate_per_second: 0.0 })
            .await
            .unwrap();
    let chat = BilibiliChat::new(
        778,
        BilibiliOptions {
            api_base: server.api_base().into(),
            tls: false,
            ..BilibiliOptions::default()
        },
    )
    .unwrap();
    let (client, _events, _signals) = ChatClient::spawn(chat, ClientOptions::default()).unwrap();
    let start = std::time::Instant::now();
    while client.stats().last_error.is_none() {
        assert!(start.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(client.stats().last_error.unwrap().contains("authentication refused"));
    assert!(
        SyntheticDanmaku::start(SyntheticDanmakuOptions { room_id: 1, rate_per_second: f64::NAN })
            .await
            .is_err()
    );
}
