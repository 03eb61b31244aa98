//! Bilibili against fixture responses.

use std::sync::Arc;
use std::time::Duration;

use onelive_platform::adapters::bilibili::{Bilibili, wbi_mixin_key, wbi_sign};
use onelive_platform::{ErrorKind, FixedClock, LiveStatus, PlatformAdapter, StreamKind};
use time::macros::datetime;

use crate::common::{Mock, NOW, Reply};

const HOSTS: &[&str] = &["api.live.bilibili.com", "api.bilibili.com"];
const ROOM_INIT: &str = "/api.live.bilibili.com/room/v1/Room/room_init";
const GET_INFO: &str = "/api.live.bilibili.com/room/v1/Room/get_info";
const ANCHOR: &str = "/api.live.bilibili.com/live_user/v1/UserInfo/get_anchor_in_room";
const PLAY: &str = "/api.live.bilibili.com/xlive/web-room/v2/index/getRoomPlayInfo";
const NAV: &str = "/api.bilibili.com/x/web-interface/nav";

async fn serve(room_init: Reply, info: &str, play: &str) -> Mock {
    let mock = Mock::start().await;
    mock.on(ROOM_INIT, room_init)
        .on_query(GET_INFO, "room_id=21452505", Reply::fixture(200, info))
        .on_query(ANCHOR, "roomid=21452505", Reply::fixture(200, "bilibili/anchor.json"))
        .on(NAV, Reply::fixture(200, "bilibili/nav.json"))
        .on_query(PLAY, "qn=400", Reply::fixture(200, "bilibili/play_info_400.json"))
        .on_query(PLAY, "qn=250", Reply::fixture(200, "bilibili/play_info_250.json"))
        .on(PLAY, Reply::fixture(200, play));
    mock
}

async fn live_mock() -> Mock {
    serve(
        Reply::fixture(200, "bilibili/room_init_live.json"),
        "bilibili/get_info_live.json",
        "bilibili/play_info_live.json",
    )
    .await
}

#[tokio::test]
async fn live_room_by_short_id() {
    let mock = live_mock().await;
    let info = Bilibili::new().live_info(&mock.context(HOSTS), "196").await.unwrap();
    assert_eq!(info.status, LiveStatus::Live);
    assert_eq!(info.uid, "672328094");
    assert_eq!(info.uname, "嘉然今天吃什么");
    assert_eq!(info.avatar, "https://i0.hdslb.example/bfs/face/f.jpg");
    assert_eq!(info.title, "深夜 Minecraft 建筑");
    assert_eq!(info.cover, "https://i0.hdslb.example/bfs/live/new_room_cover/c.jpg");
    assert_eq!(info.categories, ["单机游戏", "我的世界"]);
    assert_eq!(info.live_id.as_deref(), Some("1714550000"));
    assert_eq!(info.start_time, Some(datetime!(2024-05-01 07:53:20 UTC)));
    let seen = mock.seen();
    assert!(seen[0].path == ROOM_INIT && seen[0].query.contains("id=196"), "{seen:?}");
    assert!(seen.iter().any(|s| s.path == GET_INFO && s.query.contains("room_id=21452505")));
    assert_eq!(
        seen[0].headers.get("referer").map(String::as_str),
        Some("https://live.bilibili.com/")
    );
}

async fn offline_mock() -> Mock {
    serve(
        Reply::fixture(200, "bilibili/room_init_offline.json"),
        "bilibili/get_info_offline.json",
        "bilibili/play_info_offline.json",
    )
    .await
}

#[tokio::test]
async fn offline_room() {
    let mock = offline_mock().await;
    let ctx = mock.context(HOSTS);
    let info = Bilibili::new().live_info(&ctx, "21452505").await.unwrap();
    assert_eq!(info.status, LiveStatus::Offline);
    assert_eq!(info.uid, "672328094", "uid from room_init");
    assert_eq!(info.live_id, None);
    assert_eq!(info.start_time, None);
    // Never seen live: nothing but room_init's facts.
    assert_eq!((info.uname.as_str(), info.avatar.as_str()), ("", ""));
    assert_eq!((info.title.as_str(), info.cover.as_str()), ("", ""));
    assert!(info.categories.is_empty());
    let error = Bilibili::new().stream_variants(&ctx, "21452505").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Offline);
    assert!(!mock.seen().iter().any(|s| s.path == PLAY), "no play call for an offline room");
}

