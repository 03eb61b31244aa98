//! SOOP (AfreecaTV) against fixture responses.

use onelive_platform::adapters::soop::Soop;
use onelive_platform::{ErrorKind, LiveStatus, PlatformAdapter, StreamKind};

use crate::common::{Mock, NOW, Reply, fixture};

const HOSTS: &[&str] =
    &["live.sooplive.com", "chapi.sooplive.co.kr", "livestream-manager.sooplive.co.kr"];
const PLAYER: &str = "/live.sooplive.com/afreeca/player_live_api.php";
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
    assert_eq!(info.avatar, "https://profile.img.sooplive.co.kr/LOGO/py/pyh3646/pyh3646.jpg");
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
    assert!(player.body.contains("quality=master"), "{}", player.body);
    assert_eq!(player.method, "POST");
    assert_eq!(player.headers.get("origin").map(String::as_str), Some("https://play.sooplive.com"));
    assert!(!seen.iter().any(|s| s.path == STATION), "a live channel needs no station call");
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
    assert_eq!(info.uname, "닉네임", "an offline channel's name comes from the station API");
    assert_eq!(info.avatar, "https://profile.img.sooplive.example/LOGO/py/pyh3646/pyh3646.jpg");
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
        Some("https://play.sooplive.com/pyh3646")
    );
    let assign = mock.seen().into_iter().find(|s| s.path == ASSIGN).unwrap();
    assert!(assign.query.contains("broad_key=281257200-common-original-hls"), "{}", assign.query);
    assert!(assign.query.contains("return_type=gcp_cdn"));
}

/// The player API with `CDN` set to `cdn` (the synthetic live fixture, changed).
fn live_on(cdn: &str) -> Reply {
    Reply::text(200, &fixture("soop/live.json").replace("\"gcp_cdn\"", &format!("\"{cdn}\"")))
}

/// What SOOP does since 2025-12 (streamlink PR #6749): a raw `lg_cdn`
/// return type gets HTTP 400; only the mapped `lg_cdn_pc_web` gets a view URL.
async fn serve_strict_assign(live: Reply) -> Mock {
    let mock = Mock::start().await;
    mock.on(STATION, Reply::fixture(200, "soop/station_live.json"));
    for quality in ["original", "hd4k", "hd"] {
        mock.on_body(
            PLAYER,
            &format!("quality={quality}"),
            Reply::fixture(200, &format!("soop/aid_{quality}.json")),
        );
        for mapped in ["lg_cdn_pc_web", "gs_cdn_pc_web"] {
            mock.on_query(
                ASSIGN,
                &format!("return_type={mapped}&broad_key=281257200-common-{quality}-hls"),
                Reply::fixture(200, &format!("soop/assign_{quality}.json")),
            );
        }
    }
    mock.on(ASSIGN, Reply::text(400, "<html><body>400 Bad Request</body></html>"));
    mock.on_body(PLAYER, "type=live", live);
    mock
}

#[tokio::test]
async fn lg_cdn_and_gs_cdn_are_mapped_for_the_assign_request() {
    for (cdn, mapped) in [("lg_cdn", "lg_cdn_pc_web"), ("gs_cdn", "gs_cdn_pc_web")] {
        let mock = serve_strict_assign(live_on(cdn)).await;
        let variants = Soop.stream_variants(&mock.context(HOSTS), "pyh3646").await.unwrap();
        let names: Vec<&str> = variants.iter().map(|v| v.quality.as_str()).collect();
        assert_eq!(names, ["원본", "720p", "540p"], "{cdn}");
        assert!(variants[0].source);
        assert_eq!(variants[0].cdn.as_deref(), Some(cdn));
        let assigns: Vec<String> =
            mock.seen().into_iter().filter(|s| s.path == ASSIGN).map(|s| s.query).collect();
        assert_eq!(assigns.len(), 3, "{assigns:?}");
        assert!(
            assigns.iter().all(|q| q.starts_with(&format!("return_type={mapped}&"))),
            "{assigns:?}"
        );
    }
}

