use std::path::Path;
use std::time::Duration;

use onelive_events::{EventData, LiveInfo};
use onelive_recorder::{
    EndReason, Engine, EventContext, FilenameTemplate, RecorderError, RecordingConfig, SplitPolicy,
    StreamKind, StreamSource, record,
};
use onelive_synthetic::{SyntheticOptions, SyntheticOrigin};
use tokio::sync::mpsc;

use crate::common::{check_file_events, drain, errors, probe, wait_for_bytes, wait_for_file_bytes};

fn context(title: &str) -> EventContext {
    let mut ctx = EventContext::new("test", "chan");
    ctx.live_info = {
        let mut built = LiveInfo::default();
        built.uname = "streamer".into();
        built.title = title.into();
        built
    };
    ctx.session_id = Some(onelive_events::Uuid::new_v4());
    ctx
}

/// The ffmpeg engine's own tests (the native engine's are in `native.rs`).
fn config(url: String, kind: StreamKind, dir: &Path) -> RecordingConfig {
    let mut cfg = RecordingConfig::new(StreamSource::new(url, kind), dir);
    cfg.engine = Engine::Ffmpeg;
    cfg.template = FilenameTemplate::parse("{uname}-{title}-{part:03}.{ext}").unwrap();
    cfg.min_free_bytes = 0;
    cfg.stall_timeout = Duration::from_secs(10);
    cfg
}

async fn origin() -> SyntheticOrigin {
    SyntheticOrigin::start(SyntheticOptions::default()).await.unwrap()
}