/// The paths the mock saw from index `from` on.
fn paths_since(mock: &Mock, from: usize) -> Vec<String> {
    mock.seen().iter().skip(from).map(|s| s.path.clone()).collect()
}

#[tokio::test]
async fn an_offline_poll_costs_one_request() {
    let mock = offline_mock().await;
    let ctx = mock.context(HOSTS);
    let adapter = Bilibili::new();
    for poll in 0..3 {
        let before = mock.seen().len();
        let info = adapter.live_info(&ctx, "196").await.unwrap();
        assert_eq!(info.status, LiveStatus::Offline);
        assert_eq!(paths_since(&mock, before), [ROOM_INIT], "poll {poll}");
    }
}

#[tokio::test]
async fn a_live_poll_fetches_the_streamer_once_per_hour() {
    let live = live_mock().await;
    let ctx = live.context(HOSTS);
    let adapter = Bilibili::new();
    // First live poll: room_init, get_info and the streamer.
    let first = adapter.live_info(&ctx, "196").await.unwrap();
    assert_eq!(paths_since(&live, 0), [ROOM_INIT, GET_INFO, ANCHOR]);
    // Next live polls: the streamer comes from the cache.
    let before = live.seen().len();
    let second = adapter.live_info(&ctx, "196").await.unwrap();
    assert_eq!(paths_since(&live, before), [ROOM_INIT, GET_INFO]);
    assert_eq!(second, first, "a cached streamer gives the same live info");
    assert_eq!(second.uname, "嘉然今天吃什么");
    assert_eq!(second.avatar, "https://i0.hdslb.example/bfs/face/f.jpg");

    // An hour later the streamer is asked again.
    let later = crate::common::context_for(&live.config(HOSTS))
        .with_clock(Arc::new(FixedClock(NOW + time::Duration::hours(1))));
    let before = live.seen().len();
    adapter.live_info(&later, "196").await.unwrap();
    assert_eq!(paths_since(&live, before), [ROOM_INIT, GET_INFO, ANCHOR]);

    // The same room offline: one request, and the name and avatar known
    // from the live polls.
    let offline = offline_mock().await;
    let info = adapter.live_info(&offline.context(HOSTS), "196").await.unwrap();
    assert_eq!(paths_since(&offline, 0), [ROOM_INIT]);
    assert_eq!(info.status, LiveStatus::Offline);
    assert_eq!(info.uname, "嘉然今天吃什么");
    assert_eq!(info.avatar, "https://i0.hdslb.example/bfs/face/f.jpg");
    assert_eq!((info.title.as_str(), info.live_id), ("", None));
}

#[tokio::test]
async fn live_room_init_but_ended_in_get_info_is_offline() {
    let mock = serve(
        Reply::fixture(200, "bilibili/room_init_live.json"),
        "bilibili/get_info_offline.json",
        "bilibili/play_info_offline.json",
    )
    .await;
    let info = Bilibili::new().live_info(&mock.context(HOSTS), "196").await.unwrap();
    assert_eq!(info.status, LiveStatus::Offline);
    assert_eq!(info.live_id, None);
    assert_eq!(info.start_time, None);
    assert_eq!(info.title, "深夜 Minecraft 建筑");
    assert_eq!(info.cover, "https://i0.hdslb.example/bfs/live-key-frame/keyframe.jpg");
}

#[tokio::test]
async fn rotation_counts_as_offline() {
    let mock = serve(
        Reply::fixture(200, "bilibili/room_init_rotation.json"),
        "bilibili/get_info_offline.json",
        "bilibili/play_info_offline.json",
    )
    .await;
    let info = Bilibili::new().live_info(&mock.context(HOSTS), "21452505").await.unwrap();
    assert_eq!(info.status, LiveStatus::Offline);
}

