//! A local Pixeldrain stand-in (HTTP on 127.0.0.1) for tests and benchmarks.
//!
//! It implements `PUT /api/file/{name}` (Basic auth with an empty user and
//! the API key) and `GET /api/file/{id}/info`, counts the bytes it receives
//! without keeping them (unless asked to, up to a limit), and can be told to
//! fail the next requests or to throttle uploads.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use onelive_sink::stand_in::PixeldrainStandIn;
//!
//! let server = PixeldrainStandIn::start("key").await?;
//! let answer = reqwest::Client::new()
//!     .put(format!("{}/file/a.txt", server.api_base()))
//!     .basic_auth("", Some("key"))
//!     .body("hello")
//!     .send()
//!     .await
//!     .unwrap();
//! assert_eq!(answer.status(), 201);
//! assert_eq!(server.uploads()[0].size, 5);
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use base64::Engine;
use futures_util::StreamExt;

/// One upload the stand-in received completely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The id it answered.
    pub id: String,
    /// The `{name}` of the URL.
    pub name: String,
    /// Bytes received.
    pub size: u64,
    /// The bytes, if they fit in the keep limit.
    pub bytes: Option<Vec<u8>>,
}

#[derive(Debug)]
struct StandInState {
    expected_auth: String,
    fail_next: AtomicU32,
    rate_limit: AtomicU64,
    keep_limit: AtomicU64,
    size_offset: AtomicU64,
    requests: AtomicU32,
    unauthorized: AtomicU32,
    bytes_received: AtomicU64,
    next_id: AtomicU32,
    uploads: Mutex<Vec<Upload>>,
}

/// The running stand-in; stops when dropped.
#[derive(Debug)]
pub struct PixeldrainStandIn {
    addr: SocketAddr,
    state: Arc<StandInState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PixeldrainStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PixeldrainStandIn {
    /// Starts on an ephemeral loopback port, accepting `api_key`.
    pub async fn start(api_key: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!(":{api_key}"));
        let state = Arc::new(StandInState {
            expected_auth: format!("Basic {token}"),
            fail_next: AtomicU32::new(0),
            rate_limit: AtomicU64::new(0),
            keep_limit: AtomicU64::new(16 * 1024 * 1024),
            size_offset: AtomicU64::new(0),
            requests: AtomicU32::new(0),
            unauthorized: AtomicU32::new(0),
            bytes_received: AtomicU64::new(0),
            next_id: AtomicU32::new(1),
            uploads: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/api/file/{name}", put(upload))
            .route("/api/file/{id}/info", get(info))
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(PixeldrainStandIn { addr, state, task })
    }

    /// `http://127.0.0.1:PORT/api`, the value for `api` in the config.
    pub fn api_base(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// Answers the next `n` uploads with 500 (after reading their body).
    pub fn fail_next(&self, n: u32) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    /// Receives at most `bytes_per_sec` (0: unlimited).
    pub fn set_rate_limit(&self, bytes_per_sec: u64) {
        self.state.rate_limit.store(bytes_per_sec, Ordering::SeqCst);
    }

    /// Keeps the bytes of uploads up to `limit` bytes (default 16 MiB).
    pub fn keep_bytes_up_to(&self, limit: u64) {
        self.state.keep_limit.store(limit, Ordering::SeqCst);
    }

    /// Makes `info` report sizes `offset` bytes too large (to test verification).
    pub fn misreport_size_by(&self, offset: u64) {
        self.state.size_offset.store(offset, Ordering::SeqCst);
    }

    /// Upload requests received (complete or not, authorized or not).
    pub fn requests(&self) -> u32 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Requests refused for a wrong `Authorization` header.
    pub fn unauthorized(&self) -> u32 {
        self.state.unauthorized.load(Ordering::SeqCst)
    }

    /// Body bytes received so far over all requests.
    pub fn bytes_received(&self) -> u64 {
        self.state.bytes_received.load(Ordering::SeqCst)
    }

    /// Uploads received completely and answered 201.
    pub fn uploads(&self) -> Vec<Upload> {
        self.state.uploads.lock().map(|u| u.clone()).unwrap_or_default()
    }
}

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (status, [("content-type", "application/json")], value.to_string()).into_response()
}

async fn upload(
    State(state): State<Arc<StandInState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth != state.expected_auth {
        state.unauthorized.fetch_add(1, Ordering::SeqCst);
        return json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"success": false, "value": "authentication_failed"}),
        );
    }
    let keep_limit = state.keep_limit.load(Ordering::SeqCst);
    let mut kept = Some(Vec::new());
    let mut size = 0u64;
    let started = Instant::now();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return json(StatusCode::BAD_REQUEST, serde_json::json!({"success": false}));
        };
        size += chunk.len() as u64;
        state.bytes_received.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        if size > keep_limit {
            kept = None;
        } else if let Some(k) = kept.as_mut() {
            k.extend_from_slice(&chunk);
        }
        let rate = state.rate_limit.load(Ordering::SeqCst);
        if rate > 0 {
            #[allow(clippy::cast_precision_loss)]
            let due = Duration::from_secs_f64(size as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    let failing = state
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return json(
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({"success": false, "value": "internal"}),
        );
    }
    let id = format!("standin{}", state.next_id.fetch_add(1, Ordering::SeqCst));
    if let Ok(mut uploads) = state.uploads.lock() {
        uploads.push(Upload { id: id.clone(), name, size, bytes: kept });
    }
    json(StatusCode::CREATED, serde_json::json!({"id": id}))
}

async fn info(State(state): State<Arc<StandInState>>, Path(id): Path<String>) -> Response {
    let found = state
        .uploads
        .lock()
        .ok()
        .and_then(|u| u.iter().find(|u| u.id == id).map(|u| (u.name.clone(), u.size)));
    match found {
        Some((name, size)) => {
            let size = size + state.size_offset.load(Ordering::SeqCst);
            json(StatusCode::OK, serde_json::json!({"id": id, "name": name, "size": size}))
        }
        None => {
            json(StatusCode::NOT_FOUND, serde_json::json!({"success": false, "value": "not_found"}))
        }
    }
}
