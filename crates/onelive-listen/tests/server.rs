//! The accept loop on a real loopback socket.

use std::time::Duration;

use onelive_listen::{Error, Limits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn limits_that_cannot_be_enforced_are_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let limits = Limits { max_connections: 0, ..Limits::default() };
    let err = serve(listener, axum::Router::new(), limits, std::future::pending()).await;
    assert!(
        matches!(&err, Err(Error::InvalidLimits(m)) if m.contains("max_connections")),
        "{err:?}"
    );
    for bad in [
        Limits { max_connections_per_ip: 0, ..Limits::default() },
        Limits { header_timeout: Duration::ZERO, ..Limits::default() },
        Limits { max_header_bytes: 100, ..Limits::default() },
    ] {
        assert!(matches!(bad.validate(), Err(Error::InvalidLimits(_))), "{bad:?}");
    }
    assert!(Limits::default().validate().is_ok());
}

#[tokio::test]
async fn an_oversized_head_gets_a_json_431_and_shutdown_ends_the_loop() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
    let server = tokio::spawn(serve(listener, app, Limits::default(), async {
        let _ = stop_rx.await;
    }));
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let big = "a".repeat(40 * 1024);
    conn.write_all(format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["error"], "request header fields too large");
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(60), server).await.unwrap().unwrap().unwrap();
}

/// A connection that sends an unfinished head, then a byte every 200 ms,
/// until the server closes it; `closed` counts the closed ones.
fn slow_client(
    mut conn: tokio::net::TcpStream,
    closed: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    tokio::spawn(async move {
        let _ = conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
        let mut buf = [0u8; 256];
        loop {
            tokio::select! {
                r = conn.read(&mut buf) => match r {
                    Ok(n) if n > 0 => continue,
                    _ => break,
                },
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    if conn.write_all(b"a").await.is_err() {
                        break;
                    }
                }
            }
        }
        closed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
}

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn when_every_slot_holds_a_slow_head_a_new_client_is_served_without_waiting_for_the_timeout()
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
    // The header timeout is far away: only eviction can free a slot in time.
    let limits = Limits {
        max_connections: 4,
        header_timeout: Duration::from_secs(600),
        ..Limits::default()
    };
    tokio::spawn(serve(listener, app, limits, std::future::pending()));
    let closed = Arc::new(AtomicUsize::new(0));
    for _ in 0..4 {
        slow_client(tokio::net::TcpStream::connect(addr).await.unwrap(), Arc::clone(&closed));
    }
    for round in 0..8 {
        let answer = tokio::time::timeout(Duration::from_secs(60), get(addr, "/"))
            .await
            .unwrap_or_else(|_| panic!("request {round} waited for a slot held by a slow head"));
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("hi"), "{answer}");
    }
    // The legitimate requests took the slots of slow heads.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while closed.load(Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < deadline, "no slow connection was closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_connection_inside_a_request_is_not_closed_to_make_room() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let release = Arc::new(tokio::sync::Notify::new());
    let entered = Arc::new(tokio::sync::Notify::new());
    let app = {
        let (release, entered) = (Arc::clone(&release), Arc::clone(&entered));
        axum::Router::new()
            .route(
                "/wait",
                axum::routing::get(move || {
                    let (release, entered) = (Arc::clone(&release), Arc::clone(&entered));
                    async move {
                        entered.notify_one();
                        release.notified().await;
                        "done"
                    }
                }),
            )
            .route("/", axum::routing::get(|| async { "hi" }))
    };
    let limits = Limits {
        max_connections: 2,
        header_timeout: Duration::from_secs(600),
        ..Limits::default()
    };
    tokio::spawn(serve(listener, app, limits, std::future::pending()));
    // Slot 1: a request the handler holds; slot 2: a slow head.
    let waiting = tokio::spawn(get(addr, "/wait"));
    tokio::time::timeout(Duration::from_secs(60), entered.notified()).await.unwrap();
    let closed = Arc::new(AtomicUsize::new(0));
    slow_client(tokio::net::TcpStream::connect(addr).await.unwrap(), Arc::clone(&closed));
    // A third client takes the slow head's slot, not the busy one.
    let answer = tokio::time::timeout(Duration::from_secs(60), get(addr, "/")).await.unwrap();
    assert!(answer.ends_with("hi"), "{answer}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while closed.load(Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < deadline, "the slow head was not closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    release.notify_one();
    let answer = tokio::time::timeout(Duration::from_secs(60), waiting).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("done"), "{answer}");
}
