//! TikTok against a real page state and room-API answers built around it,
//! replayed from a loopback server (sources in tests/fixtures/tiktok/README.md).

#[allow(dead_code)]
mod common;

use onelive_platform::adapters::tiktok::TikTok;
use onelive_platform::{
    ErrorKind, LiveStatus, PlatformAdapter, PlatformRegistry, PlatformsConfig, StreamKind,
};
use time::macros::datetime;

use common::{Mock, Reply};

const HOSTS: &[&str] = &["www.tiktok.com"];
const API: &str = "/www.tiktok.com/api-live/user/room/";
const PAGE: &str = "/www.tiktok.com/@seraph_venusttv/live";
const USER: &str = "seraph_venusttv";

async fn serve(api: Reply, page: Reply) -> Mock {
    let mock = Mock::start().await;
    mock.on(API, api).on(PAGE, page);
    mock
}

fn assert_live_info(info: &onelive_platform::LiveInfo) {
    assert_eq!(info.status, LiveStatus::Live);
    assert_eq!(info.uid, "7349705044327695362");
    assert_eq!(info.uname, "seraph_venusTTV");
    assert_eq!(info.title, "comp");
    assert_eq!(info.live_id.as_deref(), Some("7525342037743962887"));
    assert_eq!(info.start_time, Some(datetime!(2025-07-10 06:50:37 UTC)));
    assert!(info.avatar.contains("cropcenter:1080:1080"), "the large avatar: {}", info.avatar);
    assert!(info.cover.starts_with("https://p16-sign-sg.tiktokcdn.com/"), "{}", info.cover);
    assert!(info.categories.is_empty());
}

#[tokio::test]
async fn live_room_from_the_room_api() {
    let mock = serve(Reply::fixture(200, "tiktok/room_live.json"), Reply::text(500, "")).await;
    let ctx = mock.context(HOSTS);
    assert_live_info(&TikTok.live_info(&ctx, USER).await.unwrap());
    let seen = mock.seen();
    assert_eq!(seen.len(), 1, "no page request when the API answers");
    assert!(
        seen[0].query.contains("aid=1988") && seen[0].query.contains("uniqueId=seraph_venusttv")
    );
    assert!(seen[0].query.contains("sourceType=54"));
    assert_eq!(seen[0].headers["referer"], "https://www.tiktok.com/@seraph_venusttv/live");
}

#[tokio::test]
async fn stream_ladder_source_first() {
    let mock = serve(Reply::fixture(200, "tiktok/room_live.json"), Reply::text(500, "")).await;
    let variants = TikTok.stream_variants(&mock.context(HOSTS), USER).await.unwrap();
    let summary: Vec<(&str, StreamKind, Option<u32>, Option<u32>)> =
        variants.iter().map(|v| (v.quality.as_str(), v.kind, v.height, v.bitrate_kbps)).collect();
    assert_eq!(
        summary,
        [
            ("原画", StreamKind::Flv, Some(1080), Some(1000)),
            ("原画", StreamKind::Hls, Some(1080), Some(1000)),
            ("1080p60", StreamKind::Flv, Some(1080), Some(5000)),
            ("1080p60", StreamKind::Hls, Some(1080), Some(5000)),
            ("720p60", StreamKind::Flv, Some(720), Some(3000)),
            ("720p60", StreamKind::Hls, Some(720), Some(3000)),
            ("720p", StreamKind::Flv, Some(720), Some(1800)),
            ("720p", StreamKind::Hls, Some(720), Some(1800)),
            ("540p", StreamKind::Flv, Some(540), Some(1200)),
            ("540p", StreamKind::Hls, Some(540), Some(1200)),
            ("360p", StreamKind::Flv, Some(360), Some(600)),
            ("360p", StreamKind::Hls, Some(360), Some(600)),
        ],
        "the platform's own order, audio-only left out"
    );
    assert!(variants[0].source && variants[1].source && !variants[2].source);
    assert!(variants[0].url.contains("stream-2135196102851297364_or4.flv?"), "{}", variants[0].url);
    assert_eq!(variants[0].codec.as_deref(), Some("avc"));
    assert_eq!(variants[0].headers["Referer"], "https://www.tiktok.com/");
    let preference = ["720p60".to_owned()];
    let chosen = onelive_platform::select_variant(&variants, &preference).unwrap();
    assert_eq!((chosen.quality.as_str(), chosen.kind), ("720p60", StreamKind::Flv));
}