#[tokio::test]
async fn records_ten_seconds_of_hls_into_one_valid_file() {
    let origin = origin().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(origin.hls_url(), StreamKind::Hls, dir.path());
    cfg.stop_after = Some(Duration::from_secs(10));
    let (tx, mut rx) = mpsc::channel(64);
    let recording = record(cfg, context("ten"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(40), recording.wait()).await.unwrap();
    assert_eq!(outcome.reason, EndReason::LimitReached);
    assert_eq!(outcome.files.len(), 1, "{outcome:?}");
    assert_eq!(outcome.next_part, 2);
    let events = drain(&mut rx);
    assert_eq!(events.len(), 2, "exactly create + finish: {events:?}");
    let paths = check_file_events(&events).await;
    assert_eq!(paths, [dir.path().join("streamer-ten-001.ts").to_string_lossy()]);
    let (duration, _) = probe(Path::new(&paths[0])).await;
    assert!((duration - 10.0).abs() <= 1.0, "duration {duration}");
    assert_eq!(outcome.files[0].size, std::fs::metadata(&paths[0]).unwrap().len());
    let EventData::VideoFileFinish(f) = &events[1].data else { panic!() };
    assert_eq!(f.live_info.as_ref().unwrap().title, "ten");
    assert!(f.session_id.is_some());
}

#[tokio::test]
async fn splits_by_duration_into_several_valid_files() {
    let origin = origin().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(origin.hls_url(), StreamKind::Hls, dir.path());
    cfg.split = SplitPolicy { max_duration: Some(Duration::from_secs(4)), max_bytes: None };
    cfg.stop_after = Some(Duration::from_secs(10));
    let (tx, mut rx) = mpsc::channel(64);
    let recording = record(cfg, context("split"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(60), recording.wait()).await.unwrap();
    assert_eq!(outcome.reason, EndReason::LimitReached, "{outcome:?}");
    assert!(outcome.files.len() >= 3, "{outcome:?}");
    let events = drain(&mut rx);
    assert!(errors(&events).is_empty(), "{:?}", errors(&events));
    let paths = check_file_events(&events).await;
    assert_eq!(paths.len(), outcome.files.len());
    for (i, p) in paths.iter().enumerate() {
        assert!(p.ends_with(&format!("streamer-split-{:03}.ts", i + 1)), "{p}");
        let (duration, _) = probe(Path::new(p)).await;
        assert!((1.0..=5.0).contains(&duration), "{p}: {duration}");
    }
    let total: f64 = outcome.files.iter().map(|f| f.duration).sum();
    assert!((total - 10.0).abs() <= 1.5, "total {total}");
}

#[tokio::test]
async fn splits_by_size() {
    let origin = origin().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(origin.flv_url(), StreamKind::Flv, dir.path());
    cfg.split = SplitPolicy { max_duration: None, max_bytes: Some(128 * 1024) };
    cfg.stop_after = Some(Duration::from_secs(8));
    let (tx, mut rx) = mpsc::channel(64);
    let recording = record(cfg, context("size"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(60), recording.wait()).await.unwrap();
    assert!(outcome.files.len() >= 2, "{outcome:?}");
    for f in &outcome.files[..outcome.files.len() - 1] {
        assert!(f.size >= 128 * 1024 && f.size < 256 * 1024, "{f:?}");
    }
    check_file_events(&drain(&mut rx)).await;
}

#[tokio::test]
async fn watchdog_fires_when_the_origin_stalls_and_the_file_is_kept() {
    let origin = origin().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(origin.hls_url(), StreamKind::Hls, dir.path());
    cfg.stall_timeout = Duration::from_secs(3);
    cfg.io_timeout = Duration::from_secs(60);
    let (tx, mut rx) = mpsc::channel(64);
    let recording = record(cfg, context("stall"), tx).await.unwrap();
    wait_for_file_bytes(&recording, 80_000).await;
    origin.freeze();
    let frozen_at = tokio::time::Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(30), recording.wait()).await.unwrap();
    let took = frozen_at.elapsed();
    assert_eq!(outcome.reason, EndReason::Stalled { after: Duration::from_secs(3) }, "{outcome:?}");
    // 3 s without progress, then at most 0.3 s for `q`, 1 s between the
    // two SIGTERMs and 2 s before SIGKILL (plus slack for a loaded machine).
    assert!(took < Duration::from_secs(8), "watchdog took {took:?}");
    let events = drain(&mut rx);
    assert_eq!(outcome.files.len(), 1, "{outcome:?} {:?}", errors(&events));
    let paths = check_file_events(&events).await;
    assert_eq!(paths.len(), 1);
    let errs = errors(&events);
    assert!(errs.iter().any(|e| e.contains("stalled")), "{errs:?}");
    assert_eq!(outcome.next_part, 2, "the caller restarts into part 2");
}

#[tokio::test]
async fn origin_killed_mid_recording_ends_with_a_reason_and_a_valid_file() {
    let mut origin = origin().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(origin.hls_url(), StreamKind::Hls, dir.path());
    cfg.stall_timeout = Duration::from_secs(4);
    cfg.io_timeout = Duration::from_secs(3);
    let (tx, mut rx) = mpsc::channel(64);
    let recording = record(cfg, context("killed"), tx).await.unwrap();
    wait_for_file_bytes(&recording, 80_000).await;
    origin.stop().await;
    let outcome = tokio::time::timeout(Duration::from_secs(30), recording.wait()).await.unwrap();
    // ffmpeg's HLS demuxer gives up on refused playlist reloads and exits 0;
    // the recorder tells that apart from a real end of stream.
    let EndReason::SourceLost { stderr } = &outcome.reason else { panic!("{outcome:?}") };
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert_eq!(outcome.files.len(), 1, "{outcome:?}");
    let events = drain(&mut rx);
    assert_eq!(check_file_events(&events).await.len(), 1);
    let errs = errors(&events);
    assert!(errs.iter().any(|e| e.contains("lost the stream source")), "{errs:?}");
}

#[tokio::test]
async fn stop_while_recording_finalizes_the_file() {
    let origin = origin().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(origin.hls_url(), StreamKind::Hls, dir.path());
    let (tx, mut rx) = mpsc::channel(64);
    let recording = record(cfg, context("stop"), tx).await.unwrap();
    wait_for_file_bytes(&recording, 80_000).await;
    let progress = recording.progress();
    assert!(progress.bytes_written > 0 && progress.current_file.is_some(), "{progress:?}");
    let outcome = tokio::time::timeout(Duration::from_secs(20), recording.stop()).await.unwrap();
    assert_eq!(outcome.reason, EndReason::Stopped);
    assert_eq!(outcome.files.len(), 1);
    let events = drain(&mut rx);
    assert!(errors(&events).is_empty(), "{:?}", errors(&events));
    assert_eq!(check_file_events(&events).await.len(), 1);
}

#[tokio::test]
async fn records_http_flv() {
    let origin = origin().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(origin.flv_url(), StreamKind::Flv, dir.path());
    cfg.stop_after = Some(Duration::from_secs(4));
    let (tx, mut rx) = mpsc::channel(64);
    let recording = record(cfg, context("flv"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(30), recording.wait()).await.unwrap();
    assert_eq!(outcome.reason, EndReason::LimitReached, "{outcome:?}");
    let paths = check_file_events(&drain(&mut rx)).await;
    assert_eq!(paths.len(), 1);
    assert!(paths[0].ends_with(".flv"));
    let (duration, _) = probe(Path::new(&paths[0])).await;
    assert!((duration - 4.0).abs() <= 1.0, "{duration}");
}

#[tokio::test]
async fn hostile_title_gives_a_safe_readable_file_name() {
    let origin = origin().await;
    let dir = tempfile::tempdir().unwrap();
    let title = format!("a/b %Y {{title}} 🎉 ..\\{}", "x".repeat(300));
    let mut cfg = config(origin.flv_url(), StreamKind::Flv, dir.path());
    cfg.template = FilenameTemplate::parse("{title}-{start_time:%Y}-{part}").unwrap();
    cfg.stop_after = Some(Duration::from_secs(2));
    let (tx, mut rx) = mpsc::channel(64);
    let recording = record(cfg, context(&title), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(30), recording.wait()).await.unwrap();
    assert_eq!(outcome.files.len(), 1, "{outcome:?}");
    let path = &outcome.files[0].path;
    assert_eq!(path.parent(), Some(dir.path()), "no directory escape: {path:?}");
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("a_b ％Y {title} 🎉 .._xxx"), "{name}");
    let year = onelive_events::OffsetDateTime::now_utc().year();
    assert!(name.ends_with(&format!("-{year}-1.flv")), "{name}");
    assert!(name.len() <= 240, "{}", name.len());
    check_file_events(&drain(&mut rx)).await;
}

#[tokio::test]
async fn disk_guard_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config("http://127.0.0.1:9/x.m3u8".into(), StreamKind::Hls, dir.path());
    let free = onelive_recorder::free_bytes(dir.path()).unwrap();
    cfg.min_free_bytes = free + (1 << 40);
    let (tx, mut rx) = mpsc::channel(8);
    let err = record(cfg, context("disk"), tx).await.unwrap_err();
    assert!(matches!(err, RecorderError::LowDiskSpace { .. }), "{err}");
    assert!(err.to_string().contains("not enough disk space"), "{err}");
    let errs = errors(&drain(&mut rx));
    assert_eq!(errs.len(), 1);
    assert!(errs[0].contains("not enough disk space"), "{errs:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn unreachable_origin_is_reported_with_ffmpeg_output_and_no_secret() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/live.flv?token=supersecret-token");
    let mut cfg = config(url, StreamKind::Flv, dir.path());
    cfg.source = cfg.source.with_cookie("SESSDATA=cookie-secret-value");
    cfg.reconnect = false;
    let (tx, mut rx) = mpsc::channel(8);
    let recording = record(cfg, context("down"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(20), recording.wait()).await.unwrap();
    let EndReason::FfmpegFailed { exit_code, stderr } = &outcome.reason else {
        panic!("{outcome:?}");
    };
    assert_ne!(*exit_code, Some(0));
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(!stderr.contains("supersecret-token"), "{stderr}");
    let events = drain(&mut rx);
    assert!(events.iter().all(|e| !matches!(e.data, EventData::VideoFileCreate(_))));
    let errs = errors(&events);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("ffmpeg exited with code"), "{errs:?}");
    assert!(!errs[0].contains("supersecret-token") && !errs[0].contains("cookie-secret"));
    assert!(outcome.files.is_empty() && outcome.discarded.is_empty());
}

#[tokio::test]
async fn invalid_configs_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config("not a url".into(), StreamKind::Hls, dir.path());
    let (tx, _rx) = mpsc::channel(8);
    let err = record(cfg.clone(), context("x"), tx.clone()).await.unwrap_err();
    assert!(err.to_string().contains("not a valid URL"), "{err}");
    cfg.source.url = "http://127.0.0.1:9/x".into();
    cfg.split.max_duration = Some(Duration::from_millis(10));
    let err = record(cfg.clone(), context("x"), tx.clone()).await.unwrap_err();
    assert!(err.to_string().contains("max_duration"), "{err}");
}