#[tokio::test]
async fn not_found() {
    let mock = serve(
        Reply::fixture(200, "bilibili/room_init_not_found.json"),
        "bilibili/get_info_live.json",
        "bilibili/play_info_live.json",
    )
    .await;
    let error = Bilibili::new().live_info(&mock.context(HOSTS), "999999999").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("999999999"), "{error}");
}

#[tokio::test]
async fn risk_control_code_and_http_412() {
    let mock = serve(
        Reply::fixture(200, "bilibili/room_init_risk.json"),
        "bilibili/get_info_live.json",
        "bilibili/play_info_live.json",
    )
    .await;
    let error = Bilibili::new().live_info(&mock.context(HOSTS), "196").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked);
    assert!(error.is_retryable());
    assert!(error.to_string().contains("-352"), "{error}");

    let mock = mock_status(412, "").await;
    let error = Bilibili::new().live_info(&mock.context(HOSTS), "196").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked);
}

async fn mock_status(status: u16, retry_after: &str) -> Mock {
    let mut reply = Reply::text(status, "{\"code\":-412,\"message\":\"请求被拦截\"}");
    if !retry_after.is_empty() {
        reply = reply.header("Retry-After", retry_after);
    }
    serve(reply, "bilibili/get_info_live.json", "bilibili/play_info_live.json").await
}

#[tokio::test]
async fn rate_limited_with_retry_after() {
    let mock = mock_status(429, "30").await;
    let error = Bilibili::new().live_info(&mock.context(HOSTS), "196").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(30)));
    assert!(error.is_retryable());
}

#[tokio::test]
async fn malformed_body() {
    let mock = serve(
        Reply::fixture(200, "bilibili/room_init_malformed.json"),
        "bilibili/get_info_live.json",
        "bilibili/play_info_live.json",
    )
    .await;
    let error = Bilibili::new().live_info(&mock.context(HOSTS), "196").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse);
    let text = error.to_string();
    assert!(text.contains("room_init JSON"), "{text}");
    assert!(text.contains("/room/v1/Room/room_init"), "{text}");
    assert!(!text.contains("id=196"), "no query string in errors: {text}");
}

#[tokio::test]
async fn stream_variants_of_a_live_room() {
    let mock = live_mock().await;
    let variants = Bilibili::new().stream_variants(&mock.context(HOSTS), "196").await.unwrap();
    // qn 10000: 2 FLV CDNs + HLS ts + HLS fmp4; qn 400: FLV + HLS; qn 250: FLV.
    assert_eq!(variants.len(), 7, "{variants:?}");
    let qualities: Vec<&str> = variants.iter().map(|v| v.quality.as_str()).collect();
    assert_eq!(qualities, ["原画", "原画", "原画", "原画", "蓝光", "蓝光", "超清"]);
    assert!(variants[4..].iter().all(|v| !v.source));
    assert!(variants[6].url.contains("live_672328094_3965163_1500.flv?"), "{}", variants[6].url);
    let flv = &variants[0];
    assert_eq!(flv.kind, StreamKind::Flv);
    assert_eq!(
        flv.url,
        "https://cn-gddg-ct-01-01.bilivideo.example/live-bvc/392873/live_672328094_3965163.flv?\
         expires=1714560000&len=0&oi=0&pt=web&qn=10000&trid=1000abc\
         &sigparams=cdn,expires,len,oi,pt,qn,trid&cdn=cn-gotcha01&sign=0123456789abcdef"
    );
    assert_eq!(flv.quality, "原画");
    assert!(flv.source);
    assert_eq!(flv.codec.as_deref(), Some("avc"));
    assert_eq!(flv.cdn.as_deref(), Some("cn-gotcha01"));
    assert_eq!(flv.headers.get("Referer").map(String::as_str), Some("https://live.bilibili.com/"));
    assert!(flv.headers.contains_key("User-Agent"));
    assert_eq!(variants[1].cdn.as_deref(), Some("cn-gotcha03"));
    assert_eq!(variants[2].kind, StreamKind::Hls);
    assert_eq!(variants[3].codec.as_deref(), Some("hevc"));

    // The play request is WBI-signed with the nav keys and the fixed clock.
    let seen = mock.seen();
    let plays: Vec<_> = seen.iter().filter(|s| s.path == PLAY).collect();
    assert_eq!(plays.len(), 3, "one request per tier");
    assert!(plays[1].query.contains("qn=400") && plays[2].query.contains("qn=250"));
    let play = plays[0];
    assert!(play.query.contains("qn=10000"), "{}", play.query);
    let wts = NOW.unix_timestamp().to_string();
    assert!(play.query.contains(&format!("wts={wts}")), "{}", play.query);
    let key = wbi_mixin_key("7cd084941338484aae1ad9425b84077c", "4932caff0ff746eab6f01bf08b70ac45");
    let params: Vec<(String, String)> = url::form_urlencoded::parse(play.query.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "wts" && k != "w_rid")
        .collect();
    let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let expected = wbi_sign(&refs, &key, NOW.unix_timestamp());
    let w_rid = &expected.last().unwrap().1;
    assert!(play.query.ends_with(&format!("w_rid={w_rid}")), "{}", play.query);
}