#[tokio::test]
async fn page_state_when_the_api_answers_empty() {
    let mock = serve(Reply::text(200, ""), Reply::fixture(200, "tiktok/page_live.html")).await;
    let ctx = mock.context(HOSTS);
    assert_live_info(&TikTok.live_info(&ctx, USER).await.unwrap());
    let variants = TikTok.stream_variants(&ctx, USER).await.unwrap();
    assert_eq!(variants.len(), 12);
    assert!(variants[0].source);
    assert!(mock.seen().iter().any(|s| s.path == PAGE));
}

#[tokio::test]
async fn offline_and_not_found() {
    let mock = serve(Reply::fixture(200, "tiktok/room_offline.json"), Reply::text(500, "")).await;
    let ctx = mock.context(HOSTS);
    let info = TikTok.live_info(&ctx, USER).await.unwrap();
    assert_eq!((info.status, info.uname.as_str()), (LiveStatus::Offline, "seraph_venusTTV"));
    assert_eq!((info.live_id, info.start_time), (None, None));
    assert_eq!(TikTok.stream_variants(&ctx, USER).await.unwrap_err().kind(), ErrorKind::Offline);

    let mock = serve(Reply::fixture(200, "tiktok/room_not_found.json"), Reply::text(500, "")).await;
    let error = TikTok.live_info(&mock.context(HOSTS), USER).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
}

#[tokio::test]
async fn waf_and_region_blocks_are_precise_errors() {
    let mock =
        serve(Reply::text(403, "").header("x-tt-system-error", "3"), Reply::text(500, "")).await;
    let error = TikTok.live_info(&mock.context(HOSTS), USER).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked);
    let text = error.to_string();
    assert!(
        text.contains("WAF") && text.contains("HTTP 403") && text.contains("x-tt-system-error 3"),
        "{text}"
    );

    let mock = serve(Reply::fixture(200, "tiktok/region_block.html"), Reply::text(500, "")).await;
    let error = TikTok.stream_variants(&mock.context(HOSTS), USER).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked);
    assert!(error.to_string().contains("region"), "{error}");

    // The API answers empty and the page is the region block.
    let mock = serve(Reply::text(200, ""), Reply::fixture(200, "tiktok/region_block.html")).await;
    let error = TikTok.live_info(&mock.context(HOSTS), USER).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked, "{error}");
}

#[tokio::test]
async fn changed_answers_are_unexpected() {
    let mock = serve(Reply::text(200, ""), Reply::text(200, "<html>no state here</html>")).await;
    let error = TikTok.live_info(&mock.context(HOSTS), USER).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse);
    let text = error.to_string();
    assert!(text.contains("SIGI_STATE") && text.contains("non-JSON body of 0 bytes"), "{text}");

    let mock = serve(
        Reply::text(200, r#"{"statusCode":4003110,"message":"params_error"}"#),
        Reply::text(500, ""),
    )
    .await;
    let error = TikTok.live_info(&mock.context(HOSTS), USER).await.unwrap_err();
    assert!(error.to_string().contains("statusCode 4003110 params_error"), "{error}");

    let mock = serve(Reply::text(429, ""), Reply::text(500, "")).await;
    assert_eq!(
        TikTok.live_info(&mock.context(HOSTS), USER).await.unwrap_err().kind(),
        ErrorKind::RateLimited
    );
}

#[test]
fn urls() {
    let t = TikTok;
    assert_eq!(t.parse_url("https://www.tiktok.com/@Seraph_VenusTTV/live").as_deref(), Some(USER));
    assert_eq!(
        t.parse_url("tiktok.com/@pilar.magenta/live/?lang=en").as_deref(),
        Some("pilar.magenta")
    );
    for bad in [
        "https://www.tiktok.com/@user",
        "https://www.tiktok.com/@user/video/7360000000000000000",
        "https://www.tiktok.com/live",
        "https://www.tiktok.com/user/live",
        "https://www.tiktok.com/@/live",
        "https://www.tiktok.com.evil.example/@user/live",
    ] {
        assert_eq!(t.parse_url(bad), None, "{bad}");
    }
    assert_eq!(t.channel_url(USER), "https://www.tiktok.com/@seraph_venusttv/live");
    let registry =
        PlatformRegistry::builtin(&PlatformsConfig { streamlink: false, ..Default::default() });
    assert_eq!(registry.resolve("https://www.tiktok.com/@x/live").unwrap().platform, "tiktok");
}
