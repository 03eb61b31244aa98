//! SOOP (AfreecaTV) against fixture responses.

use onelive_platform::adapters::soop::Soop;
use onelive_platform::{ErrorKind, LiveStatus, PlatformAdapter, StreamKind};

use crate::common::{Mock, NOW, Reply};

const HOSTS: &[&str] =
    &["live.sooplive.co.kr", "chapi.sooplive.co.kr", "livestream-manager.sooplive.co.kr"];
const PLAYER: &str = "/live.sooplive.co.kr/afreeca/player_live_api.php";
const STATION: &str = "/chapi.sooplive.co.kr/api/pyh3646/station";
const ASSIGN: &str = "/livestream-manager.sooplive.co.kr/broad_stream_assign.html";

async fn serve(station: Reply, live: Reply) -> Mock {
    let mock = Mock::start().await;
    mock.on(STATION, station);
    for quality in ["original", "hd4k", "hd"] {
        mock.on_body(
            PLAYER,
            &format!("quality={quality}"),
            Reply::fixture(200, &format!("soop/aid_{quality}.json")),
        )
        .on_query(
            ASSIGN,
            &format!("-common-{quality}-hls"),
            Reply::fixture(200, &format!("soop/assign_{quality}.json")),
        );
    }
    mock.on_body(PLAYER, "type=live", live);
    mock
}

#[tokio::test]
async fn live_channel() {
    let mock =
        serve(Reply::fixture(200, "soop/station_live.json"), Reply::fixture(200, "soop/live.json"))
            .await;
    let info = Soop.live_info(&mock.context(HOSTS), "pyh3646").await.unwrap();
    assert_eq!(info.status, LiveStatus::Live);
    assert_eq!(info.uid, "pyh3646");
    assert_eq!(info.uname, "닉네임");
    assert_eq!(info.title, "오늘도 VRChat 탐방");
    assert_eq!(info.categories, ["VRChat"]);
    assert_eq!(info.live_id.as_deref(), Some("281257200"));
    assert_eq!(info.avatar, "https://profile.img.sooplive.example/LOGO/py/pyh3646/pyh3646.jpg");
    assert_eq!(info.cover, "https://liveimg.sooplive.co.kr/m/281257200");
    // BTIME is seconds since the start: 3600 before the fixed clock.
    assert_eq!(info.start_time, Some(NOW - time::Duration::hours(1)));
    let seen = mock.seen();
    let player = seen.iter().find(|s| s.path == PLAYER).unwrap();
    assert!(
        player.body.contains("bid=pyh3646") && player.body.contains("type=live"),
        "{}",
        player.body
    );
    assert_eq!(player.method, "POST");
    assert_eq!(
        player.headers.get("origin").map(String::as_str),
        Some("https://play.sooplive.co.kr")
    );
}

#[tokio::test]
async fn offline_channel() {
    let mock = serve(
        Reply::fixture(200, "soop/station_offline.json"),
        Reply::fixture(200, "soop/offline.json"),
    )
    .await;
    let ctx = mock.context(HOSTS);
    let info = Soop.live_info(&ctx, "pyh3646").await.unwrap();
    assert_eq!(info.status, LiveStatus::Offline);
    assert_eq!(info.uname, "닉네임");
    assert_eq!(info.live_id, None);
    assert_eq!(info.start_time, None);
    assert_eq!(Soop.stream_variants(&ctx, "pyh3646").await.unwrap_err().kind(), ErrorKind::Offline);
}

#[tokio::test]
async fn adult_broadcast_needs_login() {
    let mock = serve(
        Reply::fixture(200, "soop/station_live.json"),
        Reply::fixture(200, "soop/adult.json"),
    )
    .await;
    let ctx = mock.context(HOSTS);
    let info = Soop.live_info(&ctx, "pyh3646").await.unwrap();
    assert_eq!(info.status, LiveStatus::Live, "a 19+ broadcast is live, only its stream is locked");
    assert_eq!(info.title, "19금 방송");
    let error = Soop.stream_variants(&ctx, "pyh3646").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::LoginRequired);
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn not_found_rate_limited_and_malformed() {
    let m = serve(
        Reply::fixture(200, "soop/station_not_found.json"),
        Reply::fixture(200, "soop/offline.json"),
    )
    .await;
    assert_eq!(
        Soop.live_info(&m.context(HOSTS), "pyh3646").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let m = serve(Reply::text(515, ""), Reply::fixture(200, "soop/offline.json")).await;
    assert_eq!(
        Soop.live_info(&m.context(HOSTS), "pyh3646").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );

    let m = serve(
        Reply::fixture(200, "soop/station_live.json"),
        Reply::text(429, "").header("Retry-After", "60"),
    )
    .await;
    let error = Soop.live_info(&m.context(HOSTS), "pyh3646").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert_eq!(error.retry_after(), Some(std::time::Duration::from_secs(60)));

    let m = serve(
        Reply::fixture(200, "soop/station_live.json"),
        Reply::text(200, "{\"CHANNEL\":\"maintenance\"}"),
    )
    .await;
    let error = Soop.live_info(&m.context(HOSTS), "pyh3646").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse);
    assert!(error.to_string().contains("CHANNEL: {RESULT}"), "{error}");
}

#[tokio::test]
async fn stream_variants_per_preset() {
    let mock =
        serve(Reply::fixture(200, "soop/station_live.json"), Reply::fixture(200, "soop/live.json"))
            .await;
    let variants = Soop.stream_variants(&mock.context(HOSTS), "pyh3646").await.unwrap();
    let names: Vec<&str> = variants.iter().map(|v| v.quality.as_str()).collect();
    assert_eq!(names, ["원본", "720p", "540p"], "auto is skipped");
    assert!(variants[0].source);
    assert_eq!(variants[0].kind, StreamKind::Hls);
    assert_eq!(
        variants[0].url,
        "https://live-global-cdn-v02.sooplive.example/live-stmc-1/auth_playlist.m3u8?aid=.A32.7bbT56vyHM9fKZk.original-token"
    );
    assert_eq!(variants[1].height, Some(720));
    assert_eq!(variants[1].bitrate_kbps, Some(4000));
    assert_eq!(variants[0].cdn.as_deref(), Some("gcp_cdn"));
    assert_eq!(
        variants[0].headers.get("Referer").map(String::as_str),
        Some("https://play.sooplive.co.kr/pyh3646")
    );
    let assign = mock.seen().into_iter().find(|s| s.path == ASSIGN).unwrap();
    assert!(assign.query.contains("broad_key=281257200-common-original-hls"), "{}", assign.query);
    assert!(assign.query.contains("return_type=gcp_cdn"));
}
