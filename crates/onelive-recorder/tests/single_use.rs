//! Single-use stream URLs (Huya's signed HTTPS URLs): a reconnect of the
//! native engine asks the [`SourceResolver`] for a fresh URL instead of
//! reusing the spent one. The loopback origin serves each URL once and
//! answers 403 to a second request, as such a CDN does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onelive_recorder::{
    EndReason, Engine, EventContext, RecordingConfig, SourceResolver, StreamKind, StreamSource,
    record,
};
use tokio::io::AsyncWriteExt;

use crate::common::{drain, errors, read_head};
use crate::native::{check_finished, packets};

/// Encodes a 4 s 320x240 FLV (H.264 + AAC) into `dir`.
async fn encode_flv(dir: &Path) -> PathBuf {
    let path = dir.join("source.flv");
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "4"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-f", "flv"])
        .arg(&path)
        .status()
        .await
        .unwrap();
    assert!(status.success());
    path
}

/// Serves `/once/N.flv` once per N: N = 1 sends the first half of the file
/// under a Content-Length of the whole (a connection that breaks), later
/// ones the whole file; any path asked twice gets 403.
struct OnceOrigin {
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<HashMap<String, usize>>>,
    refused: Arc<AtomicUsize>,
}

impl OnceOrigin {
    async fn start(flv: Vec<u8>) -> OnceOrigin {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
        let refused = Arc::new(AtomicUsize::new(0));
        let (req, refd) = (requests.clone(), refused.clone());
        let flv = Arc::new(flv);
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (req, refd, flv) = (req.clone(), refd.clone(), flv.clone());
                tokio::spawn(async move {
                    let Some(text) = read_head(&mut sock).await else { return };
                    let target = text.split_whitespace().nth(1).unwrap_or("");
                    let path = target.split('?').next().unwrap_or("").to_owned();
                    let seen = {
                        let mut r = req.lock().unwrap();
                        let n = r.entry(path.clone()).or_insert(0);
                        *n += 1;
                        *n
                    };
                    if seen > 1 || !path.starts_with("/once/") {
                        refd.fetch_add(1, Ordering::SeqCst);
                        let _ = sock
                            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                            .await;
                        return;
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        flv.len()
                    );
                    let body = if path == "/once/1.flv" { &flv[..flv.len() / 2] } else { &flv[..] };
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        OnceOrigin { addr, requests, refused }
    }

    fn url(&self, n: usize) -> String {
        format!("http://{}/once/{n}.flv?sign=s{n}", self.addr)
    }
}

fn config(url: String, dir: &Path) -> RecordingConfig {
    let mut cfg = RecordingConfig::new(StreamSource::new(url, StreamKind::Flv), dir);
    cfg.engine = Engine::Native;
    cfg.min_free_bytes = 0;
    cfg
}

#[tokio::test]
async fn a_reconnect_asks_the_resolver_for_a_fresh_url() {
    let tmp = tempfile::tempdir().unwrap();
    let source = encode_flv(tmp.path()).await;
    let frames = packets(&source).await.video_pts.len();
    let origin = OnceOrigin::start(std::fs::read(&source).unwrap()).await;
    let out = tmp.path().join("out");
    let mut cfg = config(origin.url(1), &out);
    let calls = Arc::new(AtomicUsize::new(0));
    let (c, addr) = (calls.clone(), origin.addr);
    cfg.resolver = Some(SourceResolver::new(move || {
        let n = c.fetch_add(1, Ordering::SeqCst) + 2;
        async move {
            Ok(StreamSource::new(format!("http://{addr}/once/{n}.flv?sign=s{n}"), StreamKind::Flv))
        }
    }));
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let recording = record(cfg, EventContext::new("huya", "1"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(120), recording.wait())
        .await
        .expect("the stream ends");
    let events = drain(&mut rx);
    assert_eq!(outcome.reason, EndReason::StreamEnded, "{:?}", errors(&events));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one reconnect, one fresh URL");
    assert_eq!(origin.refused.load(Ordering::SeqCst), 0, "no URL was used twice");
    let requests = origin.requests.lock().unwrap().clone();
    assert_eq!(requests.get("/once/1.flv"), Some(&1));
    assert_eq!(requests.get("/once/2.flv"), Some(&1));
    // Same codec parameters: the reconnect continues the part, every frame once.
    assert_eq!(outcome.files.len(), 1, "{outcome:?}");
    let parts = check_finished(&events).await;
    assert_eq!(parts[0].video_pts.len(), frames);
}

#[tokio::test]
async fn without_a_resolver_the_spent_url_is_refused_and_the_source_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let source = encode_flv(tmp.path()).await;
    let origin = OnceOrigin::start(std::fs::read(&source).unwrap()).await;
    let cfg = config(origin.url(1), &tmp.path().join("out"));
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let recording = record(cfg, EventContext::new("huya", "1"), tx).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(120), recording.wait())
        .await
        .expect("the recording ends");
    let events = drain(&mut rx);
    let EndReason::SourceLost { stderr } = &outcome.reason else {
        panic!("{:?} {:?}", outcome.reason, errors(&events));
    };
    assert!(stderr.contains("403"), "{stderr}");
    assert!(!stderr.contains("sign=s1"), "the signed query is not shown: {stderr}");
    assert_eq!(origin.refused.load(Ordering::SeqCst), 1);
    // What arrived before the break is kept and valid.
    assert_eq!(outcome.files.len(), 1, "{outcome:?}");
    check_finished(&events).await;
}
