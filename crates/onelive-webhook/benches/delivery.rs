//! Delivery benchmark: enqueue -> delivered to a local receiver, signing on,
//! outbox fsync-durable (WAL, synchronous=FULL).
//!
//! `cargo bench -p onelive-webhook --bench delivery [-- throughput|latency|memory]`
//!
//! Environment: `BENCH_EVENTS` (throughput, default 20000), `BENCH_SECONDS`
//! (latency, default 10), `BENCH_PENDING` (memory, default 1000000).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use onelive_events::{Event, EventData, TestData, Uuid};
use onelive_webhook::verify::WebhookSecret;
use onelive_webhook::{Dispatcher, DispatcherConfig, Endpoint, RetrySchedule};

#[derive(Default)]
struct Seen {
    arrivals: Mutex<HashMap<String, Instant>>,
    delay: Mutex<Duration>,
}

async fn handle(State(seen): State<Arc<Seen>>, headers: HeaderMap, _body: Bytes) -> &'static str {
    let now = Instant::now();
    if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
        seen.arrivals.lock().unwrap().entry(id.to_owned()).or_insert(now);
    }
    let delay = *seen.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    "ok"
}

async fn receiver() -> (String, Arc<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let app = axum::Router::new().fallback(handle).with_state(Arc::clone(&seen));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook?key=k"), seen)
}

fn event(n: u128, payload: &str) -> Event {
    let mut e = Event::new(EventData::Test(TestData::new(payload.to_owned())));
    e.id = Uuid::from_u128(n);
    e
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

async fn open(dir: &tempfile::TempDir, url: &str) -> Dispatcher {
    let config = DispatcherConfig::new(dir.path().join("outbox.sqlite"))
        .with_retry(RetrySchedule::fixed([Duration::from_secs(1); 5]));
    let d = Dispatcher::open(config).await.unwrap();
    d.upsert_endpoint(Endpoint::new("bench", url).with_secret(WebhookSecret::generate()))
        .await
        .unwrap();
    d
}

async fn throughput() {
    let n: u128 = std::env::var("BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let (url, seen) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let d = Arc::new(open(&dir, &url).await);
    let payload = "x".repeat(200);
    let start = Instant::now();
    // 64 producers calling enqueue() one event at a time: group commit
    // gathers their writes.
    let producers = 64u128;
    let mut tasks = Vec::new();
    for p in 0..producers {
        let d = Arc::clone(&d);
        let payload = payload.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = p;
            while i < n {
                d.enqueue(&event(i, &payload)).await.unwrap();
                i += producers;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let enqueued = start.elapsed();
    while seen.arrivals.lock().unwrap().len() < n as usize {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered = start.elapsed();
    println!(
        "throughput: {n} events, 64 producers, single enqueue() calls: all enqueued (durable) in {:.2} s = {:.0} events/s; all delivered in {:.2} s = {:.0} events/s",
        enqueued.as_secs_f64(),
        n as f64 / enqueued.as_secs_f64(),
        delivered.as_secs_f64(),
        n as f64 / delivered.as_secs_f64()
    );
    Arc::try_unwrap(d).ok().unwrap().shutdown(Duration::from_secs(5)).await.unwrap();

    // Batch enqueue.
    let (url, seen) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let d = open(&dir, &url).await;
    let start = Instant::now();
    let events: Vec<Event> = (0..n).map(|i| event(i, &payload)).collect();
    for chunk in events.chunks(100) {
        d.enqueue_batch(chunk).await.unwrap();
    }
    let enqueued = start.elapsed();
    while seen.arrivals.lock().unwrap().len() < n as usize {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered = start.elapsed();
    println!(
        "throughput: {n} events, enqueue_batch(100): enqueued in {:.2} s = {:.0} events/s; delivered in {:.2} s = {:.0} events/s",
        enqueued.as_secs_f64(),
        n as f64 / enqueued.as_secs_f64(),
        delivered.as_secs_f64(),
        n as f64 / delivered.as_secs_f64()
    );
    d.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn latency() {
    let secs: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let (url, seen) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let d = Arc::new(open(&dir, &url).await);
    let payload = "x".repeat(200);
    let total = secs * 1000;
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    for i in 0..total {
        tick.tick().await;
        let d = Arc::clone(&d);
        let sent = Arc::clone(&sent);
        let e = event(u128::from(i), &payload);
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            sent.lock().unwrap().insert(e.id.to_string(), t);
            d.enqueue(&e).await.unwrap();
            t.elapsed()
        }));
    }
    let mut enqueue_lat: Vec<Duration> = Vec::new();
    for t in tasks {
        enqueue_lat.push(t.await.unwrap());
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    while seen.arrivals.lock().unwrap().len() < total as usize {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let arrivals = seen.arrivals.lock().unwrap().clone();
    let sent = sent.lock().unwrap().clone();
    let mut lat: Vec<Duration> =
        sent.iter().map(|(id, t)| arrivals[id].duration_since(*t)).collect();
    lat.sort();
    enqueue_lat.sort();
    let pct = |v: &[Duration], p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
    println!(
        "latency: {total} events at {rate:.0} events/s offered: enqueue->delivered p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; enqueue() (durable) p50 {:.1} ms, p99 {:.1} ms",
        pct(&lat, 0.5).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3,
        pct(&enqueue_lat, 0.5).as_secs_f64() * 1e3,
        pct(&enqueue_lat, 0.99).as_secs_f64() * 1e3,
    );
    Arc::try_unwrap(d).ok().unwrap().shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn memory() {
    let n: u128 =
        std::env::var("BENCH_PENDING").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let (url, seen) = receiver().await;
    // A receiver that holds every request for a minute: the rest stays pending.
    *seen.delay.lock().unwrap() = Duration::from_secs(60);
    let dir = tempfile::tempdir().unwrap();
    let d = open(&dir, &url).await;
    let payload = "x".repeat(200);
    let rss_start = rss_kib();
    let start = Instant::now();
    let step = n / 5;
    let mut i = 0u128;
    while i < n {
        let end = (i + 1000).min(n);
        let batch: Vec<Event> = (i..end).map(|k| event(k, &payload)).collect();
        d.enqueue_batch(&batch).await.unwrap();
        i = end;
        if i.is_multiple_of(step) {
            println!(
                "memory: {i:>8} pending, RSS {:>7} KiB ({:.1} s)",
                rss_kib(),
                start.elapsed().as_secs_f64()
            );
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let size: u64 = ["outbox.sqlite", "outbox.sqlite-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "memory: {n} pending events: RSS {} KiB at start, {} KiB at the end; enqueue {:.0} events/s (batches of 1000); outbox {} MiB on disk; pending counter {}",
        rss_start,
        rss_kib(),
        n as f64 / start.elapsed().as_secs_f64(),
        size / (1024 * 1024),
        d.pending()
    );
    d.shutdown(Duration::from_millis(100)).await.unwrap();
}

fn main() {
    let which: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let all = which.is_empty();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        if all || which.iter().any(|w| w == "throughput") {
            throughput().await;
        }
        if all || which.iter().any(|w| w == "latency") {
            latency().await;
        }
        if all || which.iter().any(|w| w == "memory") {
            memory().await;
        }
    });
}
