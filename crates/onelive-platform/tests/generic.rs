//! The generic adapter against a local server.

use onelive_platform::adapters::generic::Generic;
use onelive_platform::{ErrorKind, LiveStatus, PlatformAdapter, StreamKind};

use crate::common::{Mock, Reply, fixture};

async fn serve() -> Mock {
    let mock = Mock::start().await;
    mock.on("/live/master.m3u8", Reply::fixture(200, "generic/master.m3u8"))
        .on("/live/low/index.m3u8", Reply::fixture(200, "generic/media.m3u8"))
        .on("/live/media.m3u8", Reply::fixture(200, "generic/media.m3u8"))
        .on("/live/ended.m3u8", Reply::fixture(200, "generic/ended.m3u8"))
        // A master whose first variant has ended (the second still runs:
        // only the first decides).
        .on("/live/ended_master.m3u8", Reply::fixture(200, "generic/ended_master.m3u8"))
        .on("/live/ended/low.m3u8", Reply::fixture(200, "generic/ended.m3u8"))
        .on("/live/ended/high.m3u8", Reply::fixture(200, "generic/media.m3u8"))
        // A master whose first variant is gone.
        .on(
            "/live/orphan_master.m3u8",
            Reply::text(200, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nnowhere/low.m3u8\n"),
        )
        .on(
            "/live/stream.flv",
            Reply {
                status: 200,
                body: b"FLV\x01\x05\x00\x00\x00\x09rest-of-stream".to_vec(),
                headers: vec![],
            },
        )
        .on("/live/fake.flv", Reply::text(200, "<html>not a stream</html>"))
        .on("/live/page.m3u8", Reply::text(200, "<html>login</html>"))
        .on("/live/forbidden.m3u8", Reply::text(403, "no"))
        .on("/live/broken.m3u8", Reply::text(502, "bad gateway"));
    mock
}

#[tokio::test]
async fn live_hls_master_playlist() {
    let mock = serve().await;
    let ctx = mock.context(&[]);
    let url = format!("{}/live/master.m3u8", mock.base);
    let info = Generic.live_info(&ctx, &url).await.unwrap();
    assert_eq!(info.status, LiveStatus::Live);
    assert_eq!(info.uname, "127.0.0.1");
    assert_eq!(info.title, "master.m3u8");
    let variants = Generic.stream_variants(&ctx, &url).await.unwrap();
    assert_eq!(variants.len(), 2);
    assert_eq!(variants[0].url, format!("{}/live/high/index.m3u8", mock.base));
    assert_eq!(variants[0].height, Some(720));
    assert!(variants[0].source);
    assert_eq!(variants[1].bitrate_kbps, Some(800));
}

#[tokio::test]
async fn live_media_playlist_and_flv() {
    let mock = serve().await;
    let ctx = mock.context(&[]);
    let media = format!("{}/live/media.m3u8", mock.base);
    let variants = Generic.stream_variants(&ctx, &media).await.unwrap();
    assert_eq!(variants.len(), 1);
    assert_eq!(variants[0].url, media);
    assert_eq!(variants[0].kind, StreamKind::Hls);
    assert!(fixture("generic/media.m3u8").contains("#EXTINF"));

    let flv = format!("{}/live/stream.flv", mock.base);
    assert_eq!(Generic.live_info(&ctx, &flv).await.unwrap().status, LiveStatus::Live);
    let variants = Generic.stream_variants(&ctx, &flv).await.unwrap();
    assert_eq!((variants[0].kind, variants[0].url.as_str()), (StreamKind::Flv, flv.as_str()));
}

#[tokio::test]
async fn live_media_playlist_without_endlist_is_live() {
    let mock = serve().await;
    let ctx = mock.context(&[]);
    let url = format!("{}/live/media.m3u8", mock.base);
    assert!(!fixture("generic/media.m3u8").contains("#EXT-X-ENDLIST"));
    assert_eq!(Generic.live_info(&ctx, &url).await.unwrap().status, LiveStatus::Live);
    assert_eq!(mock.seen().len(), 1, "one request for a media playlist");
}

#[tokio::test]
async fn playlist_with_endlist_is_offline() {
    let mock = serve().await;
    let ctx = mock.context(&[]);
    let url = format!("{}/live/ended.m3u8", mock.base);
    assert!(fixture("generic/ended.m3u8").contains("#EXT-X-ENDLIST"));
    let info = Generic.live_info(&ctx, &url).await.unwrap();
    assert_eq!(info.status, LiveStatus::Offline);
    assert_eq!(info.title, "ended.m3u8");
    let error = Generic.stream_variants(&ctx, &url).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Offline);
}

