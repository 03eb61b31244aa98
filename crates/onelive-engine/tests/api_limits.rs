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

async fn start(limits: onelive_listen::Limits) -> (SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = EngineConfig::default();
    c.output.folder = dir.path().join("rec");
    c.state.dir = Some(dir.path().join("state"));
    c.watch.poll_interval = HumanDuration(Duration::from_secs(60));
    c.disk.min_free_mb = 0;
    c.channels = vec![ChannelConfig::new("https://fake.test/one")];
    let f = Fakes::new();
    let engine =
        Engine::start(c, Some(dir.path().join("oneliverec.toml")), f.parts()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(api::serve_with_limits(engine, listener, None, limits, std::future::pending()));
    (addr, dir)
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
async fn the_connection_limit_holds_and_a_waiting_client_is_served_once_a_slot_frees() {
    let limits = onelive_listen::Limits {
        max_connections: 4,
        header_timeout: Duration::from_secs(3),
        ..api::default_limits()
    };
    let (addr, _dir) = start(limits).await;
    let closed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    for _ in 0..4 {
        slow_client(TcpStream::connect(addr).await.unwrap(), Arc::clone(&closed));
    }
    // The fifth connection waits in the accept queue: its answer comes only
    // after the header timeout has closed a slow connection.
    let status = healthz(addr).await;
    assert_eq!(status, 200);
    // (A lower bound only: a loaded machine makes it longer, never shorter.)
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "a fifth connection was served while 4 were held"
    );
    wait_until("the slow connections to be closed", || closed.load(Ordering::SeqCst) == 4).await;
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
    assert!(v["error"].as_str().unwrap().contains("length limit"), "{v}");
}
