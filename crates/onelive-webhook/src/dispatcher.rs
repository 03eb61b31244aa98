//! The dispatcher: enqueue into the outbox, deliver with retries.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use onelive_events::{Event, EventData, TestData, Uuid};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::outbox::{
    self, AttemptUpdate, DeliveryRecord, DueRow, EndpointMap, HistoryLimits, NewEvent, Op,
    OutboxStats, Output, Reader, STATE_DELIVERED, STATE_FAILED, STATE_PENDING, Writer, now_ms,
};
use crate::retry::{RetrySchedule, parse_retry_after};
use crate::ssrf::{DnsResolver, ForbiddenAddress, GuardedResolver, SsrfPolicy, SystemResolver};
use crate::verify::{sign_all, unix_now};

/// Longest response body excerpt kept, in bytes read and characters stored.
const EXCERPT_BYTES: usize = 1024;
const EXCERPT_CHARS: usize = 512;

/// The `User-Agent` sent by default.
pub const DEFAULT_USER_AGENT: &str = concat!("onelive/", env!("CARGO_PKG_VERSION"));

/// Settings of a [`Dispatcher`].
///
/// ```
/// use std::time::Duration;
/// use onelive_webhook::{DispatcherConfig, RetrySchedule, SsrfPolicy};
///
/// let config = DispatcherConfig::new("/var/lib/onelive/webhooks.sqlite")
///     .with_retry(RetrySchedule::fixed([Duration::from_secs(1), Duration::from_secs(10)]))
///     .with_ssrf(SsrfPolicy::public_only());
/// assert_eq!(config.max_in_flight_per_endpoint, 32);
/// ```
#[derive(Clone)]
pub struct DispatcherConfig {
    /// The SQLite outbox file (created if missing; `-wal`/`-shm` files sit
    /// next to it).
    pub outbox_path: PathBuf,
    /// When to retry.
    pub retry: RetrySchedule,
    /// Which addresses may be targeted.
    pub ssrf: SsrfPolicy,
    /// Concurrent requests per endpoint (default 32).
    pub max_in_flight_per_endpoint: usize,
    /// How much finished-delivery history to keep.
    pub history: HistoryLimits,
    /// How often history is pruned (default 5 min; also at start).
    pub prune_interval: Duration,
    /// `User-Agent` header (default `onelive/<version>`).
    pub user_agent: String,
    /// Host name resolver (default: the system's). The SSRF policy applies
    /// to every address it returns.
    pub resolver: Arc<dyn DnsResolver>,
    /// Refuse enqueues once the outbox file would exceed this size
    /// (`None`: limited by the disk only).
    pub max_outbox_bytes: Option<u64>,
}

impl DispatcherConfig {
    /// Defaults for an outbox at `outbox_path`.
    pub fn new(outbox_path: impl Into<PathBuf>) -> Self {
        DispatcherConfig {
            outbox_path: outbox_path.into(),
            retry: RetrySchedule::default(),
            ssrf: SsrfPolicy::default(),
            max_in_flight_per_endpoint: 32,
            history: HistoryLimits::default(),
            prune_interval: Duration::from_secs(300),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            resolver: Arc::new(SystemResolver),
            max_outbox_bytes: None,
        }
    }

    /// Sets the retry schedule.
    pub fn with_retry(mut self, retry: RetrySchedule) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the SSRF policy.
    pub fn with_ssrf(mut self, ssrf: SsrfPolicy) -> Self {
        self.ssrf = ssrf;
        self
    }

    /// Sets the host name resolver.
    pub fn with_resolver(mut self, resolver: Arc<dyn DnsResolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Sets the history limits.
    pub fn with_history(mut self, history: HistoryLimits) -> Self {
        self.history = history;
        self
    }
}

impl fmt::Debug for DispatcherConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatcherConfig")
            .field("outbox_path", &self.outbox_path)
            .field("retry", &self.retry)
            .field("ssrf", &self.ssrf)
            .field("max_in_flight_per_endpoint", &self.max_in_flight_per_endpoint)
            .field("history", &self.history)
            .field("prune_interval", &self.prune_interval)
            .field("user_agent", &self.user_agent)
            .field("max_outbox_bytes", &self.max_outbox_bytes)
            .finish_non_exhaustive()
    }
}

