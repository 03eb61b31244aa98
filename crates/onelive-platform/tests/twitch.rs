//! Twitch against fixture responses.

use std::time::Duration;

use onelive_platform::adapters::twitch::Twitch;
use onelive_platform::{ErrorKind, LiveStatus, PlatformAdapter, StreamKind, select_variant};
use time::macros::datetime;

use crate::common::{Mock, Reply};

const HOSTS: &[&str] = &["gql.twitch.tv", "usher.ttvnw.net"];
const GQL: &str = "/gql.twitch.tv/gql";
const USHER: &str = "/usher.ttvnw.net/api/v2/channel/hls/gamerbee.m3u8";

async fn serve(info: Reply, token: Reply, usher: Reply) -> Mock {
    let mock = Mock::start().await;
    mock.on_body(GQL, "streamPlaybackAccessToken", token).on(GQL, info).on(USHER, usher);
    mock
}

async fn live() -> Mock {
    serve(
        Reply::fixture(200, "twitch/gql_live.json"),
        Reply::fixture(200, "twitch/token.json"),
        Reply::fixture(200, "twitch/usher_master.m3u8"),
    )
    .await
}

#[tokio::test]
async fn live_channel() {
    let mock = live().await;
    let info = Twitch.live_info(&mock.context(HOSTS), "gamerbee").await.unwrap();
    assert_eq!(info.status, LiveStatus::Live);
    assert_eq!(info.uid, "12826");
    assert_eq!(info.uname, "GamerBee");
    assert_eq!(info.title, "Ranked grind | !socials");
    assert_eq!(info.categories, ["Just Chatting"]);
    assert_eq!(info.live_id.as_deref(), Some("40000000001"));
    assert_eq!(info.start_time, Some(datetime!(2024-05-01 10:30:00 UTC)));
    assert!(info.cover.ends_with("live_user_gamerbee-1280x720.jpg"));
    assert!(info.avatar.ends_with("profile_image-300x300.png"));
    let seen = mock.seen();
    assert_eq!(
        seen[0].headers.get("client-id").map(String::as_str),
        Some("kimne78kx3ncx6brgo4mv6wki5h1ko")
    );
    assert!(seen[0].body.contains("\"login\":\"gamerbee\""), "{}", seen[0].body);
}

#[tokio::test]
async fn offline_channel_keeps_last_title() {
    let mock = serve(
        Reply::fixture(200, "twitch/gql_offline.json"),
        Reply::fixture(200, "twitch/token_offline.json"),
        Reply::fixture(404, "twitch/usher_offline.json"),
    )
    .await;
    let ctx = mock.context(HOSTS);
    let info = Twitch.live_info(&ctx, "gamerbee").await.unwrap();
    assert_eq!(info.status, LiveStatus::Offline);
    assert_eq!(info.title, "Yesterday's VOD title");
    assert_eq!(info.live_id, None);
    assert!(info.categories.is_empty());
    assert_eq!(
        Twitch.stream_variants(&ctx, "gamerbee").await.unwrap_err().kind(),
        ErrorKind::Offline
    );
}

#[tokio::test]
async fn usher_404_is_offline() {
    let mock = serve(
        Reply::fixture(200, "twitch/gql_live.json"),
        Reply::fixture(200, "twitch/token.json"),
        Reply::fixture(404, "twitch/usher_offline.json"),
    )
    .await;
    let error = Twitch.stream_variants(&mock.context(HOSTS), "gamerbee").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Offline);
}

