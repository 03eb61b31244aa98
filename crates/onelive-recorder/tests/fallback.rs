//! Streams the native engine cannot handle fall back to ffmpeg for that
//! recording, with an `error` event that says why, and ffmpeg records them
//! from the same source: the same headers, and for single-use URLs a fresh
//! URL from the resolver. Loopback origins written here check the headers of
//! every request they get.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onelive_recorder::{
    EndReason, Engine, EventContext, RecordingConfig, SourceResolver, StreamKind, StreamSource,
    record,
};
use tokio::io::AsyncWriteExt;

use crate::common::{drain, errors, probe, read_head};
use crate::native::decodes_cleanly;

/// A request an origin received: its path and `Cookie` header.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    cookie: Option<String>,
}

fn cookie_of(head: &str) -> Option<String> {
    head.lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("cookie")))
        .map(|(_, v)| v.trim().to_owned())
}

fn reply(status: &str, body: &[u8]) -> Vec<u8> {
    let mut r =
        format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
            .into_bytes();
    r.extend_from_slice(body);
    r
}

const KEY: [u8; 16] = *b"0123456789abcdef";
/// The IV as ffmpeg's key info file takes it (the playlist writes `0x` before it).
const IV: &str = "000102030405060708090a0b0c0d0e0f";
const COOKIE: &str = "SESSDATA=fallback-cookie-secret";

/// Encodes 6 s of 320x240 HLS with AES-128 encrypted 1 s MPEG-TS segments
/// into `dir`; returns (file, EXTINF) of each segment.
async fn encode_encrypted(dir: &Path) -> Vec<(String, f64)> {
    std::fs::write(dir.join("key.bin"), KEY).unwrap();
    std::fs::write(
        dir.join("key.info"),
        format!("key.bin\n{}\n{IV}\n", dir.join("key.bin").display()),
    )
    .unwrap();
    let status = tokio::process::Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "6"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0"])
        .args(["-hls_key_info_file", "key.info", "-hls_segment_filename", "e%d.ts", "enc.m3u8"])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(dir.join("enc.m3u8")).unwrap();
    assert!(text.contains("METHOD=AES-128"), "{text}");
    let mut out = Vec::new();
    let mut dur = 0.0;
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            dur = d.trim_end_matches(',').parse().unwrap();
        } else if !line.starts_with('#') && !line.is_empty() {
            out.push((line.to_owned(), dur));
        }
    }
    assert!(out.len() >= 5, "{text}");
    out
}

/// A live encrypted HLS origin over `segs` in `dir` (3 segments at first,
/// one more a second, `#EXT-X-ENDLIST` once all are out) that answers 403
/// to any request without [`COOKIE`]. Returns its URL and the requests seen.
async fn encrypted_origin(
    dir: PathBuf,
    segs: Vec<(String, f64)>,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let started = tokio::time::Instant::now();
    let (dir, segs, log) = (Arc::new(dir), Arc::new(segs), seen.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (dir, segs, log) = (dir.clone(), segs.clone(), log.clone());
            tokio::spawn(async move {
                let Some(head) = read_head(&mut sock).await else { return };
                let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let name =
                    target.trim_start_matches('/').split('?').next().unwrap_or("").to_owned();
                let cookie = cookie_of(&head);
                log.lock().unwrap().push(Seen { path: name.clone(), cookie: cookie.clone() });
                let answer = if cookie.as_deref() != Some(COOKIE) {
                    reply("403 Forbidden", b"")
                } else if name == "live.m3u8" {
                    let shown = (3 + started.elapsed().as_secs() as usize).min(segs.len());
                    let mut p = format!(
                        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n\
                         #EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\",IV=0x{IV}\n"
                    );
                    for (file, d) in &segs[..shown] {
                        p.push_str(&format!("#EXTINF:{d:.6},\n{file}\n"));
                    }
                    if shown == segs.len() {
                        p.push_str("#EXT-X-ENDLIST\n");
                    }
                    reply("200 OK", p.as_bytes())
                } else if !name.contains('/') && !name.contains("..") {
                    match std::fs::read(dir.join(&name)) {
                        Ok(b) => reply("200 OK", &b),
                        Err(_) => reply("404 Not Found", b""),
                    }
                } else {
                    reply("404 Not Found", b"")
                };
                let _ = sock.write_all(&answer).await;
            });
        }
    });
    (format!("http://{addr}/live.m3u8?token=enc-token-secret"), seen)
}

fn native(source: StreamSource, dir: &Path) -> RecordingConfig {
    let mut cfg = RecordingConfig::new(source, dir);
    cfg.engine = Engine::Native;
    cfg.min_free_bytes = 0;
    cfg
}

