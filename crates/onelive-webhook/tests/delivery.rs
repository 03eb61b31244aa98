//! Sender against a real local HTTP receiver: signing, retries, status
//! handling, filters, the delivery log, shutdown and restart.

use std::sync::Arc;
use std::time::Duration;

use onelive_events::{Event, EventData, EventType};
use onelive_webhook::verify::{SignatureHeaders, Verifier, WebhookSecret};
use onelive_webhook::{DeliveryState, Dispatcher, Endpoint, HistoryLimits, RetrySchedule};

use crate::support::*;

const T: Duration = Duration::from_secs(20);

fn verify(received: &Received, secret: &WebhookSecret) {
    let headers = SignatureHeaders::from_fn(|name| received.header(name));
    Verifier::new(vec![secret.clone()]).verify(&headers, &received.body).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_500_then_200_is_retried_and_delivered_once_more() {
    let rx = Receiver::start(|_, n| if n == 0 { Reply::status(500) } else { Reply::ok() }).await;
    let dir = tempfile::tempdir().unwrap();
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    let secret = WebhookSecret::generate();
    d.upsert_endpoint(Endpoint::new("sink", rx.url("/hook?key=abc")).with_secret(secret.clone()))
        .await
        .unwrap();
    let event = test_event("retry me");
    assert_eq!(d.enqueue(&event).await.unwrap(), 1);
    let log = wait_for_log(&d, "sink", T, all_in(DeliveryState::Delivered)).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].attempts, 2);
    assert_eq!(log[0].last_status, Some(200));
    assert_eq!(log[0].event_id, event.id);
    assert_eq!(log[0].response_excerpt.as_deref(), Some("ok"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let requests = rx.requests();
    assert_eq!(requests.len(), 2, "delivered exactly once more after the 500");
    for r in &requests {
        assert_eq!(r.path_and_query, "/hook?key=abc");
        assert_eq!(r.header("webhook-id"), Some(event.id.to_string().as_str()));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.header("user-agent").unwrap().starts_with("onelive/"));
        assert_eq!(r.body, event.to_json().as_bytes());
        let ts: i64 = r.header("webhook-timestamp").unwrap().parse().unwrap();
        assert!((ts - onelive_webhook::verify::unix_now()).abs() < 30);
        verify(r, &secret);
    }
    assert_eq!(d.pending(), 0);
    let stats = d.stats().await.unwrap();
    assert_eq!((stats.pending, stats.delivered, stats.failed), (0, 1, 0));
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_sends_one_signature_per_secret_and_no_header_without_secret() {
    let rx = Receiver::always_ok().await;
    let dir = tempfile::tempdir().unwrap();
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    let (old, new) = (WebhookSecret::generate(), WebhookSecret::generate());
    d.upsert_endpoint(
        Endpoint::new("signed", rx.url("/s")).with_secret(old.clone()).with_secret(new.clone()),
    )
    .await
    .unwrap();
    d.upsert_endpoint(Endpoint::new("plain", rx.url("/p")).with_header("X-Token", "t0k"))
        .await
        .unwrap();
    d.enqueue(&test_event("x")).await.unwrap();
    wait_until(T, "two requests", || rx.count() == 2).await;
    let requests = rx.requests();
    let signed = requests.iter().find(|r| r.path_and_query == "/s").unwrap();
    assert_eq!(signed.header("webhook-signature").unwrap().split(' ').count(), 2);
    verify(signed, &old);
    verify(signed, &new);
    let plain = requests.iter().find(|r| r.path_and_query == "/p").unwrap();
    assert_eq!(plain.header("webhook-signature"), None);
    assert!(plain.header("webhook-id").is_some() && plain.header("webhook-timestamp").is_some());
    assert_eq!(plain.header("x-token"), Some("t0k"));
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_400_is_a_permanent_failure_and_redeliver_works() {
    let rx =
        Receiver::start(|_, _| Reply { body: "bad payload".into(), ..Reply::status(400) }).await;
    let dir = tempfile::tempdir().unwrap();
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    d.upsert_endpoint(Endpoint::new("sink", rx.url("/"))).await.unwrap();
    d.enqueue(&test_event("x")).await.unwrap();
    let log = wait_for_log(&d, "sink", T, all_in(DeliveryState::Failed)).await;
    assert_eq!(log[0].attempts, 1);
    assert_eq!(log[0].last_status, Some(400));
    assert_eq!(log[0].response_excerpt.as_deref(), Some("bad payload"));
    assert!(log[0].last_error.as_deref().unwrap().contains("400"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.count(), 1, "a 400 is not retried");
    assert_eq!(d.stats().await.unwrap().failed, 1);

    // Manual redelivery once the receiver is fixed.
    rx.set_responder(|_, _| Reply::ok());
    d.redeliver(log[0].id).await.unwrap();
    let log = wait_for_log(&d, "sink", T, all_in(DeliveryState::Delivered)).await;
    assert_eq!(log[0].attempts, 1);
    assert_eq!(rx.count(), 2);
    assert!(matches!(
        d.redeliver(999_999).await,
        Err(onelive_webhook::Error::UnknownDelivery(999_999))
    ));
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_410_disables_the_endpoint() {
    let rx = Receiver::start(|_, _| Reply::status(410)).await;
    let dir = tempfile::tempdir().unwrap();
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    d.upsert_endpoint(Endpoint::new("gone", rx.url("/"))).await.unwrap();
    d.enqueue(&test_event("x")).await.unwrap();
    let log = wait_for_log(&d, "gone", T, all_in(DeliveryState::Failed)).await;
    assert_eq!(log[0].last_status, Some(410));
    wait_until(T, "endpoint disabled", || !d.endpoint("gone").unwrap().enabled).await;
    // No new deliveries for a disabled endpoint.
    assert_eq!(d.enqueue(&test_event("y")).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.count(), 1);
    // The disabled state is persisted.
    d.shutdown(Duration::from_secs(1)).await.unwrap();
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    assert!(!d.endpoint("gone").unwrap().enabled);
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let rx = Receiver::start(|_, n| {
        if n == 0 { Reply::status(503).header("retry-after", "1") } else { Reply::ok() }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    // Scheduled retry after 20 ms; Retry-After asks for 1 s.
    let d = Dispatcher::open(
        config(&dir).with_retry(RetrySchedule::fixed([Duration::from_millis(20)])),
    )
    .await
    .unwrap();
    d.upsert_endpoint(Endpoint::new("sink", rx.url("/"))).await.unwrap();
    d.enqueue(&test_event("x")).await.unwrap();
    wait_for_log(&d, "sink", T, all_in(DeliveryState::Delivered)).await;
    let r = rx.requests();
    assert_eq!(r.len(), 2);
    let gap = r[1].at - r[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}, before Retry-After");
    assert!(gap < Duration::from_secs(5), "retried after {gap:?}");
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_302_is_not_followed() {
    let rx = Receiver::start(|r, _| {
        if r.path_and_query == "/start" {
            Reply::status(302).header("location", "/elsewhere")
        } else {
            Reply::ok()
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    d.upsert_endpoint(Endpoint::new("sink", rx.url("/start"))).await.unwrap();
    d.enqueue(&test_event("x")).await.unwrap();
    let log = wait_for_log(&d, "sink", T, all_in(DeliveryState::Failed)).await;
    assert_eq!(log[0].last_status, Some(302));
    assert!(log[0].last_error.as_deref().unwrap().contains("redirect"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = rx.requests();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].path_and_query, "/start");
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_is_retried() {
    let rx = Receiver::start(|_, n| {
        if n == 0 { Reply::ok().delayed(Duration::from_secs(2)) } else { Reply::ok() }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    d.upsert_endpoint(Endpoint::new("slow", rx.url("/")).with_timeout(Duration::from_millis(300)))
        .await
        .unwrap();
    d.enqueue(&test_event("x")).await.unwrap();
    let log = wait_for_log(&d, "slow", T, all_in(DeliveryState::Delivered)).await;
    assert_eq!(log[0].attempts, 2);
    assert_eq!(rx.count(), 2);
    let r = rx.requests();
    assert_eq!(r[0].header("webhook-id"), r[1].header("webhook-id"));
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_exhausted_then_failed() {
    let rx = Receiver::start(|_, _| Reply::status(502)).await;
    let dir = tempfile::tempdir().unwrap();
    let retry = RetrySchedule::fixed([Duration::from_millis(10), Duration::from_millis(10)]);
    let d = Dispatcher::open(config(&dir).with_retry(retry)).await.unwrap();
    d.upsert_endpoint(Endpoint::new("sink", rx.url("/"))).await.unwrap();
    d.enqueue(&test_event("x")).await.unwrap();
    let log = wait_for_log(&d, "sink", T, all_in(DeliveryState::Failed)).await;
    assert_eq!(log[0].attempts, 3);
    assert!(log[0].last_error.as_deref().unwrap().contains("gave up after 3 attempts"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rx.count(), 3);
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_filter_is_respected() {
    let rx = Receiver::always_ok().await;
    let dir = tempfile::tempdir().unwrap();
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    d.upsert_endpoint(Endpoint::new("all", rx.url("/all"))).await.unwrap();
    d.upsert_endpoint(
        Endpoint::new("launch-only", rx.url("/launch")).with_event_types([EventType::AppLaunch]),
    )
    .await
    .unwrap();
    let test = test_event("x");
    let launch = Event::new(EventData::AppLaunch);
    assert_eq!(d.enqueue_batch(&[test.clone(), launch.clone()]).await.unwrap(), vec![1, 2]);
    // Enqueuing the same event id again is idempotent.
    assert_eq!(d.enqueue(&launch).await.unwrap(), 0);
    wait_until(T, "three requests", || rx.count() == 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = rx.requests();
    assert_eq!(r.len(), 3);
    let to_launch: Vec<_> = r.iter().filter(|r| r.path_and_query == "/launch").collect();
    assert_eq!(to_launch.len(), 1);
    assert_eq!(to_launch[0].header("webhook-id"), Some(launch.id.to_string().as_str()));
    assert_eq!(r.iter().filter(|r| r.path_and_query == "/all").count(), 2);
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_down_for_a_while_then_up_gets_everything() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener); // nothing listens: connection refused
    let dir = tempfile::tempdir().unwrap();
    let retry = RetrySchedule::fixed([Duration::from_millis(100); 60]);
    let d = Dispatcher::open(config(&dir).with_retry(retry)).await.unwrap();
    d.upsert_endpoint(Endpoint::new("sink", format!("http://{addr}/hook?key=SECRETKEY")))
        .await
        .unwrap();
    let events: Vec<Event> = (0..50).map(|i| event_with_id(1000 + i)).collect();
    d.enqueue_batch(&events).await.unwrap();
    let log =
        wait_for_log(&d, "sink", T, |log| log.len() == 50 && log.iter().all(|r| r.attempts >= 2))
            .await;
    assert!(log.iter().all(|r| r.state == DeliveryState::Pending));
    let error = log[0].last_error.clone().unwrap();
    assert!(error.contains("connection"), "{error}");
    assert!(!error.contains("SECRETKEY"), "secret leaked into the log: {error}");
    // The receiver comes up on the same port.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let rx = Receiver::start_on(listener, |_, _| Reply::ok());
    wait_for_log(&d, "sink", T, all_in(DeliveryState::Delivered)).await;
    let mut ids: Vec<String> =
        rx.requests().iter().map(|r| r.header("webhook-id").unwrap().to_owned()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_reports_status_body_and_latency() {
    let rx = Receiver::start(|_, _| Reply { body: "hello from sink".into(), ..Reply::status(202) })
        .await;
    let dir = tempfile::tempdir().unwrap();
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    let secret = WebhookSecret::generate();
    d.upsert_endpoint(
        Endpoint::new("sink", rx.url("/t")).with_secret(secret.clone()).with_enabled(false),
    )
    .await
    .unwrap();
    let outcome = d.send_test("sink").await.unwrap();
    assert!(outcome.success);
    assert_eq!(outcome.status, Some(202));
    assert_eq!(outcome.body_excerpt, "hello from sink");
    assert!(outcome.latency > Duration::ZERO && outcome.latency < T);
    let r = rx.requests();
    assert_eq!(r.len(), 1);
    verify(&r[0], &secret);
    let event = Event::from_json(&r[0].body).unwrap();
    assert_eq!(event.id, outcome.event_id);
    assert_eq!(event.event_type(), Some(EventType::Test));
    // Nothing went through the outbox.
    assert!(d.deliveries("sink", 10).await.unwrap().is_empty());
    // An unreachable endpoint: an outcome with an error, not an Err.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/", dead.local_addr().unwrap());
    drop(dead);
    let outcome = d.send_test_to(&Endpoint::new("dead", dead_url)).await.unwrap();
    assert!(!outcome.success);
    assert_eq!(outcome.status, None);
    assert!(outcome.error.unwrap().contains("connection"));
    assert!(matches!(
        d.send_test("nope").await,
        Err(onelive_webhook::Error::UnknownEndpoint(id)) if id == "nope"
    ));
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_endpoint_holds_pending_until_enabled() {
    let rx = Receiver::start(|_, _| Reply::status(503)).await;
    let dir = tempfile::tempdir().unwrap();
    // Retries 500 ms apart: the endpoint is disabled well before the second attempt is due.
    let retry = RetrySchedule::fixed([Duration::from_millis(500); 20]);
    let d = Dispatcher::open(config(&dir).with_retry(retry)).await.unwrap();
    d.upsert_endpoint(Endpoint::new("sink", rx.url("/"))).await.unwrap();
    d.enqueue(&test_event("x")).await.unwrap();
    wait_until(T, "first attempt", || rx.count() >= 1).await;
    d.set_endpoint_enabled("sink", false).await.unwrap();
    // The first attempt's outcome is recorded: nothing is in flight any more.
    wait_for_log(&d, "sink", T, |log| log.len() == 1 && log[0].attempts == 1).await;
    assert_eq!(rx.count(), 1);
    // Past two more due times, still nothing. (A time window: it can only miss a bug, never fail
    // a correct dispatcher.)
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(rx.count(), 1, "a disabled endpoint receives nothing");
    assert_eq!(d.pending(), 1);
    rx.set_responder(|_, _| Reply::ok());
    d.set_endpoint_enabled("sink", true).await.unwrap();
    wait_for_log(&d, "sink", T, all_in(DeliveryState::Delivered)).await;
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_leaves_the_rest_durable_and_restart_delivers_it() {
    let rx = Receiver::start(|_, _| Reply::ok().delayed(Duration::from_secs(3))).await;
    let dir = tempfile::tempdir().unwrap();
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    d.upsert_endpoint(Endpoint::new("sink", rx.url("/"))).await.unwrap();
    let events: Vec<Event> = (0..5).map(|i| event_with_id(50 + i)).collect();
    d.enqueue_batch(&events).await.unwrap();
    wait_until(T, "attempts started", || rx.count() == 5).await;
    let report = d.shutdown(Duration::from_millis(200)).await.unwrap();
    assert_eq!(report.abandoned_attempts, 5);
    assert_eq!(report.pending, 5);

    rx.set_responder(|_, _| Reply::ok());
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    assert_eq!(d.endpoints().len(), 1, "endpoints persist");
    wait_for_log(&d, "sink", T, |l| l.len() == 5 && all_in(DeliveryState::Delivered)(l)).await;
    let report = d.shutdown(Duration::from_secs(2)).await.unwrap();
    assert_eq!(report, onelive_webhook::ShutdownReport { abandoned_attempts: 0, pending: 0 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_bounded_per_endpoint() {
    let rx = Receiver::always_ok().await;
    let dir = tempfile::tempdir().unwrap();
    let history = HistoryLimits { max_age: Duration::from_secs(3600), max_per_endpoint: 5 };
    let d = Dispatcher::open(config(&dir).with_history(history)).await.unwrap();
    d.upsert_endpoint(Endpoint::new("sink", rx.url("/"))).await.unwrap();
    let events: Vec<Event> = (0..20).map(|i| event_with_id(200 + i)).collect();
    d.enqueue_batch(&events).await.unwrap();
    wait_for_log(&d, "sink", T, |l| l.len() == 20 && all_in(DeliveryState::Delivered)(l)).await;
    assert_eq!(d.prune_history().await.unwrap(), 15);
    let log = d.deliveries("sink", 100).await.unwrap();
    assert_eq!(log.len(), 5);
    // The newest are kept.
    assert_eq!(log[0].event_id, events[19].id);
    assert_eq!(log[4].event_id, events[15].id);
    // Age limit: everything older than zero seconds goes.
    d.shutdown(Duration::from_secs(1)).await.unwrap();
    let history = HistoryLimits { max_age: Duration::ZERO, max_per_endpoint: 5 };
    let d = Dispatcher::open(config(&dir).with_history(history)).await.unwrap();
    wait_for_log(&d, "sink", T, |l| l.is_empty()).await;
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_outbox_refuses_enqueue_with_a_clear_error_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.max_outbox_bytes = Some(256 * 1024);
    let d = Dispatcher::open(cfg).await.unwrap();
    // The receiver is down, so everything stays pending.
    d.upsert_endpoint(Endpoint::new("sink", "http://127.0.0.1:9/")).await.unwrap();
    let mut accepted = 0;
    let err = loop {
        let batch: Vec<Event> = (0..50).map(|_| test_event(&"x".repeat(500))).collect();
        match d.enqueue_batch(&batch).await {
            Ok(_) => accepted += 50,
            Err(e) => break e,
        }
        assert!(accepted < 100_000, "the size limit was never hit");
    };
    let message = err.to_string();
    assert!(message.contains("full"), "{message}");
    assert!(message.contains("outbox.sqlite"), "{message}");
    assert!(accepted > 0);
    // Nothing accepted was lost, nothing refused was half-written.
    assert_eq!(d.stats().await.unwrap().pending, accepted);
    d.shutdown(Duration::from_millis(100)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_can_be_synced_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    d.sync_endpoints(vec![
        Endpoint::new("a", "http://127.0.0.1:9/a"),
        Endpoint::new("b", "http://127.0.0.1:9/b"),
    ])
    .await
    .unwrap();
    d.enqueue(&test_event("x")).await.unwrap();
    assert_eq!(d.pending(), 2);
    d.sync_endpoints(vec![Endpoint::new("b", "http://127.0.0.1:9/b2")]).await.unwrap();
    let ids: Vec<String> = d.endpoints().into_iter().map(|e| e.id).collect();
    assert_eq!(ids, ["b"]);
    assert_eq!(d.endpoint("b").unwrap().url, "http://127.0.0.1:9/b2");
    assert_eq!(d.pending(), 1, "removing `a` dropped its pending delivery");
    assert!(d.deliveries("a", 10).await.unwrap().is_empty());
    assert!(!d.remove_endpoint("a").await.unwrap());
    assert!(d.remove_endpoint("b").await.unwrap());
    assert_eq!(d.stats().await.unwrap().pending, 0);
    let dup = d
        .sync_endpoints(vec![Endpoint::new("c", "http://x/"), Endpoint::new("c", "http://y/")])
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("`c`"), "{dup}");
    d.shutdown(Duration::from_millis(100)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_names_go_through_the_injected_resolver() {
    let rx = Receiver::always_ok().await;
    let dir = tempfile::tempdir().unwrap();
    let mut table = TableResolver::default();
    table.0.insert("sink.lan".into(), vec![rx.addr.ip()]);
    let d = Dispatcher::open(config(&dir).with_resolver(Arc::new(table))).await.unwrap();
    d.upsert_endpoint(Endpoint::new("sink", format!("http://sink.lan:{}/h", rx.addr.port())))
        .await
        .unwrap();
    d.enqueue(&test_event("x")).await.unwrap();
    wait_for_log(&d, "sink", T, all_in(DeliveryState::Delivered)).await;
    assert_eq!(
        rx.requests()[0].header("host"),
        Some(format!("sink.lan:{}", rx.addr.port()).as_str())
    );
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_start_in_enqueue_order_and_a_failing_one_does_not_block() {
    // The first attempt of event 0 fails; the others go ahead meanwhile.
    let first = onelive_events::Uuid::from_u128(300).to_string();
    let mut failed_once = false;
    let rx = Receiver::start(move |r, _| {
        if r.header("webhook-id") == Some(first.as_str()) && !failed_once {
            failed_once = true;
            Reply::status(503)
        } else {
            Reply::ok()
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir).with_retry(RetrySchedule::fixed([Duration::from_millis(500)]));
    cfg.max_in_flight_per_endpoint = 1;
    let d = Dispatcher::open(cfg).await.unwrap();
    let events: Vec<Event> = (0..20).map(|i| event_with_id(300 + i)).collect();
    d.upsert_endpoint(Endpoint::new("sink", rx.url("/"))).await.unwrap();
    d.enqueue_batch(&events).await.unwrap();
    wait_until(T, "21 requests", || rx.count() == 21).await;
    let order: Vec<String> =
        rx.requests().iter().map(|r| r.header("webhook-id").unwrap().to_owned()).collect();
    let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    // One request at a time: attempts start in enqueue order...
    assert_eq!(order[..20], ids[..]);
    // ...and the failed first event is retried after the others, not before.
    assert_eq!(order[20], ids[0]);
    wait_for_log(&d, "sink", T, all_in(DeliveryState::Delivered)).await;
    d.shutdown(Duration::from_secs(1)).await.unwrap();
}

/// Collects formatted log lines.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// Single-threaded runtime: the delivery tasks log on this thread, where the
// scoped subscriber is installed (no global logger).
#[tokio::test(flavor = "current_thread")]
async fn logs_redact_the_url_secret() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Callsites first hit by tests on other threads (no subscriber there)
    // may have cached "never"; recompute with this subscriber in place.
    tracing::callsite::rebuild_interest_cache();
    let rx =
        Receiver::start(|_, n| if n == 0 { Reply::status(500) } else { Reply::status(404) }).await;
    let dir = tempfile::tempdir().unwrap();
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    d.upsert_endpoint(
        Endpoint::new("sink", rx.url("/hook?key=SECRETKEY"))
            .with_header("Authorization", "Bearer TOKENVALUE")
            .with_generated_secret(),
    )
    .await
    .unwrap();
    d.enqueue(&test_event("x")).await.unwrap();
    wait_for_log(&d, "sink", T, all_in(DeliveryState::Failed)).await;
    d.shutdown(Duration::from_secs(1)).await.unwrap();
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("will retry") || text.contains("webhook delivery failed"), "{text}");
    assert!(text.contains("key=<redacted>"), "{text}");
    for secret in ["SECRETKEY", "TOKENVALUE", "whsec_"] {
        assert!(!text.contains(secret), "{secret} leaked into the logs:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_outbox_serves_one_dispatcher() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    let err = Dispatcher::open(config(&dir)).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("already open in another dispatcher"), "{message}");
    assert!(message.contains("outbox.sqlite"), "{message}");
    d.shutdown(Duration::from_millis(100)).await.unwrap();
    // Released on shutdown.
    let d = Dispatcher::open(config(&dir)).await.unwrap();
    d.shutdown(Duration::from_millis(100)).await.unwrap();
}