#[tokio::test]
async fn not_found() {
    let mock = serve(
        Reply::fixture(200, "twitch/gql_not_found.json"),
        Reply::fixture(200, "twitch/token_offline.json"),
        Reply::fixture(404, "twitch/usher_offline.json"),
    )
    .await;
    let error = Twitch.live_info(&mock.context(HOSTS), "nosuchuser").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn rate_limit_integrity_and_geoblock() {
    let mock = serve(
        Reply::text(429, "{\"error\":\"Too Many Requests\"}").header("Retry-After", "12"),
        Reply::fixture(200, "twitch/gql_integrity.json"),
        Reply::fixture(403, "twitch/usher_geoblocked.json"),
    )
    .await;
    let ctx = mock.context(HOSTS);
    let error = Twitch.live_info(&ctx, "gamerbee").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(12)));
    let error = Twitch.stream_variants(&ctx, "gamerbee").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked);
    assert!(error.to_string().contains("integrity"), "{error}");

    let mock = serve(
        Reply::fixture(200, "twitch/gql_live.json"),
        Reply::fixture(200, "twitch/token.json"),
        Reply::fixture(403, "twitch/usher_geoblocked.json"),
    )
    .await;
    let error = Twitch.stream_variants(&mock.context(HOSTS), "gamerbee").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked);
    assert!(error.to_string().contains("not available in your region"), "{error}");
}

#[tokio::test]
async fn malformed_gql_and_playlist() {
    let mock = serve(
        Reply::text(200, "<html><body>upstream error</body></html>"),
        Reply::fixture(200, "twitch/token.json"),
        Reply::text(200, "this is not a playlist"),
    )
    .await;
    let ctx = mock.context(HOSTS);
    let error = Twitch.live_info(&ctx, "gamerbee").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse);
    assert!(error.to_string().contains("expected GQL JSON"), "{error}");
    let error = Twitch.stream_variants(&ctx, "gamerbee").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedResponse);
    let text = error.to_string();
    assert!(text.contains("HLS master playlist"), "{text}");
    assert!(!text.contains("0123456789abcdef0123"), "the signature must not leak: {text}");
}

#[tokio::test]
async fn stream_variants_of_a_live_channel() {
    let mock = live().await;
    let variants = Twitch.stream_variants(&mock.context(HOSTS), "gamerbee").await.unwrap();
    let names: Vec<&str> = variants.iter().map(|v| v.quality.as_str()).collect();
    assert_eq!(names, ["1080p60 (source)", "720p60", "480p", "audio_only"]);
    assert!(variants[0].source && !variants[1].source);
    assert_eq!(variants[0].kind, StreamKind::Hls);
    assert_eq!(variants[0].height, Some(1080));
    assert_eq!(variants[0].bitrate_kbps, Some(8354));
    assert_eq!(
        variants[1].url,
        "https://video-weaver.fra02.hls.ttvnw.example/v1/playlist/Cs0E720p60.m3u8"
    );
    let usher = mock.seen().into_iter().find(|s| s.path == USHER).unwrap();
    assert!(usher.query.contains("sig=0123456789abcdef0123456789abcdef01234567"));
    assert!(usher.query.contains("allow_source=true"));
    assert!(usher.query.contains("token=%7B"), "{}", usher.query);
}

#[tokio::test]
async fn oauth_token_from_cookie() {
    let mock = live().await;
    let mut config = mock.config(HOSTS);
    config.sites.entry("twitch".into()).or_default().cookies =
        Some("unique_id=1; auth-token=abcdef123456".into());
    let ctx = crate::common::context_for(&config);
    Twitch.live_info(&ctx, "gamerbee").await.unwrap();
    let seen = mock.seen();
    assert_eq!(
        seen[0].headers.get("authorization").map(String::as_str),
        Some("OAuth abcdef123456")
    );
    assert!(!seen[0].headers.contains_key("cookie"), "cookies are not sent to GQL");
}