#[tokio::test]
async fn wbi_keys_are_cached() {
    let mock = live_mock().await;
    let ctx = mock.context(HOSTS);
    let adapter = Bilibili::new();
    adapter.stream_variants(&ctx, "196").await.unwrap();
    adapter.stream_variants(&ctx, "196").await.unwrap();
    assert_eq!(mock.seen().iter().filter(|s| s.path == NAV).count(), 1);
}

#[tokio::test]
async fn live_status_without_playurl_is_offline() {
    let mock = serve(
        Reply::fixture(200, "bilibili/room_init_live.json"),
        "bilibili/get_info_live.json",
        "bilibili/play_info_offline.json",
    )
    .await;
    let error = Bilibili::new().stream_variants(&mock.context(HOSTS), "196").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Offline);
}

#[tokio::test]
async fn cookies_are_sent_but_never_shown() {
    let mock = serve(
        Reply::fixture(200, "bilibili/room_init_risk.json"),
        "bilibili/get_info_live.json",
        "bilibili/play_info_live.json",
    )
    .await;
    let mut config = mock.config(HOSTS);
    config.sites.entry("bilibili".into()).or_default().cookies =
        Some("SESSDATA=topsecret42".into());
    let ctx = crate::common::context_for(&config);
    let error = Bilibili::new().live_info(&ctx, "196").await.unwrap_err();
    assert_eq!(
        mock.seen()[0].headers.get("cookie").map(String::as_str),
        Some("SESSDATA=topsecret42")
    );
    assert!(!error.to_string().contains("topsecret42"));
    assert!(!format!("{error:?} {ctx:?}").contains("topsecret42"));
}

#[tokio::test]
async fn anonymous_viewer_capped_at_qn_250_costs_one_play_request() {
    // The real anonymous answer (rust-srec's capture): asked for 10000, served
    // 250, accept_qn [10000, 400, 250]. Asking again for 400 or 10000 gets 250
    // again, so only one getRoomPlayInfo request is made.
    let mock = Mock::start().await;
    mock.on(ROOM_INIT, Reply::fixture(200, "bilibili/room_init_live.json"))
        .on(NAV, Reply::fixture(200, "bilibili/nav.json"))
        .on(PLAY, Reply::fixture(200, "bilibili/real/room_play_info_anonymous_250.json"));
    let variants = Bilibili::new().stream_variants(&mock.context(HOSTS), "196").await.unwrap();
    let plays = mock.seen().into_iter().filter(|s| s.path == PLAY).count();
    assert_eq!(plays, 1, "no extra requests for tiers above the one served");
    // 6 codecs (FLV avc/hevc, HLS ts avc/hevc, HLS fmp4 avc/hevc), 2 hosts each.
    assert_eq!(variants.len(), 12, "{variants:?}");
    assert!(variants.iter().all(|v| v.quality == "超清"), "{variants:?}");
    assert!(variants.iter().all(|v| !v.source), "qn 250 is not the original (10000)");
    assert_eq!(variants[0].kind, StreamKind::Flv);
    assert_eq!(variants[0].codec.as_deref(), Some("avc"));
    assert!(
        variants[0].url.starts_with("https://d1--ov-gotcha07.bilivideo.com/"),
        "{}",
        variants[0].url
    );
}