/// A stand-in ffmpeg that leaves `content` (a shell expression) in its output
/// file and exits 0: the recorder must not announce such a file.
fn fake_ffmpeg(dir: &Path, name: &str, content: &str) -> std::path::PathBuf {
    let script = dir.join(name);
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a; do last=\"$a\"; done\n{content} > \"$last\"\nsleep 0.6\nexit 0\n"
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    script
}

#[tokio::test]
async fn empty_or_unplayable_leftovers_are_removed_and_reported_not_announced() {
    let tools = tempfile::tempdir().unwrap();
    for (name, content, why) in [
        ("empty.sh", ":", "empty file"),
        ("garbage.sh", "head -c 20000 /dev/urandom", "unplayable"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config("http://127.0.0.1:9/live.flv".into(), StreamKind::Flv, dir.path());
        cfg.ffmpeg = fake_ffmpeg(tools.path(), name, content);
        let (tx, mut rx) = mpsc::channel(16);
        let recording = record(cfg, context("leftover"), tx).await.unwrap();
        let outcome =
            tokio::time::timeout(Duration::from_secs(20), recording.wait()).await.unwrap();
        assert!(outcome.files.is_empty(), "{outcome:?}");
        assert_eq!(outcome.discarded.len(), 1, "{outcome:?}");
        assert!(!outcome.discarded[0].exists(), "leftover removed");
        let events = drain(&mut rx);
        assert!(matches!(events[0].data, EventData::VideoFileCreate(_)), "{events:?}");
        assert!(
            events.iter().all(|e| !matches!(e.data, EventData::VideoFileFinish(_))),
            "never announced: {events:?}"
        );
        let errs = errors(&events);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("removed") && errs[0].contains(why), "{errs:?}");
    }
}

