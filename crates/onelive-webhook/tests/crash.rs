//! Crash safety: a child process enqueues 10,000 events and is killed with
//! SIGKILL mid-delivery; a new process on the same outbox delivers the rest.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use onelive_events::Event;
use onelive_webhook::{Dispatcher, DispatcherConfig, Endpoint};

use crate::support::*;

const CHILD_ENV: &str = "ONELIVE_WEBHOOK_CRASH_CHILD";
const EVENTS: u128 = 10_000;
const BASE: u128 = 0x0123_4567_89ab_cdef_0000_0000_0000_0000;

/// Runs only inside the child process started by the test below.
#[test]
#[ignore = "child process of crash::sigkill_mid_delivery_then_restart_delivers_everything"]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let (db, url) = spec.split_once('|').unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut config = DispatcherConfig::new(db).with_retry(fast_retry());
        config.max_in_flight_per_endpoint = 4;
        let d = Dispatcher::open(config).await.unwrap();
        d.upsert_endpoint(Endpoint::new("sink", url)).await.unwrap();
        let events: Vec<Event> = (0..EVENTS).map(|i| event_with_id(BASE + i)).collect();
        for chunk in events.chunks(500) {
            d.enqueue_batch(chunk).await.unwrap();
        }
        println!("ENQUEUED");
        tokio::time::sleep(Duration::from_secs(600)).await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_delivery_then_restart_delivers_everything() {
    // Slow receiver so the child is killed mid-delivery.
    let rx = Receiver::start(|_, _| Reply::ok().delayed(Duration::from_millis(5))).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outbox.sqlite");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash::crash_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{}|{}", db.display(), rx.url("/hook")))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let enqueued = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().map_while(Result::ok).any(|l| l.contains("ENQUEUED"))
    })
    .await
    .unwrap();
    assert!(enqueued, "the child did not finish enqueuing");
    wait_until(Duration::from_secs(60), "deliveries from the child", || rx.count() >= 300).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = unique_ids(&rx);
    assert!(before.len() < EVENTS as usize, "the child delivered everything before the kill");

    rx.set_responder(|_, _| Reply::ok());
    let d = Dispatcher::open(DispatcherConfig::new(&db).with_retry(fast_retry())).await.unwrap();
    assert!(d.pending() > 0);
    let start = Instant::now();
    // Polled slowly: collecting 10,000 requests is not free.
    loop {
        if rx.count() >= EVENTS as usize && unique_ids(&rx).len() == EVENTS as usize {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "not everything arrived");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let ids = unique_ids(&rx);
    let expected: HashSet<String> =
        (0..EVENTS).map(|i| onelive_events::Uuid::from_u128(BASE + i).to_string()).collect();
    assert_eq!(ids, expected);
    eprintln!(
        "crash test: {} delivered before SIGKILL, rest in {:?} after restart, {} requests in total",
        before.len(),
        start.elapsed(),
        rx.count()
    );
    let stats = d.stats().await.unwrap();
    wait_until(Duration::from_secs(20), "pending drained", || d.pending() == 0).await;
    assert!(stats.delivered + stats.pending >= EVENTS as u64 - 10);
    d.shutdown(Duration::from_secs(2)).await.unwrap();
}

fn unique_ids(rx: &Receiver) -> HashSet<String> {
    rx.requests().iter().filter_map(|r| r.header("webhook-id").map(str::to_owned)).collect()
}
