//! What a slow or hostile client does to the sink: slowloris connections,
//! bodies sent before authentication, oversized heads, stalled bodies.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::*;

const GENEROUS: Duration = Duration::from_secs(120);

fn key_config(server: &str) -> String {
    format!("[server]\n{server}\n{}", config_with(""))
}

/// Connects to `addr` from the loopback address `from`.
async fn connect_from(from: [u8; 4], addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(addr).await
}

/// A slowloris client: an unfinished request head, then one more header
/// byte every 100 ms, until the server closes the connection (then `closed`
/// is incremented).
fn slow_client(stream: TcpStream, closed: Arc<AtomicUsize>) {
    tokio::spawn(async move {
        let (mut read, mut write) = stream.into_split();
        let mut buf = [0u8; 512];
        let head = b"POST /webhook HTTP/1.1\r\nHost: sink\r\nX-Slow: ";
        let mut alive = write.write_all(head).await.is_ok();
        while alive {
            tokio::select! {
                r = read.read(&mut buf) => alive = matches!(r, Ok(n) if n > 0),
                // The attacker's pace (not a test wait): a byte per 100 ms.
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    alive = write.write_all(b"a").await.is_ok();
                }
            }
        }
        closed.fetch_add(1, Ordering::SeqCst);
    });
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < GENEROUS, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn legit_request(sink: &TestSink) -> u16 {
    let response = reqwest::Client::new()
        .post(sink.url(&format!("?key={KEY}")))
        .header("content-type", "application/json")
        .body(transmux_event(&new_id(), "/app/rec/none.mp4"))
        .timeout(GENEROUS)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

/// Sends `request` on a fresh connection and reads the answer (head and
/// body) until the server closes or the declared body is in.
async fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, String, serde_json::Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_answer(&mut stream).await
}

async fn read_answer(stream: &mut TcpStream) -> (u16, String, serde_json::Value) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if len.is_some_and(|n| data.len() >= end + 4 + n) {
                    break;
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(GENEROUS, read).await.expect("no answer");
    let text = String::from_utf8_lossy(&data).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head: {text:?}"));
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    (status, head.to_owned(), json)
}