#[tokio::test]
async fn dropping_the_handle_stops_and_still_announces_the_file() {
    let origin = origin().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(origin.hls_url(), StreamKind::Hls, dir.path());
    let (tx, mut rx) = mpsc::channel(64);
    let recording = record(cfg, context("drop"), tx).await.unwrap();
    wait_for_file_bytes(&recording, 40_000).await;
    drop(recording);
    let mut events = Vec::new();
    // The channel closes once the background task has finished.
    let all = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(e) = rx.recv().await {
            events.push(e);
        }
    })
    .await;
    assert!(all.is_ok(), "recording did not finish after drop");
    assert_eq!(check_file_events(&events).await.len(), 1, "{events:?}");
}

#[tokio::test]
async fn headers_cookie_and_user_agent_reach_the_origin() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/live.flv?token=abcdefgh", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        let _ = socket.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
        String::from_utf8_lossy(&request).into_owned()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(url, StreamKind::Flv, dir.path());
    cfg.reconnect = false;
    cfg.source = cfg
        .source
        .with_cookie("SESSDATA=cookie-secret-value")
        .with_header("Referer", "https://live.example/1");
    cfg.source.user_agent = Some("onelive-test/1.0".into());
    let (tx, _rx) = mpsc::channel(16);
    let recording = record(cfg, context("headers"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(20), recording.wait()).await.unwrap();
    let request = server.await.unwrap();
    assert!(request.starts_with("GET /live.flv?token=abcdefgh "), "{request}");
    // (Header names are case-insensitive; the loopback proxy sends them lower-case.)
    let lower = request.to_ascii_lowercase();
    assert!(lower.contains("\r\ncookie: sessdata=cookie-secret-value\r\n"), "{request}");
    assert!(lower.contains("\r\nreferer: https://live.example/1\r\n"), "{request}");
    assert!(lower.contains("\r\nuser-agent: onelive-test/1.0\r\n"), "{request}");
    let EndReason::FfmpegFailed { stderr, .. } = &outcome.reason else { panic!("{outcome:?}") };
    assert!(stderr.contains("404"), "{stderr}");
}

