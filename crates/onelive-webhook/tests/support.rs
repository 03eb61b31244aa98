//! A real HTTP receiver on 127.0.0.1:0 (axum) with scripted answers, and
//! helpers shared by the delivery tests.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use onelive_events::{Event, EventData, TestData, Uuid};
use onelive_webhook::ssrf::ResolveFuture;
use onelive_webhook::{
    DeliveryRecord, DeliveryState, Dispatcher, DispatcherConfig, DnsResolver, RetrySchedule,
};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the receiver answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply { status, headers: Vec::new(), body: String::new(), delay: Duration::ZERO }
    }
    pub fn ok() -> Self {
        Reply { body: "ok".into(), ..Reply::status(200) }
    }
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Responder = Box<dyn FnMut(&Received, usize) -> Reply + Send>;

pub struct ReceiverState {
    pub requests: Mutex<Vec<Received>>,
    responder: Mutex<Responder>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub state: Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(state): State<Arc<ReceiverState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Received {
        path_and_query: uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        headers,
        body,
        at: Instant::now(),
    };
    let reply = {
        let mut requests = state.requests.lock().unwrap();
        let n = requests.len();
        requests.push(received.clone());
        (state.responder.lock().unwrap())(&received, n)
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response =
        (StatusCode::from_u16(reply.status).unwrap(), reply.body.clone()).into_response();
    for (k, v) in reply.headers {
        response.headers_mut().insert(k, v.parse().unwrap());
    }
    response
}

impl Receiver {
    /// Starts on 127.0.0.1:0 answering with `responder(request, index)`.
    pub async fn start(responder: impl FnMut(&Received, usize) -> Reply + Send + 'static) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, responder)
    }

    pub fn start_on(
        listener: tokio::net::TcpListener,
        responder: impl FnMut(&Received, usize) -> Reply + Send + 'static,
    ) -> Self {
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ReceiverState {
            requests: Mutex::new(Vec::new()),
            responder: Mutex::new(Box::new(responder)),
        });
        let app = axum::Router::new().fallback(handle).with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, state, task }
    }

    pub fn always_ok() -> impl Future<Output = Self> {
        Self::start(|_, _| Reply::ok())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }

    pub fn set_responder(&self, responder: impl FnMut(&Received, usize) -> Reply + Send + 'static) {
        *self.state.responder.lock().unwrap() = Box::new(responder);
    }
}

/// Polls `cond` every 10 ms until it holds, panicking after `timeout`.
pub async fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls the delivery log of `endpoint` until `cond` holds for it.
pub async fn wait_for_log(
    dispatcher: &Dispatcher,
    endpoint: &str,
    timeout: Duration,
    cond: impl Fn(&[DeliveryRecord]) -> bool,
) -> Vec<DeliveryRecord> {
    let start = Instant::now();
    loop {
        let log = dispatcher.deliveries(endpoint, 1000).await.unwrap();
        if cond(&log) {
            return log;
        }
        assert!(start.elapsed() < timeout, "timed out waiting on the delivery log: {log:#?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn all_in(state: DeliveryState) -> impl Fn(&[DeliveryRecord]) -> bool {
    move |log| !log.is_empty() && log.iter().all(|r| r.state == state)
}

pub fn fast_retry() -> RetrySchedule {
    RetrySchedule::fixed([Duration::from_millis(50); 6])
}

/// A fresh outbox in a tempdir, fast retries.
pub fn config(dir: &tempfile::TempDir) -> DispatcherConfig {
    DispatcherConfig::new(dir.path().join("outbox.sqlite")).with_retry(fast_retry())
}

pub fn test_event(message: &str) -> Event {
    Event::new(EventData::Test(TestData::new(message)))
}

pub fn event_with_id(n: u128) -> Event {
    let mut e = test_event(&format!("event {n}"));
    e.id = Uuid::from_u128(n);
    e
}

/// A resolver answering from a fixed table (no real DNS).
#[derive(Debug, Default, Clone)]
pub struct TableResolver(pub HashMap<String, Vec<IpAddr>>);

impl DnsResolver for TableResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> ResolveFuture<'a> {
        Box::pin(async move {
            self.0.get(host).cloned().ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, format!("{host}: unknown host"))
            })
        })
    }
}
