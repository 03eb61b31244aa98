//! The HTTP API against slow and oversized clients, over real loopback
//! sockets: the accept loop of onelive-listen (`api::serve`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use onelive_engine::{ChannelConfig, Engine, EngineConfig, HumanDuration, api};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::fakes::Fakes;

/// A generous deadline for conditions on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(90);

fn config(dir: &std::path::Path) -> EngineConfig {
    let mut c = EngineConfig::default();
    c.output.folder = dir.join("rec");
    c.state.dir = Some(dir.join("state"));
    c.watch.poll_interval = HumanDuration(Duration::from_secs(60));
    c.disk.min_free_mb = 0;
    c.channels = vec![ChannelConfig::new("https://fake.test/one")];
    c
}

async fn start(limits: onelive_listen::Limits) -> (SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let engine =
        Engine::start(config(dir.path()), Some(dir.path().join("oneliverec.toml")), f.parts())
            .await
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(api::serve_with_limits(engine, listener, None, limits, std::future::pending()));
    (addr, dir)
}

/// The API served by `api::serve`, as `oneliverec run` serves it: limits
/// from the `[api]` section of the config text `api` (TOML), parsed and
/// validated like a config file.
async fn start_configured(api: &str, token: Option<&str>) -> (SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let parsed = EngineConfig::parse(&format!("[api]\n{api}"), "oneliverec.toml".as_ref()).unwrap();
    let mut c = config(dir.path());
    c.api = parsed.api;
    let f = Fakes::new();
    let engine =
        Engine::start(c, Some(dir.path().join("oneliverec.toml")), f.parts()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = token.map(onelive_engine::Secret::new);
    tokio::spawn(api::serve(engine, listener, token, std::future::pending()));
    (addr, dir)
}

/// Sends `request` (a whole request, `Connection: close`) on a new
/// connection from `from`; the status and the body of the answer.
async fn raw(from: [u8; 4], addr: SocketAddr, request: &str) -> (u16, String) {
    let mut conn = connect_from(from, addr).await;
    conn.write_all(request.as_bytes()).await.unwrap();
    read_answer(&mut conn).await
}

async fn read_answer(conn: &mut TcpStream) -> (u16, String) {
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, conn.read_to_end(&mut answer)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(to).await.unwrap()
}

/// A client that sends an unfinished request head, one byte every 200 ms,
/// until the server closes the connection; then counts itself in `closed`.
fn slow_client(mut stream: TcpStream, closed: Arc<AtomicUsize>) {
    tokio::spawn(async move {
        let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await;
        let mut buf = [0u8; 256];
        loop {
            tokio::select! {
                r = stream.read(&mut buf) => match r {
                    Ok(n) if n > 0 => continue,
                    _ => break,
                },
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    if stream.write_all(b"a").await.is_err() {
                        break;
                    }
                }
            }
        }
        closed.fetch_add(1, Ordering::SeqCst);
    });
}

/// One `GET /healthz` on a new connection from 127.0.0.1: the status.
async fn healthz(addr: SocketAddr) -> u16 {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn slow_header_connections_are_cut_after_the_header_timeout() {
    let limits =
        onelive_listen::Limits { header_timeout: Duration::from_secs(2), ..api::default_limits() };
    let (addr, _dir) = start(limits).await;
    let closed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    for _ in 0..20 {
        slow_client(TcpStream::connect(addr).await.unwrap(), Arc::clone(&closed));
    }
    // They keep sending, yet the head never completes: each is closed.
    wait_until("the slow connections to be closed", || closed.load(Ordering::SeqCst) == 20).await;
    assert!(started.elapsed() >= Duration::from_secs(2), "closed before the timeout");
    assert_eq!(healthz(addr).await, 200);
}

#[tokio::test]
async fn when_the_connection_limit_is_reached_a_new_client_takes_a_slow_heads_slot() {
    let limits = onelive_listen::Limits {
        max_connections: 4,
        // Far away: only closing a slow head can free a slot in time.
        header_timeout: Duration::from_secs(600),
        ..api::default_limits()
    };
    let (addr, _dir) = start(limits).await;
    let closed = Arc::new(AtomicUsize::new(0));
    for _ in 0..4 {
        slow_client(TcpStream::connect(addr).await.unwrap(), Arc::clone(&closed));
    }
    // The fifth connection closes the longest-idle slow head and is served.
    let status = tokio::time::timeout(DEADLINE, healthz(addr))
        .await
        .expect("the fifth connection waited for a slot held by a slow head");
    assert_eq!(status, 200);
    wait_until("a slow connection to be closed", || closed.load(Ordering::SeqCst) >= 1).await;
}

#[tokio::test]
async fn one_address_gets_at_most_its_share_of_connections() {
    let limits = onelive_listen::Limits {
        max_connections_per_ip: 3,
        exempt: vec!["127.0.0.1/32".parse().unwrap()],
        ..api::default_limits()
    };
    let (addr, _dir) = start(limits).await;
    let closed = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        slow_client(connect_from([127, 0, 0, 2], addr).await, Arc::clone(&closed));
    }
    // The fourth from the same address is closed at once, unanswered.
    let mut fourth = connect_from([127, 0, 0, 2], addr).await;
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(DEADLINE, fourth.read(&mut buf)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0, "the fourth connection got an answer");
    assert_eq!(closed.load(Ordering::SeqCst), 0, "the first three are still open");
    // Another address (exempt loopback) is served meanwhile.
    assert_eq!(healthz(addr).await, 200);
}