/// The result of [`Dispatcher::send_test`].
#[derive(Debug, Clone, PartialEq)]
pub struct TestOutcome {
    /// The `test` event's id.
    pub event_id: Uuid,
    /// `true` for a 2xx response.
    pub success: bool,
    /// The HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// The start of the response body.
    pub body_excerpt: String,
    /// Time from sending to the end of the excerpt.
    pub latency: Duration,
    /// Why no response arrived, or why it is a failure.
    pub error: Option<String>,
}

/// What [`Dispatcher::shutdown`] left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Attempts still running at the deadline, cancelled; their deliveries
    /// stay pending in the outbox and are retried on the next start.
    pub abandoned_attempts: usize,
    /// Deliveries pending in the outbox.
    pub pending: u64,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Delivered,
    Retry,
    Permanent,
    Gone,
}

struct Attempt {
    verdict: Verdict,
    status: Option<u16>,
    retry_after: Option<Duration>,
    excerpt: Option<String>,
    error: Option<String>,
    latency: Duration,
}

struct Inner {
    writer: Writer,
    reader: Reader,
    endpoints: EndpointMap,
    pending: Arc<AtomicI64>,
    client: reqwest::Client,
    retry: RetrySchedule,
    ssrf: SsrfPolicy,
    max_in_flight: usize,
    history: HistoryLimits,
    prune_interval: Duration,
    user_agent: String,
    wake: Notify,
    in_flight: Mutex<HashMap<String, Claims>>,
}

/// Per endpoint: deliveries taken by a worker and not yet recorded
/// (`claimed`, never dispatched twice), and requests on the wire (`active`,
/// bounded by `max_in_flight`). A delivery stops counting as active when
/// its response is in, while its outcome is still being committed.
#[derive(Default)]
struct Claims {
    claimed: HashSet<i64>,
    active: usize,
}