#[tokio::test]
async fn play_request_parameter_set() {
    let mock = live_mock().await;
    Bilibili::new().stream_variants(&mock.context(HOSTS), "196").await.unwrap();
    let play = mock.seen().into_iter().find(|s| s.path == PLAY).unwrap();
    let mut keys: Vec<String> =
        url::form_urlencoded::parse(play.query.as_bytes()).map(|(k, _)| k.into_owned()).collect();
    keys.sort();
    // The WBI-signed getRoomPlayInfo set (the references send room_id, qn,
    // platform, protocol, format, codec, dolby, web_location, plus wts/w_rid).
    assert_eq!(
        keys,
        [
            "codec",
            "dolby",
            "format",
            "panorama",
            "platform",
            "protocol",
            "ptype",
            "qn",
            "room_id",
            "w_rid",
            "web_location",
            "wts"
        ]
    );
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(play.query.as_bytes()).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(get("room_id"), Some("21452505"), "the long room id, not the short id");
    assert_eq!(get("protocol"), Some("0,1"));
    assert_eq!(get("format"), Some("0,1,2"));
    assert_eq!(get("codec"), Some("0,1"));
    assert_eq!(get("web_location"), Some("444.8"));
}

#[tokio::test]
async fn a_short_id_has_the_long_room_id_as_canonical_id() {
    // The real room_init answer for short id 76 (bilibili-API-collect).
    let mock = Mock::start().await;
    mock.on_query(ROOM_INIT, "id=76", Reply::fixture(200, "bilibili/real/room_init_short_76.json"))
        .on(ROOM_INIT, Reply::fixture(200, "bilibili/room_init_not_found.json"));
    let ctx = mock.context(HOSTS);
    assert_eq!(Bilibili::new().canonical_channel(&ctx, "76").await.unwrap(), "14073662");
    let error = Bilibili::new().canonical_channel(&ctx, "99999999").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);

    // Through the registry: one ChannelRef whatever URL was pasted.
    let config = mock.config(HOSTS);
    let platforms = onelive_platform::Platforms::from_parts(
        onelive_platform::PlatformRegistry::builtin(&config),
        crate::common::context_for(&config),
    );
    let pasted = platforms.resolve("https://live.bilibili.com/76?spm_id_from=x").unwrap();
    assert_eq!(pasted.channel, "76");
    let canonical = platforms.canonical_channel(&pasted).await.unwrap();
    assert_eq!((canonical.platform.as_str(), canonical.channel.as_str()), ("bilibili", "14073662"));
    // Other platforms keep the id they parsed, without a request.
    let twitch = platforms.resolve("https://www.twitch.tv/SomeOne").unwrap();
    assert_eq!(platforms.canonical_channel(&twitch).await.unwrap(), twitch);
}

#[tokio::test]
async fn real_get_info_of_a_rotating_room() {
    // Room 1 (short id) in rotation (live_status 2) per the real get_info
    // answer: room_init says live, get_info says rotation: offline.
    let mock = Mock::start().await;
    mock.on(ROOM_INIT, Reply::fixture(200, "bilibili/room_init_live.json"))
        .on(GET_INFO, Reply::fixture(200, "bilibili/real/get_info_room_1_rotation.json"))
        .on(ANCHOR, Reply::fixture(200, "bilibili/anchor.json"));
    let info = Bilibili::new().live_info(&mock.context(HOSTS), "1").await.unwrap();
    assert_eq!(info.status, LiveStatus::Offline);
    assert_eq!(info.title, "快乐运动研究社");
    assert_eq!(info.categories, ["娱乐", "视频聊天"]);
}