#[tokio::test]
async fn legitimate_requests_are_served_while_many_slow_connections_are_open() {
    let limits = onelive_listen::Limits {
        header_timeout: Duration::from_secs(5),
        exempt: vec!["127.0.0.1/32".parse().unwrap()],
        ..api::default_limits()
    };
    let (addr, _dir) = start(limits).await;
    let closed = Arc::new(AtomicUsize::new(0));
    // 2,000 slow connections from 100 addresses (127.0.1.x): 64 per address
    // are held, the rest closed at once.
    let mut opened = 0;
    for i in 0..2000u32 {
        let from = [127, 0, 1, u8::try_from(1 + i % 100).unwrap()];
        slow_client(connect_from(from, addr).await, Arc::clone(&closed));
        opened += 1;
    }
    let mut served = 0;
    for _ in 0..20 {
        if healthz(addr).await == 200 {
            served += 1;
        }
    }
    assert_eq!(served, 20);
    wait_until("every slow connection to be closed", || closed.load(Ordering::SeqCst) == opened)
        .await;
}

#[tokio::test]
async fn an_oversized_body_gets_a_json_413() {
    let (addr, _dir) = start(api::default_limits()).await;
    let body = format!("{{\"url\": \"https://fake.test/{}\"}}", "a".repeat(3 * 1024 * 1024));
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/api/channels"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    assert!(
        resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"),
        "{:?}",
        resp.headers()
    );
    let v: serde_json::Value = resp.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("max_body_bytes"), "{v}");
}

