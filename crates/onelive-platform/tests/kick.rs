//! Kick against fixture responses.

use onelive_platform::adapters::kick::Kick;
use onelive_platform::{ErrorKind, LiveStatus, PlatformAdapter, StreamKind};
use time::macros::datetime;

use crate::common::{Mock, Reply};

const PLAYBACK_HOST: &str = "fa723fc1b171.us-west-2.playback.live-video.net";
const HOSTS: &[&str] = &["kick.com", PLAYBACK_HOST];
const API: &str = "/kick.com/api/v2/channels/xqc";
const PLAYBACK: &str = "/fa723fc1b171.us-west-2.playback.live-video.net/api/video/v1/us-west-2.196233775518.channel.xAo7ICkvU9sB.m3u8";

async fn serve(channel: Reply) -> Mock {
    let mock = Mock::start().await;
    mock.on(API, channel).on(PLAYBACK, Reply::fixture(200, "kick/master.m3u8"));
    mock
}

#[tokio::test]
async fn live_channel() {
    let mock = serve(Reply::fixture(200, "kick/channel_live.json")).await;
    let info = Kick.live_info(&mock.context(HOSTS), "xqc").await.unwrap();
    assert_eq!(info.status, LiveStatus::Live);
    assert_eq!(info.uid, "676");
    assert_eq!(info.uname, "xQc");
    assert_eq!(info.title, "JUICED REACT | !socials");
    assert_eq!(info.categories, ["Just Chatting"]);
    assert_eq!(info.live_id.as_deref(), Some("90000001"));
    assert_eq!(info.start_time, Some(datetime!(2024-05-01 09:15:02 UTC)));
    assert_eq!(info.cover, "https://images.kick.example/video_thumbnails/x/720.webp");
    assert!(info.avatar.ends_with("/p.webp"));
    assert_eq!(mock.seen()[0].headers.get("accept").map(String::as_str), Some("application/json"));
}

#[tokio::test]
async fn offline_channel() {
    let mock = serve(Reply::fixture(200, "kick/channel_offline.json")).await;
    let ctx = mock.context(HOSTS);
    let info = Kick.live_info(&ctx, "xqc").await.unwrap();
    assert_eq!(info.status, LiveStatus::Offline);
    assert_eq!(info.uname, "xQc");
    assert_eq!(info.title, "");
    assert_eq!(info.live_id, None);
    assert_eq!(Kick.stream_variants(&ctx, "xqc").await.unwrap_err().kind(), ErrorKind::Offline);
}

#[tokio::test]
async fn not_found_challenge_rate_limit_and_malformed() {
    let cases = [
        (Reply::fixture(404, "kick/not_found.json"), ErrorKind::NotFound),
        (Reply::fixture(403, "kick/challenge.html"), ErrorKind::Blocked),
        (Reply::text(429, "{\"message\":\"Too Many Attempts.\"}"), ErrorKind::RateLimited),
        (Reply::text(200, "{\"message\":\"Server Error\"}"), ErrorKind::UnexpectedResponse),
        (Reply::fixture(200, "kick/challenge.html"), ErrorKind::Blocked),
    ];
    for (reply, kind) in cases {
        let mock = serve(reply).await;
        let error = Kick.live_info(&mock.context(HOSTS), "xqc").await.unwrap_err();
        assert_eq!(error.kind(), kind, "{error}");
    }
}

#[tokio::test]
async fn stream_variants_from_the_master_playlist() {
    let mock = serve(Reply::fixture(200, "kick/channel_live.json")).await;
    let variants = Kick.stream_variants(&mock.context(HOSTS), "xqc").await.unwrap();
    let names: Vec<&str> = variants.iter().map(|v| v.quality.as_str()).collect();
    assert_eq!(names, ["1080p60", "720p60", "360p30"], "sorted best first");
    assert!(variants[0].source);
    assert_eq!(variants[0].kind, StreamKind::Hls);
    assert_eq!(
        variants[0].url,
        "https://video-weaver.pdx01.hls.live-video.example/v1/playlist/1080p60.m3u8"
    );
    assert_eq!(variants[0].width, Some(1920));
    assert_eq!(variants[2].bitrate_kbps, Some(730));
    assert_eq!(variants[0].headers.get("Referer").map(String::as_str), Some("https://kick.com/"));
}

#[tokio::test]
async fn a_cloudflare_challenge_says_so_and_what_to_do() {
    for reply in [
        Reply::fixture(403, "kick/challenge.html"),
        Reply::text(403, "<html>…</html>").header("cf-mitigated", "challenge"),
    ] {
        let mock = serve(reply).await;
        let error = Kick.live_info(&mock.context(HOSTS), "xqc").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Blocked);
        let text = error.to_string();
        assert!(text.contains("Kick answered with a Cloudflare challenge (HTTP 403)"), "{text}");
        assert!(
            text.contains("[platforms.kick] cookies")
                && text.contains("[platforms.kick] user_agent"),
            "{text}"
        );
    }
    // A 403 that is not a challenge is reported with what Kick said.
    let mock = serve(Reply::text(403, "{\"message\":\"This channel is banned.\"}")).await;
    let error = Kick.live_info(&mock.context(HOSTS), "xqc").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Blocked);
    assert!(error.to_string().contains("This channel is banned."), "{error}");
    assert!(!error.to_string().contains("challenge (HTTP"), "{error}");
}

#[tokio::test]
async fn browser_session_headers() {
    let mock = serve(Reply::fixture(200, "kick/channel_live.json")).await;
    let mut config = mock.config(HOSTS);
    let site = config.sites.entry("kick".into()).or_default();
    site.cookies = Some("cf_clearance=abc; XSRF-TOKEN=eyJpdiI6%3D%3D; kick_session=s".into());
    site.user_agent = Some(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
         Chrome/131.0.0.0 Safari/537.36"
            .into(),
    );
    let ctx = crate::common::context_for(&config);
    Kick.live_info(&ctx, "xqc").await.unwrap();
    let seen = mock.seen();
    let headers = &seen[0].headers;
    assert_eq!(headers.get("authorization").map(String::as_str), Some("Bearer eyJpdiI6=="));
    assert!(headers.get("cookie").is_some_and(|c| c.contains("cf_clearance=abc")));
    assert_eq!(
        headers.get("sec-ch-ua").map(String::as_str),
        Some("\"Not:A-Brand\";v=\"24\", \"Chromium\";v=\"131\"")
    );
    assert_eq!(headers.get("sec-ch-ua-platform").map(String::as_str), Some("\"Windows\""));
    assert!(headers.get("user-agent").is_some_and(|u| u.contains("Chrome/131")));
}