#[tokio::test]
async fn slow_connections_are_dropped_by_the_header_timeout_and_others_are_served() {
    // Room for 16 connections; 60 slowloris connections fill it.
    let sink = TestSink::start(&key_config(
        "header_timeout_secs = 1.5\nmax_connections = 16\nmax_connections_per_ip = 1000",
    ))
    .await;
    let closed = Arc::new(AtomicUsize::new(0));
    for _ in 0..60 {
        let stream = connect_from([127, 0, 0, 2], sink.addr).await.unwrap();
        slow_client(stream, Arc::clone(&closed));
    }
    // Legitimate requests get through: the slow ones are cut off after
    // the header timeout although they keep sending.
    for _ in 0..3 {
        assert_eq!(legit_request(&sink).await, 200);
    }
    wait_for("all 60 slow connections to be closed by the sink", || {
        closed.load(Ordering::SeqCst) == 60
    })
    .await;
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share_of_connections() {
    // A long header timeout: only the per-address limit acts here.
    let sink = TestSink::start(&key_config(
        "header_timeout_secs = 600\nmax_connections = 64\nmax_connections_per_ip = 8",
    ))
    .await;
    let closed = Arc::new(AtomicUsize::new(0));
    for _ in 0..40 {
        let stream = connect_from([127, 0, 0, 3], sink.addr).await.unwrap();
        slow_client(stream, Arc::clone(&closed));
    }
    wait_for("32 connections beyond the per-address limit to be closed", || {
        closed.load(Ordering::SeqCst) >= 32
    })
    .await;
    // Another client is served at once while the 8 slow ones still hold on.
    assert_eq!(legit_request(&sink).await, 200);
    assert_eq!(closed.load(Ordering::SeqCst), 32, "only the excess connections were closed");
}

#[tokio::test]
async fn unsigned_requests_are_refused_before_their_body_is_read() {
    let config = format!(
        "[auth]\nsecrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n\
         [paths]\nallowed_roots = [\"rec\"]\n{}",
        upload_rule("http://127.0.0.1:9/api", "")
    );
    let sink = TestSink::start(&config).await;
    // 1 MiB announced, not a byte of it sent: the answer must come anyway.
    let head = "POST /webhook HTTP/1.1\r\nHost: sink\r\ncontent-type: application/json\r\n\
                content-length: 1048576\r\n\r\n";
    let (status, _, json) = exchange(sink.addr, head.as_bytes()).await;
    assert_eq!(status, 401, "{json}");
    assert!(json["error"].as_str().unwrap().contains("webhook-"), "{json}");

    // Headers present but no `v1` signature (unknown scheme): 403, body unread.
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: sink\r\ncontent-type: application/json\r\n\
         webhook-id: msg_1\r\nwebhook-timestamp: {ts}\r\nwebhook-signature: v9,abc\r\n\
         content-length: 1048576\r\n\r\n"
    );
    let (status, _, json) = exchange(sink.addr, head.as_bytes()).await;
    assert_eq!(status, 403, "{json}");
    assert!(json["error"].as_str().unwrap().contains("v1"), "{json}");

    // A stale timestamp is refused before the body as well.
    let head = "POST /webhook HTTP/1.1\r\nHost: sink\r\ncontent-type: application/json\r\n\
                webhook-id: msg_1\r\nwebhook-timestamp: 1000\r\nwebhook-signature: v1,abc\r\n\
                content-length: 1048576\r\n\r\n";
    let (status, _, json) = exchange(sink.addr, head.as_bytes()).await;
    assert_eq!(status, 403, "{json}");
    assert!(json["error"].as_str().unwrap().contains("too old"), "{json}");
    assert_eq!(sink.sink.store().event_count().unwrap(), 0);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_cut_off_while_streaming() {
    let sink = TestSink::start(&key_config("body_limit = 65536")).await;
    let mut stream = TcpStream::connect(sink.addr).await.unwrap();
    let head = format!(
        "POST /webhook?key={KEY} HTTP/1.1\r\nHost: sink\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // 96 KiB of a body with no announced length, and then nothing more: the
    // answer must come from the limit, not from the end of the body.
    let chunk = vec![b' '; 8192];
    for _ in 0..12 {
        stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await.unwrap();
        stream.write_all(&chunk).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    let (status, _, json) = read_answer(&mut stream).await;
    assert_eq!(status, 413, "{json}");
    assert_eq!(json["error"], "body larger than 65536 bytes");
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_after_the_body_timeout() {
    let sink = TestSink::start(&key_config("body_timeout_secs = 0.5")).await;
    let mut stream = TcpStream::connect(sink.addr).await.unwrap();
    let head = format!(
        "POST /webhook?key={KEY} HTTP/1.1\r\nHost: sink\r\ncontent-type: application/json\r\n\
         content-length: 100\r\n\r\n{{\"id\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (status, _, json) = read_answer(&mut stream).await;
    assert_eq!(status, 408, "{json}");
    assert!(json["error"].as_str().unwrap().contains("body_timeout_secs"), "{json}");
}

#[tokio::test]
async fn answers_written_by_the_http_layer_are_json_too() {
    let sink = TestSink::start(&key_config("max_header_bytes = 4096")).await;
    // Over max_header_bytes: 431, with a JSON body.
    let big = "a".repeat(8192);
    let request = format!("POST /webhook HTTP/1.1\r\nHost: sink\r\nX-Big: {big}\r\n\r\n");
    let (status, head, json) = exchange(sink.addr, request.as_bytes()).await;
    assert_eq!(status, 431, "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(json["status"], "error");
    assert_eq!(json["error"], "request header fields too large");
    // A malformed request line: 400 with a JSON body.
    let (status, _, json) = exchange(sink.addr, b"BROKEN\x01 / HTTP/1.1\r\n\r\n").await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["status"], "error");
    // The sink still serves afterwards.
    assert_eq!(legit_request(&sink).await, 200);
}

#[tokio::test]
async fn blank_keys_are_a_config_error() {
    for keys in [r#"[" "]"#, r#"["\t"]"#, r#"[" my_super_secret_webhook_key_123"]"#] {
        let toml = format!("[auth]\nkeys = {keys}\n");
        let e = onelive_sink::config::SinkConfig::from_toml_str(&toml).unwrap_err().to_string();
        assert!(e.contains("auth.keys[0]") && e.contains("whitespace"), "{keys}: {e}");
    }
}
