use std::time::Duration;

use onelive_synthetic::{OriginState, SyntheticError, SyntheticOptions, SyntheticOrigin};

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap()
}

/// Runs ffprobe on a URL or path and returns the codec names it sees.
async fn probe_codecs(input: &str) -> Vec<String> {
    let out = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-rw_timeout", "10000000", "-show_entries", "stream=codec_name"])
        .args(["-of", "csv=p=0", input])
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "ffprobe failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut codecs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    // HLS lists each stream once per program and once globally.
    codecs.sort();
    codecs.dedup();
    codecs
}

#[tokio::test]
async fn hls_playlist_and_segments_are_served_with_content_types() {
    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    assert!(origin.hls_url().starts_with("http://127.0.0.1:"));
    let http = client();
    let resp = http.get(origin.hls_url()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/vnd.apple.mpegurl");
    let playlist = resp.text().await.unwrap();
    assert!(playlist.starts_with("#EXTM3U"), "{playlist}");
    let segment = playlist.lines().find(|l| l.ends_with(".ts")).expect("a segment line");
    let base = origin.hls_url().rsplit_once('/').unwrap().0.to_owned();
    let resp = http.get(format!("{base}/{segment}")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "video/mp2t");
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.first(), Some(&0x47), "an MPEG-TS sync byte");
    // Unknown paths are not served (no traversal).
    let resp = http.get(format!("{base}/..%2Fetc%2Fpasswd")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let codecs = probe_codecs(&origin.hls_url()).await;
    assert_eq!(codecs, ["aac", "h264"]);
}

#[tokio::test]
async fn flv_endpoint_streams_a_live_flv() {
    let origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let http = client();
    let mut resp = http.get(origin.flv_url()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "video/x-flv");
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"FLV"), "FLV signature");
    drop(resp);
    let codecs = probe_codecs(&origin.flv_url()).await;
    assert_eq!(codecs, ["aac", "h264"]);
}

#[tokio::test]
async fn a_stream_with_a_duration_ends_with_endlist() {
    let options = SyntheticOptions { duration: Some(Duration::from_secs(2)), ..Default::default() };
    let origin = SyntheticOrigin::start(options).await.unwrap();
    let http = client();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = http.get(origin.hls_url()).send().await.unwrap().text().await.unwrap();
        if text.contains("#EXT-X-ENDLIST") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no ENDLIST: {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The FLV stream ends too: the whole body arrives and is short.
    let body = http.get(origin.flv_url()).send().await.unwrap().bytes().await.unwrap();
    assert!(body.starts_with(b"FLV"));
}

#[tokio::test]
async fn freeze_stalls_requests_and_stop_closes_the_port_and_restart_serves_again() {
    let mut origin = SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap();
    let url = origin.hls_url();
    let http = client();
    origin.freeze();
    assert_eq!(origin.state(), OriginState::Frozen);
    let stalled = tokio::time::timeout(Duration::from_millis(700), http.get(&url).send()).await;
    assert!(stalled.is_err(), "a frozen origin must not answer");
    origin.unfreeze();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);

    // An FLV stream in flight ends when the origin is stopped.
    let mut flv = http.get(origin.flv_url()).send().await.unwrap();
    assert!(flv.chunk().await.unwrap().is_some());
    origin.stop().await;
    assert_eq!(origin.state(), OriginState::Stopped);
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = flv.chunk().await {}
    })
    .await;
    assert!(drained.is_ok(), "the FLV stream must end when the origin stops");
    let refused = http.get(&url).send().await;
    assert!(refused.is_err(), "the port must be closed");

    origin.restart().await.unwrap();
    assert_eq!(origin.hls_url(), url, "same address after restart");
    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().starts_with("#EXTM3U"));
}

#[tokio::test]
async fn bad_options_and_missing_ffmpeg_are_clear_errors() {
    let odd = SyntheticOptions { width: 321, ..Default::default() };
    let err = SyntheticOrigin::start(odd).await.unwrap_err();
    assert!(matches!(err, SyntheticError::InvalidOptions(_)), "{err}");
    assert!(err.to_string().contains("even"), "{err}");
    let missing = SyntheticOptions { ffmpeg: "/nonexistent/ffmpeg".into(), ..Default::default() };
    let err = SyntheticOrigin::start(missing).await.unwrap_err();
    assert!(matches!(err, SyntheticError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/ffmpeg"), "{err}");
}
