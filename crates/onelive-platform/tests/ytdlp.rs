//! The yt-dlp fallback, offline: the real `yt-dlp` CLI resolving pages
//! served on loopback through its generic (HTML5 `<video>`) extractor.
//! Skipped with a printed notice when yt-dlp is not installed
//! (scripts/install-deps.sh installs it).

#[allow(dead_code)]
mod common;

use std::time::Duration;

use onelive_platform::adapters::ytdlp::YtDlp;
use onelive_platform::{
    ErrorKind, LiveStatus, PlatformAdapter, PlatformRegistry, PlatformsConfig, StreamKind,
};

use common::{Mock, Reply, context_for};

fn installed() -> bool {
    let ok = YtDlp::new("yt-dlp").is_installed();
    if !ok {
        eprintln!(
            "NOTICE: yt-dlp is not installed; skipping this yt-dlp test (run scripts/install-deps.sh)"
        );
    }
    ok
}

fn config() -> PlatformsConfig {
    PlatformsConfig {
        streamlink: false,
        user_agent: Some("onelive-test-agent/1.0".into()),
        timeout_secs: 10,
        ..PlatformsConfig::default()
    }
}

async fn serve() -> Mock {
    let mock = Mock::start().await;
    mock.on("/live/page.html", Reply::fixture(200, "ytdlp/page.html"))
        .on("/live/master.m3u8", Reply::fixture(200, "generic/master.m3u8"))
        .on(
            "/about.html",
            Reply::text(
                200,
                "<html><head><title>About</title></head><body>No video here.</body></html>",
            ),
        );
    mock
}

#[tokio::test]
async fn page_with_a_video_through_the_registry() {
    if !installed() {
        return;
    }
    let mock = serve().await;
    let config = config();
    let registry = PlatformRegistry::builtin(&config);
    let url = format!("ytdlp://{}/live/page.html", mock.base);
    let channel = registry.resolve(&url).unwrap();
    assert_eq!((channel.platform.as_str(), channel.channel.as_str()), ("ytdlp", url.as_str()));

    let ctx = context_for(&config);
    let info = registry.live_info(&ctx, &channel).await.unwrap();
    assert_eq!(info.status, LiveStatus::Live);
    assert!(info.title.starts_with("A loopback live"), "{}", info.title);
    assert!(info.live_id.is_some());
    let variants = registry.stream_variants(&ctx, &channel).await.unwrap();
    let summary: Vec<(&str, StreamKind, Option<u32>, Option<u32>)> =
        variants.iter().map(|v| (v.quality.as_str(), v.kind, v.height, v.bitrate_kbps)).collect();
    assert_eq!(
        summary,
        [
            ("720p", StreamKind::Hls, Some(720), Some(2800)),
            ("360p", StreamKind::Hls, Some(360), Some(800))
        ]
    );
    assert!(variants[0].source && !variants[1].source);
    assert_eq!(variants[0].url, format!("{}/live/high/index.m3u8", mock.base));
    assert_eq!(variants[0].codec.as_deref(), Some("avc"));
    assert_eq!(
        variants[0].headers.get("User-Agent").map(String::as_str),
        Some("onelive-test-agent/1.0")
    );
    let page_requests: Vec<_> =
        mock.seen().into_iter().filter(|s| s.path == "/live/page.html").collect();
    assert_eq!(page_requests[0].headers["user-agent"], "onelive-test-agent/1.0");
}

#[tokio::test]
async fn direct_playlist_missing_page_and_page_without_video() {
    if !installed() {
        return;
    }
    let mock = serve().await;
    let ctx = context_for(&config());
    let adapter = YtDlp::new("yt-dlp");

    let playlist = format!("ytdlp://{}/live/master.m3u8", mock.base);
    let variants = adapter.stream_variants(&ctx, &playlist).await.unwrap();
    assert_eq!(variants.iter().map(|v| v.height).collect::<Vec<_>>(), [Some(720), Some(360)]);

    let gone = format!("ytdlp://{}/live/gone.html", mock.base);
    assert_eq!(adapter.live_info(&ctx, &gone).await.unwrap().status, LiveStatus::Offline);
    assert_eq!(adapter.stream_variants(&ctx, &gone).await.unwrap_err().kind(), ErrorKind::Offline);

    let about = format!("ytdlp://{}/about.html?token=secret", mock.base);
    let error = adapter.live_info(&ctx, &about).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnsupportedUrl, "{error}");
    assert!(!error.to_string().contains("secret"), "{error}");
}

#[test]
fn youtube_goes_to_ytdlp_when_streamlink_does_not_take_it() {
    if !installed() {
        return;
    }
    let registry = PlatformRegistry::builtin(&config());
    let channel = registry.resolve("https://www.youtube.com/@lofigirl/live").unwrap();
    assert_eq!(channel.platform, "ytdlp");
    // Plain page URLs are not claimed: yt-dlp's generic extractor would try anything.
    assert!(registry.resolve("https://example.com/some/page").is_err());
    assert_eq!(
        YtDlp::new("yt-dlp").parse_url("ytdlp://--exec=rm"),
        None,
        "never passes an option-like argument"
    );
}

#[tokio::test]
async fn missing_program_is_not_used() {
    let adapter = YtDlp::new("/nonexistent/bin/yt-dlp");
    assert!(!adapter.is_installed());
    assert_eq!(adapter.parse_url("ytdlp://http://127.0.0.1/x.html"), None);
    assert_eq!(adapter.parse_url("https://www.youtube.com/@lofigirl/live"), None);
    let error = adapter
        .live_info(&context_for(&config()), "ytdlp://http://127.0.0.1/x.html")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Tool);
    assert!(error.to_string().contains("is yt-dlp installed"), "{error}");
    assert_eq!(adapter.min_poll_interval(), Some(Duration::from_secs(30)));
}

#[test]
fn switched_on_and_off_like_streamlink() {
    let names = |config: &PlatformsConfig| -> Vec<String> {
        PlatformRegistry::builtin(config).adapters().iter().map(|a| a.name().to_owned()).collect()
    };
    let all = names(&PlatformsConfig::default());
    assert_eq!(
        &all[all.len() - 3..],
        ["generic", "streamlink", "ytdlp"],
        "ytdlp comes after streamlink"
    );
    for text in [
        "ytdlp = false",
        "[ytdlp]\nenabled = false",
        "[ytdlp]\nenabled = false\nproxy = \"http://127.0.0.1:1\"",
    ] {
        let config: PlatformsConfig = toml::from_str(text).unwrap();
        assert!(!config.ytdlp, "{text}");
        assert!(!names(&config).contains(&"ytdlp".to_owned()), "{text}");
    }
    let config: PlatformsConfig =
        toml::from_str("[streamlink]\nenabled = false\nuser_agent = \"x\"").unwrap();
    assert!(!config.streamlink && config.ytdlp);
    assert_eq!(config.site("streamlink").user_agent.as_deref(), Some("x"));
    assert!(!names(&config).contains(&"streamlink".to_owned()));
    // The table form survives a round trip.
    let text = toml::to_string(&config).unwrap();
    let again: PlatformsConfig = toml::from_str(&text).unwrap();
    assert_eq!(again, config, "{text}");

    let error = toml::from_str::<PlatformsConfig>("[douyin]\nenabled = false").unwrap_err();
    assert!(error.to_string().contains("only the streamlink and ytdlp fallbacks"), "{error}");
    let error = toml::from_str::<PlatformsConfig>("[ytdlp]\nenabeld = false").unwrap_err();
    assert!(error.to_string().contains("enabeld"), "{error}");
}
