//! What slow clients do to the sink, before and after the server hardening
//! (loopback only). Prints numbers; run with
//! `cargo bench -p onelive-sink-bin --bench slowloris`.
//!
//! "before" serves the sink's router with a plain `axum::serve` (what
//! `Sink::serve` did until the hardening); "after" is `Sink::serve`. Each
//! server runs in its own child process (this program, re-executed), so its
//! file descriptors and RSS are its own.
//!
//! 1. N slowloris connections (an unfinished head, one byte a second), from
//!    one address and spread over 200 addresses; meanwhile a client sends
//!    legitimate events one at a time (5 s timeout each) for 30 s: how many
//!    are answered 200, and how long the slowest took.
//! 2. RSS of a server with only `secrets` configured while 200 connections
//!    each send 1 MiB bodies without signature headers.
//!
//! Environment: `SLOWLORIS_N` (default 18000, bounded by `ulimit -n`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const KEY: &str = "bench_key_0123456789";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if let Ok(variant) = std::env::var("SLOWLORIS_SERVER") {
        let auth = std::env::var("SLOWLORIS_AUTH").unwrap_or_default();
        runtime.block_on(server(&variant, &auth));
        return;
    }
    let n: usize = std::env::var("SLOWLORIS_N").ok().and_then(|v| v.parse().ok()).unwrap_or(18_000);
    runtime.block_on(async {
        println!("slowloris bench: {n} slow connections, legitimate events for 30 s each run");
        for spread in [1u8, 200] {
            for variant in ["before", "after"] {
                slowloris(variant, n, spread).await;
            }
        }
        for variant in ["before", "after"] {
            big_bodies(variant).await;
        }
    });
}

/// The server child: prints `ADDR <addr>` and serves until killed.
async fn server(variant: &str, auth: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let auth = if auth == "secrets" {
        format!("secrets = [\"{SECRET}\"]")
    } else {
        format!("keys = [\"{KEY}\"]")
    };
    let config = onelive_sink::config::SinkConfig::from_toml_str(&format!(
        "[auth]\n{auth}\n[store]\npath = \"bench.db\"\n"
    ))
    .expect("config");
    let sink = onelive_sink::Sink::new(
        config,
        onelive_sink::SinkOptions { base_dir: Some(dir.path().to_owned()), ..Default::default() },
    )
    .expect("sink");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("ADDR {}", listener.local_addr().expect("addr"));
    if variant == "before" {
        let _workers = sink.start_workers().expect("workers");
        let app = sink.router().into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, app).await;
    } else {
        let _ = sink.serve(listener, std::future::pending()).await;
    }
}

struct ServerChild(Child, SocketAddr);

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(variant: &str, auth: &str) -> ServerChild {
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .env("SLOWLORIS_SERVER", variant)
        .env("SLOWLORIS_AUTH", auth)
        .env("RUST_LOG", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read");
    let addr = line.trim().strip_prefix("ADDR ").expect("ADDR line").parse().expect("addr");
    ServerChild(child, addr)
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

async fn connect_from(from: [u8; 4], addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(addr).await
}

async fn slowloris(variant: &str, n: usize, spread: u8) {
    let server = start_server(variant, "keys");
    let addr = server.1;
    let open = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let mut connect_failed = 0usize;
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let from = [127, 0, 1, 1 + u8::try_from(i % usize::from(spread)).unwrap_or(0)];
        // The kernel's accept queue holds about 1,000; a connect beyond that
        // waits for room, so connect with a short timeout.
        let stream =
            match tokio::time::timeout(Duration::from_secs(2), connect_from(from, addr)).await {
                Ok(Ok(s)) => s,
                _ => {
                    connect_failed += 1;
                    continue;
                }
            };
        open.fetch_add(1, Ordering::SeqCst);
        let closed = Arc::clone(&closed);
        tasks.push(tokio::spawn(async move {
            let (mut read, mut write) = stream.into_split();
            let mut buf = [0u8; 256];
            let mut alive =
                write.write_all(b"POST /webhook HTTP/1.1\r\nHost: s\r\nX-A: ").await.is_ok();
            while alive {
                tokio::select! {
                    r = read.read(&mut buf) => alive = matches!(r, Ok(n) if n > 0),
                    () = tokio::time::sleep(Duration::from_secs(1)) => {
                        alive = write.write_all(b"a").await.is_ok();
                    }
                }
            }
            closed.fetch_add(1, Ordering::SeqCst);
        }));
        if connect_failed > 200 {
            break; // the server takes no more connections
        }
    }
    let opened = open.load(Ordering::SeqCst);
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
    let body = r#"{"id":"00000000-0000-4000-8000-000000000000","ts":"2026-03-11T05:22:38Z","type":"live_start","data":{"platform":"p","channel":"c","url":"u","live_info":{}}}"#;
    let url = format!("http://{addr}/webhook?key={KEY}");
    let (mut ok, mut failed, mut slowest) = (0u32, 0u32, Duration::ZERO);
    let window = Instant::now();
    while window.elapsed() < Duration::from_secs(30) {
        let started = Instant::now();
        let answer = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => {
                ok += 1;
                slowest = slowest.max(started.elapsed());
            }
            _ => failed += 1,
        }
    }
    println!(
        "slowloris {variant:>6}, {opened:>5} slow connections opened from {spread:>3} address(es) \
         ({connect_failed} connects timed out): legitimate events in 30 s: {ok} answered 200, \
         {failed} failed/timed out (5 s), slowest answered {:.2} s; slow connections closed by \
         the server meanwhile: {}; server RSS {:.0} MiB",
        slowest.as_secs_f64(),
        closed.load(Ordering::SeqCst),
        rss_mib(server.0.id())
    );
    for t in tasks {
        t.abort();
    }
    drop(server);
}

async fn big_bodies(variant: &str) {
    let server = start_server(variant, "secrets");
    let addr = server.1;
    let pid = server.0.id();
    let idle = rss_mib(pid);
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let done = Arc::clone(&done);
        tasks.push(tokio::spawn(async move {
            let Ok(mut stream) = TcpStream::connect(addr).await else {
                done.fetch_add(1, Ordering::SeqCst);
                return;
            };
            let head = "POST /webhook HTTP/1.1\r\nHost: s\r\ncontent-type: application/json\r\n\
                        content-length: 1048576\r\n\r\n";
            let body = vec![b' '; 1024 * 1024 - 1];
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body).await;
            done.fetch_add(1, Ordering::SeqCst);
            // Hold the connection (the last byte never comes).
            std::future::pending::<()>().await;
        }));
    }
    // Until every client has written (or been refused), then until the
    // server's RSS stops growing.
    let start = Instant::now();
    while done.load(Ordering::SeqCst) < 200 && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut last = rss_mib(pid);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = rss_mib(pid);
        if (now - last).abs() < 0.5 || start.elapsed() > Duration::from_secs(60) {
            last = now;
            break;
        }
        last = now;
    }
    println!(
        "200 x 1 MiB unsigned bodies, {variant:>6}: server RSS {idle:.0} MiB idle -> {last:.0} MiB \
         with the 200 connections open"
    );
    for t in tasks {
        t.abort();
    }
    drop(server);
}