#[tokio::test]
async fn disk_guard_stops_a_running_recording_cleanly() {
    let origin = origin().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(origin.hls_url(), StreamKind::Hls, dir.path());
    let free = onelive_recorder::free_bytes(dir.path()).unwrap();
    if free < 12 << 30 {
        eprintln!("skipping: needs 12 GiB free, has {free}");
        return;
    }
    // Below the threshold once 4 GiB are taken; other writers on the disk
    // have a 2 GiB margin.
    cfg.min_free_bytes = free - (2 << 30);
    let (tx, mut rx) = mpsc::channel(64);
    let recording = record(cfg, context("disk"), tx).await.unwrap();
    wait_for_bytes(&recording).await;
    let filler = dir.path().join("filler.bin");
    let status = tokio::process::Command::new("fallocate")
        .args(["-l", "4G"])
        .arg(&filler)
        .status()
        .await
        .unwrap();
    assert!(status.success(), "fallocate failed");
    let outcome = tokio::time::timeout(Duration::from_secs(20), recording.wait()).await.unwrap();
    let _ = std::fs::remove_file(&filler);
    assert!(matches!(outcome.reason, EndReason::LowDiskSpace { .. }), "{outcome:?}");
    assert_eq!(outcome.files.len(), 1, "the file so far is announced");
    let events = drain(&mut rx);
    assert_eq!(check_file_events(&events).await.len(), 1);
    let errs = errors(&events);
    assert!(errs.iter().any(|e| e.contains("below the minimum")), "{errs:?}");
}

#[tokio::test]
async fn a_stream_that_ends_is_stream_ended_not_a_failure() {
    let options = SyntheticOptions { duration: Some(Duration::from_secs(6)), ..Default::default() };
    let origin = SyntheticOrigin::start(options).await.unwrap();
    for (url, kind) in [(origin.hls_url(), StreamKind::Hls), (origin.flv_url(), StreamKind::Flv)] {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::channel(64);
        let recording = record(config(url, kind, dir.path()), context("end"), tx).await.unwrap();
        let outcome =
            tokio::time::timeout(Duration::from_secs(30), recording.wait()).await.unwrap();
        assert_eq!(outcome.reason, EndReason::StreamEnded, "{kind:?}: {outcome:?}");
        assert_eq!(outcome.files.len(), 1, "{kind:?}: {outcome:?}");
        let events = drain(&mut rx);
        assert!(errors(&events).is_empty(), "{:?}", errors(&events));
        check_file_events(&events).await;
    }
}

/// Requests a cookie-checking gate in front of the synthetic origin saw.
#[derive(Debug, Default)]
struct GateCounts {
    served: std::sync::atomic::AtomicUsize,
    refused: std::sync::atomic::AtomicUsize,
    segments: std::sync::atomic::AtomicUsize,
}