#[tokio::test]
async fn encrypted_hls_falls_back_to_ffmpeg_with_the_same_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let segs = encode_encrypted(&media).await;
    let total: f64 = segs.iter().map(|s| s.1).sum();
    let (url, seen) = encrypted_origin(media, segs).await;
    let source = StreamSource::new(url, StreamKind::Hls).with_cookie(COOKIE);
    let cfg = native(source, &tmp.path().join("out"));
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let recording = record(cfg, EventContext::new("test", "enc"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(120), recording.wait())
        .await
        .expect("the stream ends");
    let events = drain(&mut rx);
    let errs = errors(&events);
    // One error event, saying why, free of the secrets.
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("native engine cannot record this stream")
            && errs[0].contains("encrypted (AES-128)")
            && errs[0].contains("recording it with ffmpeg"),
        "{errs:?}"
    );
    assert!(!errs[0].contains("enc-token-secret") && !errs[0].contains("fallback-cookie"));
    assert_eq!(outcome.reason, EndReason::StreamEnded, "{errs:?}");
    assert_eq!(outcome.files.len(), 1, "{outcome:?}");
    let f = &outcome.files[0];
    assert_eq!(f.path.extension().unwrap(), "ts");
    // ffmpeg fetched the key and decrypted the segments: the file decodes
    // and holds the stream (from a few segments behind the live edge).
    decodes_cleanly(&f.path).await;
    let (duration, types) = probe(&f.path).await;
    assert_eq!(types, ["audio", "video"]);
    assert!(duration >= 2.5 && duration <= total + 0.1, "{duration} of {total}");
    assert!((f.duration - duration).abs() < 0.1, "{f:?} vs {duration}");
    // Every request, the native engine's and ffmpeg's (through the header
    // proxy: playlist reloads, the key, the segments), carried the cookie.
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().all(|s| s.cookie.as_deref() == Some(COOKIE)), "{seen:?}");
    assert!(seen.iter().any(|s| s.path == "key.bin"), "{seen:?}");
    assert!(seen.iter().filter(|s| s.path.ends_with(".ts")).count() >= 3, "{seen:?}");
    assert!(seen.iter().filter(|s| s.path == "live.m3u8").count() >= 2, "{seen:?}");
}

/// Encodes a 4 s 320x240 MPEG-TS (H.264 + AAC) into `dir`.
async fn encode_ts(dir: &Path) -> Vec<u8> {
    let path = dir.join("source.ts");
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "4"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-f", "mpegts"])
        .arg(&path)
        .status()
        .await
        .unwrap();
    assert!(status.success());
    std::fs::read(path).unwrap()
}

#[tokio::test]
async fn a_stream_url_that_is_not_flv_goes_to_ffmpeg_as_a_fresh_resolved_url() {
    // A CDN that answers a `.flv` URL with MPEG-TS (an unknown container
    // for the native FLV reader) and serves each signed URL once, to the
    // cookie the resolver gave with it.
    let tmp = tempfile::tempdir().unwrap();
    let body = Arc::new(encode_ts(tmp.path()).await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (body, log) = (body.clone(), log.clone());
            tokio::spawn(async move {
                let Some(head) = read_head(&mut sock).await else { return };
                let target = head.split_whitespace().nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or("").to_owned();
                let cookie = cookie_of(&head);
                let first_time = {
                    let mut l = log.lock().unwrap();
                    let first = !l.iter().any(|s: &Seen| s.path == path);
                    l.push(Seen { path: path.clone(), cookie: cookie.clone() });
                    first
                };
                // `/once/N.flv` wants `Cookie: sig=N`.
                let n = path.strip_prefix("/once/").and_then(|p| p.strip_suffix(".flv"));
                let ok = first_time && n.is_some_and(|n| cookie == Some(format!("sig={n}")));
                if !ok {
                    let _ = sock.write_all(&reply("403 Forbidden", b"")).await;
                    return;
                }
                let head =
                    "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nConnection: close\r\n\r\n";
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    let url = |n: usize| format!("http://{addr}/once/{n}.flv?sign=secret-sign-{n}");
    let source = StreamSource::new(url(1), StreamKind::Flv).with_cookie("sig=1");
    let mut cfg = native(source, &tmp.path().join("out"));
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    cfg.resolver = Some(SourceResolver::new(move || {
        let n = c.fetch_add(1, Ordering::SeqCst) + 2;
        let u = format!("http://{addr}/once/{n}.flv?sign=secret-sign-{n}");
        async move { Ok(StreamSource::new(u, StreamKind::Flv).with_cookie(format!("sig={n}"))) }
    }));
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let recording = record(cfg, EventContext::new("test", "ts"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(120), recording.wait())
        .await
        .expect("the stream ends");
    let events = drain(&mut rx);
    let errs = errors(&events);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("native engine cannot record this stream")
            && errs[0].contains("not an FLV stream")
            && !errs[0].contains("secret-sign"),
        "{errs:?}"
    );
    assert_eq!(outcome.reason, EndReason::StreamEnded, "{errs:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one fresh URL for ffmpeg");
    let seen = seen.lock().unwrap().clone();
    let paths: Vec<(&str, Option<&str>)> =
        seen.iter().map(|s| (s.path.as_str(), s.cookie.as_deref())).collect();
    // The native engine spent URL 1; ffmpeg used URL 2 with its cookie, once.
    assert_eq!(paths, [("/once/1.flv", Some("sig=1")), ("/once/2.flv", Some("sig=2"))]);
    assert_eq!(outcome.files.len(), 1, "{outcome:?}");
    let f = &outcome.files[0];
    assert_eq!(f.path.extension().unwrap(), "flv");
    decodes_cleanly(&f.path).await;
    let (duration, types) = probe(&f.path).await;
    assert_eq!(types, ["audio", "video"]);
    assert!((duration - 4.0).abs() < 0.2, "{duration}");
}
