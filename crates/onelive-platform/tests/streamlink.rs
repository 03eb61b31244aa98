//! The streamlink fallback, offline: streamlink's own `hls://` handling of
//! a loopback playlist. Skipped with a printed notice when the streamlink
//! CLI is not installed (scripts/install-deps.sh installs it).

use onelive_platform::adapters::streamlink::Streamlink;
use onelive_platform::{
    ErrorKind, LiveStatus, PlatformAdapter, PlatformRegistry, PlatformsConfig, StreamKind,
};

use crate::common::{Mock, Reply, context_for};

fn installed() -> bool {
    let ok = Streamlink::new("streamlink").is_installed();
    if !ok {
        eprintln!(
            "NOTICE: streamlink is not installed; skipping this streamlink test (run scripts/install-deps.sh)"
        );
    }
    ok
}

#[tokio::test]
async fn hls_playlist_through_streamlink() {
    if !installed() {
        return;
    }
    let mock = Mock::start().await;
    mock.on("/live/master.m3u8", Reply::fixture(200, "generic/master.m3u8"));
    let config = PlatformsConfig::default();
    let registry = PlatformRegistry::builtin(&config);
    let url = format!("hls://{}/live/master.m3u8", mock.base);
    let channel = registry.resolve(&url).unwrap();
    assert_eq!((channel.platform.as_str(), channel.channel.as_str()), ("streamlink", url.as_str()));

    let ctx = context_for(&config);
    let info = registry.live_info(&ctx, &channel).await.unwrap();
    assert_eq!(info.status, LiveStatus::Live);
    let variants = registry.stream_variants(&ctx, &channel).await.unwrap();
    let names: Vec<&str> = variants.iter().map(|v| v.quality.as_str()).collect();
    assert_eq!(names, ["720p", "360p"]);
    assert!(variants[0].source, "the 'best' stream is the source");
    assert_eq!(variants[0].kind, StreamKind::Hls);
    assert_eq!(variants[0].url, format!("{}/live/high/index.m3u8", mock.base));
    assert_eq!(variants[1].height, Some(360));
    assert!(variants[0].headers.contains_key("User-Agent"));
}

#[tokio::test]
async fn missing_playlist_is_offline() {
    if !installed() {
        return;
    }
    let mock = Mock::start().await;
    let ctx = context_for(&PlatformsConfig::default());
    let url = format!("hls://{}/live/gone.m3u8", mock.base);
    let adapter = Streamlink::new("streamlink");
    assert_eq!(adapter.live_info(&ctx, &url).await.unwrap().status, LiveStatus::Offline);
    assert_eq!(adapter.stream_variants(&ctx, &url).await.unwrap_err().kind(), ErrorKind::Offline);
}

#[test]
fn streamlink_declines_urls_it_has_no_plugin_for() {
    if !installed() {
        return;
    }
    let adapter = Streamlink::new("streamlink");
    assert_eq!(adapter.parse_url("https://example.com/just-a-page"), None);
    assert_eq!(adapter.parse_url("--version"), None, "never passes an option-like argument");
}

#[tokio::test]
async fn missing_program_is_a_tool_error() {
    let adapter = Streamlink::new("/nonexistent/bin/streamlink");
    assert!(!adapter.is_installed());
    assert_eq!(adapter.parse_url("hls://http://127.0.0.1/x.m3u8"), None);
    let ctx = context_for(&PlatformsConfig::default());
    let error = adapter.live_info(&ctx, "hls://http://127.0.0.1/x.m3u8").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Tool);
    assert!(error.to_string().contains("is streamlink installed"), "{error}");
}
