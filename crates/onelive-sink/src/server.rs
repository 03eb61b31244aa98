//! The HTTP side: the webhook route and its answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use onelive_events::{Event, EventType};

use crate::Error;
use crate::auth::{AuthFailure, redact_uri};
use crate::sink::Inner;
use crate::store::{Inserted, NewJob};

/// A JSON answer `{"status": ..., "error"?: ...}`.
fn answer(status: StatusCode, word: &'static str, error: Option<&str>) -> Response {
    let body = match error {
        None => format!("{{\"status\":\"{word}\"}}"),
        Some(e) => {
            let e = serde_json::Value::String(e.to_owned());
            format!("{{\"status\":\"{word}\",\"error\":{e}}}")
        }
    };
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn refuse(uri: &str, status: StatusCode, word: &'static str, reason: &str) -> Response {
    tracing::warn!("refused POST {}: {status} {reason}", redact_uri(uri));
    answer(status, word, Some(reason))
}

fn auth_refusal(uri: &str, failure: AuthFailure) -> Response {
    match failure {
        AuthFailure::Missing(reason) => {
            refuse(uri, StatusCode::UNAUTHORIZED, "unauthorized", &reason)
        }
        AuthFailure::Forbidden(reason) => refuse(uri, StatusCode::FORBIDDEN, "forbidden", &reason),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim();
    mime.eq_ignore_ascii_case("application/json")
        || mime.get(mime.len().saturating_sub(5)..).is_some_and(|s| s.eq_ignore_ascii_case("+json"))
}

/// Builds the router: `POST {path}` plus JSON 404/405 answers.
pub(crate) fn router(inner: Arc<Inner>) -> Router {
    let path = inner.config.server.path.clone();
    Router::new()
        .route(
            &path,
            axum::routing::post(webhook).fallback(|| async {
                answer(StatusCode::METHOD_NOT_ALLOWED, "error", Some("use POST"))
            }),
        )
        .route(crate::config::HEALTH_PATH, axum::routing::get(healthz))
        .route("/metrics", axum::routing::get(metrics))
        .fallback(|| async { answer(StatusCode::NOT_FOUND, "error", Some("no such route")) })
        .with_state(inner)
}

/// `GET /healthz` (no authentication): 200 `{"status":"ok","store":"ok"}`
/// when the job store answers a query and its writer runs, else 503 with
/// `"store":"unavailable"` (the reason goes to the log, not to the caller).
async fn healthz(State(inner): State<Arc<Inner>>) -> Response {
    let store = inner.store.clone();
    let checked = tokio::task::spawn_blocking(move || store.check_health()).await;
    let (status, word, store) = match checked {
        Ok(Ok(())) => (StatusCode::OK, "ok", "ok"),
        Ok(Err(e)) => {
            tracing::error!("healthz: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "error", "unavailable")
        }
        Err(e) => {
            tracing::error!("healthz: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "error", "unavailable")
        }
    };
    let body = serde_json::json!({"status": word, "store": store}).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `GET /metrics`: behind the same address and `?key=` checks as the webhook
/// route (no signature: a scrape has no body).
async fn metrics(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let uri = request.uri().path_and_query().map_or("", |p| p.as_str());
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let Err(f) = inner.auth.check_request(peer, request.headers(), request.uri().query()) {
        return auth_refusal(uri, f);
    }
    match crate::metrics::render() {
        Some(text) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
            .into_response(),
        None => answer(StatusCode::NOT_FOUND, "error", Some("no such route")),
    }
}

async fn webhook(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let uri = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let Err(f) = inner.auth.check_request(peer, &parts.headers, parts.uri.query()) {
        return auth_refusal(uri, f);
    }
    // Everything about the signature that the headers tell is checked
    // before a byte of the body is read.
    if let Err(f) = inner.auth.check_signature_headers(&parts.headers) {
        return auth_refusal(uri, f);
    }
    if !is_json(&parts.headers) {
        return refuse(
            uri,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "error",
            "Content-Type must be application/json",
        );
    }
    let limit = inner.config.server.body_limit;
    let too_large = || format!("body larger than {limit} bytes");
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return refuse(uri, StatusCode::PAYLOAD_TOO_LARGE, "error", &too_large());
    }
    let timeout = Duration::try_from_secs_f64(inner.config.server.body_timeout_secs)
        .unwrap_or(Duration::from_secs(30));
    let deadline = tokio::time::Instant::now() + timeout;
    // Room for the body in the shared memory budget (KiB units), reserved
    // before reading: many slow bodies cannot add up past the budget.
    let reserve = declared.unwrap_or(limit as u64).min(limit as u64);
    let kib = u32::try_from(reserve.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
    let _room = match tokio::time::timeout_at(deadline, inner.body_budget.acquire_many(kib)).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(_)) | Err(_) => {
            return refuse(
                uri,
                StatusCode::SERVICE_UNAVAILABLE,
                "error",
                "too many request bodies in flight (server.body_memory_limit); try again",
            );
        }
    };
    // `to_bytes` stops reading as soon as the limit is passed.
    let read = axum::body::to_bytes(Body::new(body), limit);
    let body: Bytes = match tokio::time::timeout_at(deadline, read).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            // axum reports http-body-util's `LengthLimitError` this way.
            let is_limit = e.to_string().contains("length limit");
            return if is_limit {
                refuse(uri, StatusCode::PAYLOAD_TOO_LARGE, "error", &too_large())
            } else {
                refuse(uri, StatusCode::BAD_REQUEST, "error", &format!("cannot read body: {e}"))
            };
        }
        Err(_) => {
            let reason = format!(
                "the body did not arrive within {:.0}s (server.body_timeout_secs)",
                timeout.as_secs_f64()
            );
            return refuse(uri, StatusCode::REQUEST_TIMEOUT, "error", &reason);
        }
    };
    if let Err(f) = inner.auth.check_signature(&parts.headers, &body) {
        return auth_refusal(uri, f);
    }
    let event = match Event::from_json(&body) {
        Ok(e) => e,
        Err(e) => return refuse(uri, StatusCode::BAD_REQUEST, "error", &e.to_string()),
    };
    let (platform, channel) = event.data.channel().unwrap_or(("", ""));
    tracing::debug!("Received {} from {platform}-{channel} ({})", event.type_name(), event.id);

    let matched = inner.matching_actions(&event);
    // With a `merge` rule, a session's file events are kept (without jobs)
    // so that its `live_end` finds the parts.
    let keep = inner.keeps_session_files
        && event.data.session_id().is_some()
        && matches!(
            event.event_type(),
            Some(EventType::VideoFileFinish | EventType::VideoTransmuxFinish)
        );
    if matched.is_empty() && !keep {
        return answer(StatusCode::OK, "ignored", None);
    }
    let file = crate::sink::event_file(&event);
    let mut jobs = Vec::with_capacity(matched.len());
    let mut checked = false;
    for (rule, index, action) in matched {
        if action.uses_file()
            && let Some(file) = file
            && !checked
        {
            if let Err(e) = inner.policy.resolve(file) {
                return refuse(uri, StatusCode::UNPROCESSABLE_ENTITY, "refused", &e.to_string());
            }
            checked = true;
        }
        jobs.push(NewJob {
            rule: rule.name.clone(),
            action_index: index,
            action_kind: action.kind().to_owned(),
            file: file.map(str::to_owned),
            max_attempts: action.retry().attempts,
        });
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let count = jobs.len();
    match inner
        .store
        .insert_event(event.id.to_string(), event.type_name().to_owned(), text, jobs)
        .await
    {
        Ok(Inserted::New) => {
            crate::metrics::event_stored(event.type_name());
            tracing::info!(
                "Webhook Received: {} {} ({count} job(s) queued)",
                event.type_name(),
                file.map(file_name).unwrap_or_default()
            );
            inner.notify.notify_one();
            answer(StatusCode::OK, "success", None)
        }
        Ok(Inserted::Duplicate) => {
            tracing::info!("duplicate event {} ignored", event.id);
            answer(StatusCode::OK, "duplicate", None)
        }
        Err(e) => {
            tracing::error!("cannot store event {}: {e}", event.id);
            let e: Error = e;
            answer(StatusCode::SERVICE_UNAVAILABLE, "error", Some(&e.to_string()))
        }
    }
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