/// A loopback origin that requires `Cookie: SESSDATA=<cookie>` on every
/// request (playlists and segments), forwarding to the synthetic origin.
async fn cookie_gate(
    origin: std::net::SocketAddr,
    cookie: &'static str,
) -> (std::net::SocketAddr, std::sync::Arc<GateCounts>) {
    use axum::response::IntoResponse;
    use std::sync::atomic::Ordering;
    let counts = std::sync::Arc::new(GateCounts::default());
    let c = std::sync::Arc::clone(&counts);
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let c = std::sync::Arc::clone(&c);
        async move {
            let ok = request
                .headers()
                .get("cookie")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == format!("SESSDATA={cookie}"));
            if !ok {
                c.refused.fetch_add(1, Ordering::SeqCst);
                return (axum::http::StatusCode::FORBIDDEN, Vec::new()).into_response();
            }
            let path = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap();
            if path.contains(".ts") {
                c.segments.fetch_add(1, Ordering::SeqCst);
            }
            let upstream = reqwest::get(format!("http://{origin}{path}")).await.unwrap();
            let status = upstream.status().as_u16();
            let kind = upstream
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = upstream.bytes().await.unwrap().to_vec();
            c.served.fetch_add(1, Ordering::SeqCst);
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [(axum::http::header::CONTENT_TYPE, kind)],
                body,
            )
                .into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, counts)
}

/// Command lines of this process's live ffmpeg children.
fn ffmpeg_command_lines() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some((name, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if name.ends_with("(ffmpeg")
            && fields.get(1) == Some(&me.as_str())
            && let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline"))
        {
            out.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
        }
    }
    out
}

#[tokio::test]
async fn cookies_reach_every_hls_request_but_not_the_ffmpeg_command_line() {
    use std::sync::atomic::Ordering;
    const COOKIE: &str = "cookie-only-for-the-origin-8f3a";
    let origin = origin().await;
    let (gate, counts) = cookie_gate(origin.addr(), COOKIE).await;
    let hls_path = origin.hls_url().split_once(&origin.addr().to_string()).unwrap().1.to_owned();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(format!("http://{gate}{hls_path}"), StreamKind::Hls, dir.path());
    cfg.source = cfg.source.with_cookie(format!("SESSDATA={COOKIE}"));
    cfg.source.user_agent = Some("onelive-test/1.0".into());
    cfg.stop_after = Some(Duration::from_secs(8));
    let (tx, mut rx) = mpsc::channel(64);
    let recording = record(cfg, context("gated"), tx).await.unwrap();
    // While it records: the ffmpeg child writing into `dir` has no cookie in argv.
    let out_dir = dir.path().to_string_lossy().into_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let ours = loop {
        if let Some(line) = ffmpeg_command_lines().into_iter().find(|l| l.contains(&out_dir)) {
            break line;
        }
        assert!(std::time::Instant::now() < deadline, "no ffmpeg child writing into {out_dir}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!ours.contains(COOKIE), "the cookie is on ffmpeg's command line: {ours}");
    assert!(!ours.to_ascii_lowercase().contains("cookie"), "{ours}");
    assert!(!ours.contains("onelive-test/1.0") && !ours.contains(&format!("{gate}/")), "{ours}");
    let outcome = tokio::time::timeout(Duration::from_secs(90), recording.wait()).await.unwrap();
    assert_eq!(outcome.reason, EndReason::LimitReached, "{outcome:?}");
    assert_eq!(outcome.files.len(), 1, "{outcome:?}");
    let events = drain(&mut rx);
    assert!(errors(&events).is_empty(), "{events:?}");
    let paths = check_file_events(&events).await;
    let (duration, streams) = probe(Path::new(&paths[0])).await;
    assert!((duration - 8.0).abs() <= 1.5, "duration {duration}");
    assert_eq!(streams.len(), 2, "{streams:?}");
    assert_eq!(counts.refused.load(Ordering::SeqCst), 0, "a request came without the cookie");
    assert!(counts.segments.load(Ordering::SeqCst) >= 3, "{counts:?}");
}