#[tokio::test]
async fn usher_v2_lists_the_source_last_and_the_source_is_still_chosen() {
    // The real usher v2 layout (streamlink's fixture): transcodes first, source last.
    let mock = serve(
        Reply::fixture(200, "twitch/gql_live.json"),
        Reply::fixture(200, "twitch/real/token.json"),
        Reply::fixture(200, "twitch/real/usher_v2_master.m3u8"),
    )
    .await;
    let variants = Twitch.stream_variants(&mock.context(HOSTS), "gamerbee").await.unwrap();
    let names: Vec<&str> = variants.iter().map(|v| v.quality.as_str()).collect();
    assert_eq!(names, ["1080p60", "720p60", "480p", "360p", "160p", "audio_only"]);
    assert!(variants[0].source);
    assert_eq!(variants[0].url, "https://mocked/1080p60.m3u8");
    assert!(variants[1..].iter().all(|v| !v.source));
    assert_eq!(select_variant(&variants, &[]).unwrap().quality, "1080p60", "default = source");
    assert_eq!(select_variant(&variants, &["best".into()]).unwrap().quality, "1080p60");
    assert_eq!(select_variant(&variants, &["720p".into()]).unwrap().quality, "720p60");
    // The real token's value and signature go to usher as they came.
    let usher = mock.seen().into_iter().find(|s| s.path == USHER).unwrap();
    assert!(
        usher.query.contains("sig=f8d7138235f99f5da071a3c785f67798be3a7cd5"),
        "{}",
        usher.query
    );
    for param in ["allow_source=true", "platform=web", "playlist_include_framerate=true"] {
        assert!(usher.query.contains(param), "{param} in {}", usher.query);
    }
}

#[tokio::test]
async fn integrity_401_says_integrity_not_oauth() {
    let mock = serve(
        Reply::fixture(200, "twitch/gql_live.json"),
        Reply::fixture(401, "twitch/real/token_401_integrity.json"),
        Reply::fixture(200, "twitch/real/usher_v2_master.m3u8"),
    )
    .await;
    let error = Twitch.stream_variants(&mock.context(HOSTS), "gamerbee").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked);
    let text = error.to_string();
    assert!(text.contains("HTTP 401 \"failed integrity check\""), "{text}");
    assert!(text.contains("client-integrity") && !text.contains("refused"), "{text}");

    // A real invalid-token 401 is a login problem, quoted.
    let mock = serve(
        Reply::fixture(200, "twitch/gql_live.json"),
        Reply::fixture(401, "twitch/real/token_401_invalid_oauth.json"),
        Reply::fixture(200, "twitch/real/usher_v2_master.m3u8"),
    )
    .await;
    let error = Twitch.stream_variants(&mock.context(HOSTS), "gamerbee").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::LoginRequired);
    assert!(error.to_string().contains("The \"Authorization\" token is invalid."), "{error}");
}

#[tokio::test]
async fn real_usher_refusals() {
    let mock = serve(
        Reply::fixture(200, "twitch/gql_live.json"),
        Reply::fixture(200, "twitch/real/token.json"),
        Reply::fixture(404, "twitch/real/usher_404_offline.json"),
    )
    .await;
    let error = Twitch.stream_variants(&mock.context(HOSTS), "gamerbee").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Offline);
    let mock = serve(
        Reply::fixture(200, "twitch/gql_live.json"),
        Reply::fixture(200, "twitch/real/token.json"),
        Reply::fixture(403, "twitch/real/usher_403_geoblocked.json"),
    )
    .await;
    let error = Twitch.stream_variants(&mock.context(HOSTS), "gamerbee").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked);
    assert!(error.to_string().contains("Content Restricted In Region"), "{error}");
}

#[tokio::test]
async fn real_stream_metadata_answer() {
    // The real StreamMetadata capture has no displayName and no stream title:
    // the login and the last broadcast's title stand in.
    let mock = serve(
        Reply::fixture(200, "twitch/real/stream_metadata.json"),
        Reply::fixture(200, "twitch/real/token.json"),
        Reply::fixture(200, "twitch/real/usher_v2_master.m3u8"),
    )
    .await;
    let info = Twitch.live_info(&mock.context(HOSTS), "abby_").await.unwrap();
    assert_eq!(info.status, LiveStatus::Live);
    assert_eq!(info.uid, "167100879");
    assert_eq!(info.uname, "abby_");
    assert!(info.title.starts_with("🥊 LA DES-VELADA"), "{}", info.title);
    assert_eq!(info.categories, ["Just Chatting"]);
    assert_eq!(info.live_id.as_deref(), Some("322765853689"));
    assert_eq!(info.start_time, Some(datetime!(2025-07-06 14:24:56 UTC)));
}