#[tokio::test]
async fn master_playlist_is_decided_by_its_first_variant() {
    let mock = serve().await;
    let ctx = mock.context(&[]);

    let live = format!("{}/live/master.m3u8", mock.base);
    assert_eq!(Generic.live_info(&ctx, &live).await.unwrap().status, LiveStatus::Live);
    let paths: Vec<String> = mock.seen().iter().map(|s| s.path.clone()).collect();
    assert_eq!(paths, ["/live/master.m3u8", "/live/low/index.m3u8"]);

    let ended = format!("{}/live/ended_master.m3u8", mock.base);
    assert_eq!(Generic.live_info(&ctx, &ended).await.unwrap().status, LiveStatus::Offline);
    let error = Generic.stream_variants(&ctx, &ended).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Offline);
    assert!(!mock.seen().iter().any(|s| s.path == "/live/ended/high.m3u8"), "first variant only");

    let orphan = format!("{}/live/orphan_master.m3u8", mock.base);
    assert_eq!(Generic.live_info(&ctx, &orphan).await.unwrap().status, LiveStatus::Offline);
}

#[tokio::test]
async fn missing_url_is_offline() {
    let mock = serve().await;
    let ctx = mock.context(&[]);
    let url = format!("{}/live/gone.m3u8", mock.base);
    assert_eq!(Generic.live_info(&ctx, &url).await.unwrap().status, LiveStatus::Offline);
    assert_eq!(Generic.stream_variants(&ctx, &url).await.unwrap_err().kind(), ErrorKind::Offline);
}

#[tokio::test]
async fn wrong_content_forbidden_and_server_errors() {
    let mock = serve().await;
    let ctx = mock.context(&[]);
    let cases = [
        ("fake.flv", ErrorKind::UnexpectedResponse),
        ("page.m3u8", ErrorKind::UnexpectedResponse),
        ("forbidden.m3u8", ErrorKind::Blocked),
        ("broken.m3u8", ErrorKind::UnexpectedResponse),
    ];
    for (path, kind) in cases {
        let url = format!("{}/live/{path}", mock.base);
        let error = Generic.live_info(&ctx, &url).await.unwrap_err();
        assert_eq!(error.kind(), kind, "{path}: {error}");
    }
}

#[tokio::test]
async fn unreachable_host_is_offline_and_errors_hide_the_query() {
    // Bind and drop a listener: nothing listens on that port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let ctx = crate::common::context_for(&onelive_platform::PlatformsConfig::default());
    let url = format!("http://127.0.0.1:{port}/live/x.m3u8?token=hunter2");
    assert_eq!(Generic.live_info(&ctx, &url).await.unwrap().status, LiveStatus::Offline);
    assert_eq!(Generic.stream_variants(&ctx, &url).await.unwrap_err().kind(), ErrorKind::Offline);

    // The client itself reports the refused connection as a network error.
    let error = ctx.http.get("generic", &url).send().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Network);
    assert!(error.is_retryable());
    let text = error.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}/live/x.m3u8")), "{text}");
    assert!(!text.contains("hunter2"), "query strings never reach errors: {text}");
}