#[tokio::test]
async fn one_failing_preset_does_not_hide_the_others() {
    let mock = Mock::start().await;
    mock.on_body(PLAYER, "quality=original", Reply::fixture(200, "soop/aid_original.json"))
        .on_body(PLAYER, "quality=hd4k", Reply::text(200, "{\"CHANNEL\":{\"RESULT\":-1}}"))
        .on_body(PLAYER, "quality=hd", Reply::fixture(200, "soop/aid_hd.json"))
        .on_query(ASSIGN, "-common-original-hls", Reply::text(400, "Bad Request"))
        .on_query(ASSIGN, "-common-hd-hls", Reply::fixture(200, "soop/assign_hd.json"))
        .on_body(PLAYER, "type=live", Reply::fixture(200, "soop/live.json"));
    let variants = Soop.stream_variants(&mock.context(HOSTS), "pyh3646").await.unwrap();
    let names: Vec<&str> = variants.iter().map(|v| v.quality.as_str()).collect();
    assert_eq!(names, ["540p"], "original (assign 400) and 720p (aid -1) are skipped");

    // When every preset fails, the error names the first failure precisely.
    let mock = serve_strict_assign(live_on("some_new_cdn")).await;
    let error = Soop.stream_variants(&mock.context(HOSTS), "pyh3646").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse);
    let text = error.to_string();
    assert!(
        text.contains("preset original") && text.contains("return_type=some_new_cdn"),
        "{text}"
    );
    assert!(text.contains("HTTP 400"), "{text}");
}

#[tokio::test]
async fn a_failing_station_api_never_hides_a_live_stream() {
    for station in [Reply::text(500, "oops"), Reply::text(403, "<html>denied</html>")] {
        let mock = serve(station, Reply::fixture(200, "soop/live.json")).await;
        let ctx = mock.context(HOSTS);
        let info = Soop.live_info(&ctx, "pyh3646").await.unwrap();
        assert_eq!(info.status, LiveStatus::Live);
        assert_eq!(info.uname, "닉네임");
    }
    // Offline with a broken station API: still offline, without the name.
    let mock = serve(Reply::text(500, "oops"), Reply::fixture(200, "soop/offline.json")).await;
    let info = Soop.live_info(&mock.context(HOSTS), "pyh3646").await.unwrap();
    assert_eq!(info.status, LiveStatus::Offline);
}

#[tokio::test]
async fn age_gate_and_region_stub() {
    let mock = serve(
        Reply::fixture(200, "soop/station_live.json"),
        Reply::text(200, "{\"CHANNEL\":{\"RESULT\":-8,\"TITLE\":\"19\",\"BTIME\":5}}"),
    )
    .await;
    let ctx = mock.context(HOSTS);
    assert_eq!(Soop.live_info(&ctx, "pyh3646").await.unwrap().status, LiveStatus::Live);
    let error = Soop.stream_variants(&ctx, "pyh3646").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::LoginRequired);
    assert!(error.to_string().contains("[platforms.soop] cookies"), "{error}");

    // The stub rust-srec's tests quote for a GDPR region: RESULT 0 but not offline.
    let mock = serve(
        Reply::fixture(200, "soop/station_live.json"),
        Reply::text(200, "{\"CHANNEL\":{\"geo_cc\":\"ES\",\"RESULT\":0,\"GDPR\":true}}"),
    )
    .await;
    let ctx = mock.context(HOSTS);
    let error = Soop.live_info(&ctx, "pyh3646").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked);
    assert!(error.to_string().contains("geo ES"), "{error}");
    assert_eq!(Soop.stream_variants(&ctx, "pyh3646").await.unwrap_err().kind(), ErrorKind::Blocked);
}

#[tokio::test]
async fn real_player_responses() {
    // Real answers quoted in HO-Silverplate/SOOP_APIs (see fixtures/soop/real/README.md).
    let mock = serve(
        Reply::fixture(200, "soop/station_live.json"),
        Reply::fixture(200, "soop/real/player_live.json"),
    )
    .await;
    let info = Soop.live_info(&mock.context(HOSTS), "someone").await.unwrap();
    assert_eq!(info.status, LiveStatus::Live);
    assert_eq!(info.categories, ["VRChat"]);
    assert_eq!(info.start_time, Some(NOW - time::Duration::seconds(12084)));
    assert_eq!(info.title, "******");

    let mock = serve(
        Reply::fixture(200, "soop/station_offline.json"),
        Reply::fixture(200, "soop/real/player_offline.json"),
    )
    .await;
    let ctx = mock.context(HOSTS);
    assert_eq!(Soop.live_info(&ctx, "pyh3646").await.unwrap().status, LiveStatus::Offline);
    assert_eq!(Soop.stream_variants(&ctx, "pyh3646").await.unwrap_err().kind(), ErrorKind::Offline);

    let mock = serve(
        Reply::fixture(200, "soop/station_live.json"),
        Reply::fixture(200, "soop/real/player_adult.json"),
    )
    .await;
    let ctx = mock.context(HOSTS);
    assert_eq!(Soop.live_info(&ctx, "pyh3646").await.unwrap().status, LiveStatus::Live);
    assert_eq!(
        Soop.stream_variants(&ctx, "pyh3646").await.unwrap_err().kind(),
        ErrorKind::LoginRequired
    );
}