/// Durable, signed, retried webhook delivery.
///
/// Open it on an outbox file inside a tokio runtime; every event given to
/// [`enqueue`](Dispatcher::enqueue) is on disk when the call returns and is
/// delivered to each enabled [`Endpoint`] whose filter accepts it, surviving
/// crashes and restarts (at-least-once; receivers dedup on `webhook-id`).
///
/// ```no_run
/// # async fn run() -> Result<(), onelive_webhook::Error> {
/// use std::time::Duration;
/// use onelive_events::{Event, EventData, TestData};
/// use onelive_webhook::{Dispatcher, DispatcherConfig, Endpoint};
///
/// let dispatcher = Dispatcher::open(DispatcherConfig::new("webhooks.sqlite")).await?;
/// dispatcher
///     .upsert_endpoint(Endpoint::new("sink", "http://127.0.0.1:8080/webhook").with_generated_secret())
///     .await?;
/// let event = Event::new(EventData::Test(TestData::new("hello")));
/// let deliveries = dispatcher.enqueue(&event).await?; // durable now
/// assert_eq!(deliveries, 1);
/// let report = dispatcher.shutdown(Duration::from_secs(5)).await?;
/// println!("{} still pending", report.pending);
/// # Ok(()) }
/// ```
pub struct Dispatcher {
    inner: Arc<Inner>,
    stop: watch::Sender<Option<Instant>>,
    scheduler: Option<tokio::task::JoinHandle<usize>>,
    writer_thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("pending", &self.inner.pending.load(Ordering::Relaxed))
            .field("endpoints", &self.endpoints().len())
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// Opens (or creates) the outbox and starts delivering what it holds.
    ///
    /// Must be called inside a tokio runtime. Fails with
    /// [`Error::Outbox`] if the file cannot be opened, and with
    /// [`Error::InvalidEndpoint`] if a stored endpoint is unreadable.
    pub async fn open(config: DispatcherConfig) -> Result<Dispatcher> {
        if config.max_in_flight_per_endpoint == 0 {
            return Err(Error::InvalidConfig(
                "max_in_flight_per_endpoint must be at least 1".into(),
            ));
        }
        if !(0.0..=1.0).contains(&config.retry.jitter) {
            return Err(Error::InvalidConfig(format!(
                "retry jitter {} is outside 0.0..=1.0",
                config.retry.jitter
            )));
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(GuardedResolver {
                inner: Arc::clone(&config.resolver),
                policy: config.ssrf,
            })
            .pool_max_idle_per_host(config.max_in_flight_per_endpoint)
            .build()
            .map_err(|e| Error::InvalidConfig(format!("cannot build the HTTP client: {e}")))?;
        let path = config.outbox_path.clone();
        let max_bytes = config.max_outbox_bytes;
        let opened = tokio::task::spawn_blocking(move || outbox::open(&path, max_bytes))
            .await
            .map_err(|_| Error::Closed)??;
        if let Some(err) = opened.unreadable_endpoints.into_iter().next() {
            return Err(err);
        }
        metrics::gauge!("onelive_webhook_pending")
            .set(opened.pending.load(Ordering::Relaxed) as f64);
        let inner = Arc::new(Inner {
            writer: opened.writer,
            reader: opened.reader,
            endpoints: opened.endpoints,
            pending: opened.pending,
            client,
            retry: config.retry,
            ssrf: config.ssrf,
            max_in_flight: config.max_in_flight_per_endpoint,
            history: config.history,
            prune_interval: config.prune_interval,
            user_agent: config.user_agent,
            wake: Notify::new(),
            in_flight: Mutex::new(HashMap::new()),
        });
        let (stop, stop_rx) = watch::channel(None);
        let scheduler = tokio::spawn(run_scheduler(Arc::clone(&inner), stop_rx));
        Ok(Dispatcher {
            inner,
            stop,
            scheduler: Some(scheduler),
            writer_thread: Some(opened.writer_thread),
        })
    }

    /// Writes `event` to the outbox, one delivery per enabled endpoint whose
    /// filter accepts it, and returns how many deliveries were created. The
    /// event is on disk (fsynced) when this returns. Enqueuing an event id
    /// that is already in the outbox creates nothing (returns 0).
    pub async fn enqueue(&self, event: &Event) -> Result<usize> {
        let counts = self.enqueue_batch(std::slice::from_ref(event)).await?;
        Ok(counts.into_iter().sum())
    }

    /// [`enqueue`](Dispatcher::enqueue) for several events in one
    /// transaction; returns the deliveries created per event.
    pub async fn enqueue_batch(&self, events: &[Event]) -> Result<Vec<usize>> {
        let prepared = events
            .iter()
            .map(|e| NewEvent {
                id: e.id.to_string(),
                type_name: e.type_name().to_owned(),
                event_type: e.event_type(),
                body: e.to_json().into_bytes(),
            })
            .collect();
        match self.inner.writer.call(Op::Enqueue(prepared)).await? {
            Output::Counts(counts) => {
                let created: usize = counts.iter().sum();
                if created > 0 {
                    self.inner.publish_pending();
                    self.inner.wake.notify_one();
                }
                Ok(counts)
            }
            _ => Err(Error::Closed),
        }
    }

    /// Adds an endpoint or replaces the one with the same id (including its
    /// `enabled` flag). Validated first; the error names the endpoint.
    /// Endpoints are stored in the outbox database.
    pub async fn upsert_endpoint(&self, endpoint: Endpoint) -> Result<()> {
        endpoint.validate(&self.inner.ssrf)?;
        if self.endpoint(&endpoint.id).as_ref() == Some(&endpoint) {
            return Ok(());
        }
        self.inner.writer.call(Op::Upsert(Box::new(endpoint))).await?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Removes an endpoint with its pending deliveries and its history.
    /// Returns whether it existed.
    pub async fn remove_endpoint(&self, id: &str) -> Result<bool> {
        match self.inner.writer.call(Op::Remove(id.to_owned())).await? {
            Output::Bool(existed) => {
                self.inner.publish_pending();
                Ok(existed)
            }
            _ => Err(Error::Closed),
        }
    }

    /// Makes the endpoints exactly `endpoints` (e.g. from a config file):
    /// validates all of them first, then upserts each and removes the others.
    pub async fn sync_endpoints(&self, endpoints: Vec<Endpoint>) -> Result<()> {
        let mut ids = HashSet::new();
        for ep in &endpoints {
            ep.validate(&self.inner.ssrf)?;
            if !ids.insert(ep.id.clone()) {
                return Err(Error::InvalidEndpoint {
                    endpoint: ep.id.clone(),
                    reason: "the id is used twice".into(),
                });
            }
        }
        for ep in endpoints {
            self.upsert_endpoint(ep).await?;
        }
        for existing in self.endpoints() {
            if !ids.contains(&existing.id) {
                self.remove_endpoint(&existing.id).await?;
            }
        }
        Ok(())
    }

    /// Enables or disables an endpoint. While disabled it gets no new
    /// deliveries and its pending ones wait; enabling resumes them.
    pub async fn set_endpoint_enabled(&self, id: &str, enabled: bool) -> Result<()> {
        self.inner.writer.call(Op::SetEnabled(id.to_owned(), enabled)).await?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Every endpoint, sorted by id.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        let mut list: Vec<Endpoint> =
            self.inner.endpoint_map().values().map(|e| (**e).clone()).collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    }

    /// One endpoint.
    pub fn endpoint(&self, id: &str) -> Option<Endpoint> {
        self.inner.endpoint_map().get(id).map(|e| (**e).clone())
    }

    /// Sends a `test` event to a stored endpoint now (outside the outbox, no
    /// retry), even if it is disabled.
    pub async fn send_test(&self, endpoint_id: &str) -> Result<TestOutcome> {
        let endpoint =
            self.endpoint(endpoint_id).ok_or_else(|| Error::UnknownEndpoint(endpoint_id.into()))?;
        self.send_test_to(&endpoint).await
    }

    /// Sends a `test` event to an endpoint that need not be stored (e.g. to
    /// check a configuration before saving it).
    pub async fn send_test_to(&self, endpoint: &Endpoint) -> Result<TestOutcome> {
        endpoint.validate(&self.inner.ssrf)?;
        let event = Event::new(EventData::Test(TestData::new(format!(
            "test delivery to webhook endpoint `{}`",
            endpoint.id
        ))));
        let attempt =
            self.inner.attempt(endpoint, &event.id.to_string(), event.to_json().into_bytes()).await;
        Ok(TestOutcome {
            event_id: event.id,
            success: attempt.verdict == Verdict::Delivered,
            status: attempt.status,
            body_excerpt: attempt.excerpt.unwrap_or_default(),
            latency: attempt.latency,
            error: attempt.error,
        })
    }

    /// The newest `limit` deliveries of an endpoint (pending, delivered and
    /// failed), newest first.
    pub async fn deliveries(&self, endpoint_id: &str, limit: usize) -> Result<Vec<DeliveryRecord>> {
        let reader = self.inner.reader.clone();
        let id = endpoint_id.to_owned();
        tokio::task::spawn_blocking(move || reader.deliveries(&id, limit))
            .await
            .map_err(|_| Error::Closed)?
    }

    /// Makes a delivery pending again with a fresh retry schedule (manual
    /// redelivery from the delivery log).
    pub async fn redeliver(&self, delivery_id: i64) -> Result<()> {
        self.inner.writer.call(Op::Redeliver(delivery_id)).await?;
        self.inner.publish_pending();
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Counts of pending, delivered and failed deliveries.
    pub async fn stats(&self) -> Result<OutboxStats> {
        let reader = self.inner.reader.clone();
        tokio::task::spawn_blocking(move || reader.stats()).await.map_err(|_| Error::Closed)?
    }

    /// Pending deliveries (an in-memory counter, no database read).
    pub fn pending(&self) -> u64 {
        u64::try_from(self.inner.pending.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// Deletes history beyond the configured limits now; returns how many
    /// finished deliveries were deleted. (Also runs periodically.)
    pub async fn prune_history(&self) -> Result<u64> {
        match self.inner.writer.call(Op::Prune(self.inner.history)).await? {
            Output::Count(n) => Ok(n),
            _ => Err(Error::Closed),
        }
    }

    /// Stops starting attempts, waits up to `deadline` for running ones,
    /// cancels the rest (they stay pending and resume on the next start),
    /// and closes the outbox after committing every queued write.
    pub async fn shutdown(mut self, deadline: Duration) -> Result<ShutdownReport> {
        let _ = self.stop.send(Some(Instant::now() + deadline));
        let abandoned = match self.scheduler.take() {
            Some(handle) => handle.await.unwrap_or(0),
            None => 0,
        };
        let pending = self.pending();
        let thread = self.writer_thread.take();
        // Dropping the last handle to the writer closes its queue; the thread
        // commits what is queued and exits.
        drop(self);
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        Ok(ShutdownReport { abandoned_attempts: abandoned, pending })
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        if let Some(handle) = self.scheduler.take() {
            handle.abort();
        }
    }
}

impl Inner {
    fn endpoint_map(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Endpoint>>> {
        match self.endpoints.read() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn publish_pending(&self) {
        metrics::gauge!("onelive_webhook_pending").set(self.pending.load(Ordering::Relaxed) as f64);
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<String, Claims>> {
        match self.in_flight.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// One HTTP attempt.
    async fn attempt(&self, ep: &Endpoint, event_id: &str, body: Vec<u8>) -> Attempt {
        let started = Instant::now();
        let fail = |verdict, error: String| Attempt {
            verdict,
            status: None,
            retry_after: None,
            excerpt: None,
            error: Some(error),
            latency: started.elapsed(),
        };
        let url = match ep.parsed_url(&self.ssrf) {
            Ok(url) => url,
            Err(e) => return fail(Verdict::Permanent, e.to_string()),
        };
        let timestamp = unix_now();
        let mut request = self
            .client
            .post(url)
            .timeout(ep.timeout)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, &self.user_agent)
            .header("webhook-id", event_id)
            .header("webhook-timestamp", timestamp.to_string());
        if !ep.secrets.is_empty() {
            request = request
                .header("webhook-signature", sign_all(&ep.secrets, event_id, timestamp, &body));
        }
        for (name, value) in &ep.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = match request.body(body).send().await {
            Ok(r) => r,
            Err(e) => {
                let (verdict, message) = describe_send_error(&e, ep.timeout);
                return fail(verdict, message);
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let mut excerpt = Vec::new();
        let mut body_error = None;
        while excerpt.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => {
                    body_error = Some(describe_send_error(&e, ep.timeout).1);
                    break;
                }
            }
        }
        let excerpt: String =
            String::from_utf8_lossy(&excerpt).chars().take(EXCERPT_CHARS).collect();
        let (verdict, error) = match status {
            200..=299 => (Verdict::Delivered, None),
            410 => (Verdict::Gone, Some("410 Gone: endpoint disabled".to_owned())),
            408 | 429 | 500..=599 => (Verdict::Retry, Some(format!("HTTP {status}"))),
            300..=399 => {
                (Verdict::Permanent, Some(format!("HTTP {status}: redirects are not followed")))
            }
            _ => (Verdict::Permanent, Some(format!("HTTP {status}"))),
        };
        let error = match (error, body_error) {
            (Some(e), _) => Some(e),
            (None, Some(b)) => Some(format!("response body: {b}")),
            (None, None) => None,
        };
        Attempt {
            verdict,
            status: Some(status),
            retry_after,
            excerpt: Some(excerpt),
            error,
            latency: started.elapsed(),
        }
    }

    /// Attempts one delivery and records the outcome.
    async fn deliver(self: Arc<Self>, ep: Arc<Endpoint>, mut row: DueRow) {
        let delivery = row.delivery;
        let body = std::mem::take(&mut row.body);
        let attempt = self.attempt(&ep, &row.event_id, body).await;
        self.end_request(&ep.id);
        let attempts = row.attempts.saturating_add(1);
        let labels = [("endpoint", ep.id.clone())];
        metrics::histogram!("onelive_webhook_attempt_seconds", &labels)
            .record(attempt.latency.as_secs_f64());
        let (state, next_ms) = match attempt.verdict {
            Verdict::Delivered => (STATE_DELIVERED, now_ms()),
            Verdict::Permanent | Verdict::Gone => (STATE_FAILED, now_ms()),
            Verdict::Retry => match self.retry.delay_after(attempts, attempt.retry_after) {
                Some(delay) => (
                    STATE_PENDING,
                    now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
                ),
                None => (STATE_FAILED, now_ms()),
            },
        };
        let mut error = attempt.error.clone();
        if attempt.verdict == Verdict::Retry && state == STATE_FAILED {
            error = Some(format!(
                "{} (gave up after {attempts} attempts)",
                error.unwrap_or_else(|| "failed".into())
            ));
        }
        let update = AttemptUpdate {
            delivery,
            state,
            attempts,
            next_ms,
            status: attempt.status,
            error: error.clone(),
            excerpt: attempt.excerpt.clone(),
            latency_ms: i64::try_from(attempt.latency.as_millis()).unwrap_or(i64::MAX),
            disable_endpoint: (attempt.verdict == Verdict::Gone).then(|| ep.id.clone()),
        };
        let url = ep.redacted_url();
        match self.writer.call(Op::Finish(update)).await {
            Ok(_) => {}
            Err(e) => {
                // Still pending on disk: it will be attempted again.
                tracing::error!(endpoint = %ep.id, delivery, error = %e, "cannot record a delivery attempt");
                return self.release(&ep.id, delivery);
            }
        }
        match (attempt.verdict, state) {
            (Verdict::Delivered, _) => {
                metrics::counter!("onelive_webhook_delivered_total", &labels).increment(1);
                let lag = now_ms().saturating_sub(row.created_ms).max(0) as f64 / 1000.0;
                metrics::histogram!("onelive_webhook_delivery_lag_seconds", &labels).record(lag);
                tracing::debug!(endpoint = %ep.id, url = %url, event = %row.event_id, attempts, status = ?attempt.status, "webhook delivered");
            }
            (_, STATE_PENDING) => {
                metrics::counter!("onelive_webhook_retried_total", &labels).increment(1);
                tracing::info!(endpoint = %ep.id, url = %url, event = %row.event_id, attempts, error = ?error, "webhook attempt failed, will retry");
            }
            (verdict, _) => {
                metrics::counter!("onelive_webhook_failed_total", &labels).increment(1);
                tracing::warn!(endpoint = %ep.id, url = %url, event = %row.event_id, attempts, error = ?error, "webhook delivery failed");
                if verdict == Verdict::Gone {
                    tracing::warn!(endpoint = %ep.id, url = %url, "endpoint answered 410 Gone; disabled");
                }
            }
        }
        self.publish_pending();
        self.release(&ep.id, delivery);
    }

    /// The response is in: free a request slot.
    fn end_request(&self, endpoint: &str) {
        if let Some(claims) = self.in_flight().get_mut(endpoint) {
            claims.active = claims.active.saturating_sub(1);
        }
        self.wake.notify_one();
    }

    /// The outcome is recorded: the delivery may be fetched again.
    fn release(&self, endpoint: &str, delivery: i64) {
        if let Some(claims) = self.in_flight().get_mut(endpoint) {
            claims.claimed.remove(&delivery);
        }
        self.wake.notify_one();
    }
}

/// Classifies a client error; the message never contains the URL.
fn describe_send_error(e: &reqwest::Error, timeout: Duration) -> (Verdict, String) {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut chain = Vec::new();
    while let Some(s) = source {
        if let Some(forbidden) = s.downcast_ref::<ForbiddenAddress>() {
            return (Verdict::Permanent, format!("refused: {forbidden}"));
        }
        chain.push(s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        return (Verdict::Retry, format!("timed out after {} ms", timeout.as_millis()));
    }
    let kind = if e.is_connect() { "connection failed" } else { "request failed" };
    chain.dedup();
    let detail = if chain.is_empty() { String::new() } else { format!(": {}", chain.join(": ")) };
    (Verdict::Retry, format!("{kind}{detail}"))
}

async fn run_scheduler(inner: Arc<Inner>, mut stop: watch::Receiver<Option<Instant>>) -> usize {
    let mut workers: JoinSet<()> = JoinSet::new();
    let mut last_prune: Option<Instant> = None;
    // Per endpoint, (next_ms, id) of the last row dispatched: the next read
    // starts after it instead of re-reading the claimed head. Reset every
    // second so rows that sort before it (a redelivery within the same
    // millisecond, a clock step back, an outcome that failed to commit) are
    // picked up too.
    let mut cursors: HashMap<String, (i64, i64)> = HashMap::new();
    let mut cursors_reset = Instant::now();
    loop {
        if stop.borrow().is_some() {
            break;
        }
        while workers.try_join_next().is_some() {}
        if last_prune.is_none_or(|t| t.elapsed() >= inner.prune_interval) {
            last_prune = Some(Instant::now());
            if let Err(e) = inner.writer.call(Op::Prune(inner.history)).await {
                tracing::error!(error = %e, "cannot prune the webhook delivery history");
            }
        }
        let endpoints: Vec<Arc<Endpoint>> =
            inner.endpoint_map().values().filter(|e| e.enabled).cloned().collect();
        let mut next_wake: Option<i64> = None;
        if cursors_reset.elapsed() >= Duration::from_secs(1) {
            cursors.clear();
            cursors_reset = Instant::now();
        }
        for ep in endpoints {
            let (busy, active) = match inner.in_flight().get(&ep.id) {
                Some(c) => (c.claimed.clone(), c.active),
                None => (HashSet::new(), 0),
            };
            let free = inner.max_in_flight.saturating_sub(active);
            if free == 0 {
                continue;
            }
            let reader = inner.reader.clone();
            let id = ep.id.clone();
            let after = cursors.get(&ep.id).copied();
            let limit = if after.is_some() { free } else { busy.len() + free };
            let rows =
                match tokio::task::spawn_blocking(move || reader.pending_head(&id, after, limit))
                    .await
                {
                    Ok(Ok(rows)) => rows,
                    Ok(Err(e)) => {
                        tracing::error!(endpoint = %ep.id, error = %e, "cannot read the outbox");
                        next_wake = Some(now_ms() + 1000);
                        continue;
                    }
                    Err(_) => continue,
                };
            let now = now_ms();
            let mut free = free;
            for row in rows {
                if busy.contains(&row.delivery) {
                    continue;
                }
                if row.next_ms > now {
                    next_wake = Some(next_wake.map_or(row.next_ms, |w| w.min(row.next_ms)));
                    break;
                }
                if free == 0 {
                    break;
                }
                free -= 1;
                cursors.insert(ep.id.clone(), (row.next_ms, row.delivery));
                {
                    let mut in_flight = inner.in_flight();
                    let claims = in_flight.entry(ep.id.clone()).or_default();
                    claims.claimed.insert(row.delivery);
                    claims.active += 1;
                }
                workers.spawn(Arc::clone(&inner).deliver(Arc::clone(&ep), row));
            }
        }
        let wait_ms = next_wake.map_or(5_000, |w| (w - now_ms()).clamp(0, 5_000));
        let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
        tokio::select! {
            _ = inner.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
    // Shutting down: let running attempts finish until the deadline.
    let deadline = (*stop.borrow()).unwrap_or_else(Instant::now);
    let drained = tokio::time::timeout_at(deadline.into(), async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_ok() {
        0
    } else {
        let abandoned = workers.len();
        workers.abort_all();
        while workers.join_next().await.is_some() {}
        abandoned
    }
}
