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