#[tokio::test]
async fn the_api_section_sets_the_connection_limits_and_exempts_trusted_proxies() {
    let (addr, _dir) = start_configured(
        "max_connections_per_ip = 2\nheader_timeout = \"1s\"\ntrusted_proxies = [\"127.0.0.3\"]\n",
        None,
    )
    .await;
    let closed = Arc::new(AtomicUsize::new(0));
    for _ in 0..2 {
        slow_client(connect_from([127, 0, 0, 2], addr).await, Arc::clone(&closed));
    }
    // A third connection from 127.0.0.2 is closed at once, unanswered.
    let mut third = connect_from([127, 0, 0, 2], addr).await;
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(DEADLINE, third.read(&mut buf)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0, "a third connection from one address got an answer");
    // The trusted proxy holds more than two at once and is still served.
    let proxy_closed = Arc::new(AtomicUsize::new(0));
    for _ in 0..4 {
        slow_client(connect_from([127, 0, 0, 3], addr).await, Arc::clone(&proxy_closed));
    }
    let (status, _) = raw(
        [127, 0, 0, 3],
        addr,
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    // header_timeout = "1s" closes every slow head.
    wait_until("the slow connections to be closed", || {
        closed.load(Ordering::SeqCst) == 2 && proxy_closed.load(Ordering::SeqCst) == 4
    })
    .await;
}

#[tokio::test]
async fn the_api_section_sets_the_body_limit() {
    let (addr, _dir) = start_configured("max_body_bytes = 2048\n", None).await;
    let post = |len: usize| {
        let body = format!("{{\"url\": \"https://fake.test/{}\"}}", "a".repeat(len));
        format!(
            "POST /api/channels HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let (status, body) = raw([127, 0, 0, 1], addr, &post(4096)).await;
    assert_eq!(status, 413, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["error"].as_str().unwrap().contains("2048 bytes"), "{v}");
    // A body under the limit is read and reaches the handler (a new channel).
    let (status, body) = raw([127, 0, 0, 1], addr, &post(100)).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_gets_a_413() {
    let (addr, _dir) = start_configured("max_body_bytes = 2048\n", None).await;
    let mut conn = connect_from([127, 0, 0, 1], addr).await;
    conn.write_all(
        b"POST /api/channels HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    for _ in 0..3 {
        conn.write_all(format!("400\r\n{}\r\n", "a".repeat(1024)).as_bytes()).await.unwrap();
    }
    conn.write_all(b"0\r\n\r\n").await.unwrap();
    let (status, body) = read_answer(&mut conn).await;
    assert_eq!(status, 413, "{body}");
}

#[tokio::test]
async fn a_trickled_body_gets_a_json_408_after_the_body_timeout() {
    let (addr, _dir) = start_configured("body_timeout = \"1s\"\n", None).await;
    let mut conn = connect_from([127, 0, 0, 1], addr).await;
    let started = Instant::now();
    conn.write_all(
        b"POST /api/channels HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 100000\r\nConnection: close\r\n\r\n{",
    )
    .await
    .unwrap();
    // One byte every 100 ms: never idle long, never done.
    let (mut reader, mut writer) = conn.into_split();
    let trickle = tokio::spawn(async move {
        while writer.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut answer = Vec::new();
    tokio::time::timeout(DEADLINE, reader.read_to_end(&mut answer)).await.unwrap().unwrap();
    trickle.abort();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("body_timeout"), "{text}");
    assert!(started.elapsed() >= Duration::from_secs(1), "answered before the timeout");
}

#[tokio::test]
async fn the_token_is_checked_before_the_body_is_read() {
    let (addr, _dir) = start_configured("", Some("s3cret-token")).await;
    // The head promises a body that never comes: without the token, the
    // answer is a 401 at once, not a wait for the body.
    let mut conn = connect_from([127, 0, 0, 1], addr).await;
    conn.write_all(
        b"POST /api/channels HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 500000\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(20), conn.read(&mut buf))
        .await
        .expect("no answer while the body is missing: the body was awaited before the token check")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
}

#[tokio::test]
async fn a_trusted_proxy_forwarded_host_passes_the_host_check_and_others_are_ignored() {
    let (addr, _dir) = start_configured(
        "allowed_hosts = [\"rec.example.com\"]\ntrusted_proxies = [\"127.0.0.3/32\"]\n",
        None,
    )
    .await;
    let get = |fwd: &str| {
        format!(
            "GET /api/channels HTTP/1.1\r\nHost: 127.0.0.1:8686\r\nX-Forwarded-Host: {fwd}\r\n\
             Connection: close\r\n\r\n"
        )
    };
    // From the trusted proxy: the forwarded host is checked.
    let (status, body) = raw([127, 0, 0, 3], addr, &get("evil.example")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("X-Forwarded-Host") && body.contains("evil.example"), "{body}");
    let (status, body) = raw([127, 0, 0, 3], addr, &get("rec.example.com")).await;
    assert_eq!(status, 200, "{body}");
    // From anyone else the header means nothing (a rebound page could send it).
    let (status, body) = raw([127, 0, 0, 2], addr, &get("evil.example")).await;
    assert_eq!(status, 200, "{body}");
    // A state change through the proxy from the public origin is accepted,
    // from another origin refused.
    let disable = |origin: &str| {
        format!(
            "POST /api/channels/{}/disable HTTP/1.1\r\nHost: 127.0.0.1:8686\r\n\
             X-Forwarded-Host: rec.example.com\r\nOrigin: {origin}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            "nonexistent"
        )
    };
    let (status, body) = raw([127, 0, 0, 3], addr, &disable("http://evil.example")).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = raw([127, 0, 0, 3], addr, &disable("https://rec.example.com")).await;
    assert_eq!(status, 404, "passed the guard, then no such channel: {body}");
}

#[test]
fn bad_api_limits_are_refused_with_the_key_named() {
    for (text, key, says) in [
        ("max_connections = 0", "api.max_connections", "between 1 and 1000000"),
        ("max_connections_per_ip = 0", "api.max_connections_per_ip", "at least 1"),
        ("header_timeout = \"10ms\"", "api.header_timeout", "minimum 100ms"),
        ("body_timeout = \"0s\"", "api.body_timeout", "minimum 100ms"),
        ("max_body_bytes = 10", "api.max_body_bytes", "minimum 1024"),
        ("trusted_proxies = [\"proxy.lan\"]", "api.trusted_proxies", "\"proxy.lan\""),
        ("trusted_proxies = [\"10.0.0.0/33\"]", "api.trusted_proxies", "10.0.0.0/33"),
        ("allowed_hosts = [\"https://rec.example.com\"]", "api.allowed_hosts", "no scheme"),
        ("allowed_hosts = [\"rec.example.com:8443\"]", "api.allowed_hosts", "port"),
    ] {
        let err = EngineConfig::parse(&format!("[api]\n{text}\n"), "c.toml".as_ref()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(key) && msg.contains(says), "{text}: {msg}");
    }
    let ok = EngineConfig::parse(
        "[api]\ntrusted_proxies = [\"10.0.0.1\", \"fd00::/8\"]\nallowed_hosts = [\"rec.lan\", \"*\"]\n",
        "c.toml".as_ref(),
    )
    .unwrap();
    assert_eq!(ok.api.max_connections, 1024);
    assert_eq!(ok.api.max_body_bytes, 1024 * 1024);
    assert_eq!(ok.api.header_timeout, HumanDuration(Duration::from_secs(10)));
    assert_eq!(ok.api.body_timeout, HumanDuration(Duration::from_secs(30)));
}
