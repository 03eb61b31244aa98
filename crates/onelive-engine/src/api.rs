//! The HTTP API (axum): channels, webhooks, deliveries, recordings, events,
//! `/metrics`, `/healthz`.
//!
//! JSON everywhere; errors are `{"error": "..."}` with a fitting status.
//! When a token is configured every route but `/healthz` needs
//! `Authorization: Bearer <token>`. See `docs/api.md`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use onelive_events::EventType;
use onelive_webhook::{DeliveryRecord, DeliveryState};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{ChannelConfig, WebhookConfig};
use crate::{Engine, EngineError, HumanDuration, Secret};

#[derive(Clone)]
struct ApiState {
    engine: Engine,
    token: Option<Secret>,
}

/// The API's router. `token`: bearer token required on every route but `/healthz`.
///
/// Every route is behind the browser guard (`Host` and `Origin` checks, see
/// `docs/api.md`), which reads `[api] allowed_hosts` and `trusted_proxies`
/// from the engine's config. Request bodies are read only after the token
/// check, up to `[api] max_body_bytes` (`413` beyond) and within `[api]
/// body_timeout` (`408` beyond).
pub fn router(engine: Engine, token: Option<Secret>) -> Router {
    let api = &engine.config().api;
    let guard = crate::api_guard::Guard::new(api);
    let bounds = BodyBounds { max: api.max_body_bytes, timeout: api.body_timeout.0 };
    let state = ApiState { engine, token };
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .route("/api/channels", get(list_channels).post(add_channel))
        .route("/api/channels/{id}", get(get_channel).delete(remove_channel))
        .route("/api/channels/{id}/enable", post(enable_channel))
        .route("/api/channels/{id}/disable", post(disable_channel))
        .route("/api/channels/{id}/record/start", post(start_recording))
        .route("/api/channels/{id}/record/stop", post(stop_recording))
        .route("/api/webhooks", get(list_webhooks).post(add_webhook))
        .route("/api/webhooks/{id}", get(get_webhook).put(edit_webhook).delete(remove_webhook))
        .route("/api/webhooks/{id}/test", post(test_webhook))
        .route("/api/webhooks/{id}/deliveries", get(webhook_deliveries))
        .route("/api/deliveries", get(deliveries))
        .route("/api/deliveries/{id}/redeliver", post(redeliver))
        .route("/api/events", get(recent_events))
        .route("/api/recordings", get(recordings))
        .route("/api/output", get(output))
        // Layers added later run first: the token check, then the body.
        .route_layer(middleware::from_fn_with_state(bounds, bounded_body))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(protected)
        // The web UI (`/`, `/ui/...`): public assets that call the API above with the same token.
        .merge(onelive_webui::router())
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(bounds.max))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(guard, crate::api_guard::guard))
}

/// The connection limits of [`serve`] with the default `[api]` section:
/// 1024 connections at once, 64 per client address (loopback clients
/// exempt), the request head within 10 s (also the longest a kept-alive
/// connection may idle), heads up to 16 KiB.
pub fn default_limits() -> onelive_listen::Limits {
    crate::config::ApiConfig::default()
        .listen_limits()
        .unwrap_or_else(|_| onelive_listen::Limits::default())
}

/// Serves the API on `listener` until `shutdown` resolves, with the limits
/// of the engine's `[api]` section.
pub async fn serve(
    engine: Engine,
    listener: tokio::net::TcpListener,
    token: Option<Secret>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), EngineError> {
    let limits = engine
        .config()
        .api
        .listen_limits()
        .map_err(|r| EngineError::Invalid(format!("api.trusted_proxies: {r}")))?;
    serve_with_limits(engine, listener, token, limits, shutdown).await
}

/// [`serve`] with other connection limits.
pub async fn serve_with_limits(
    engine: Engine,
    listener: tokio::net::TcpListener,
    token: Option<Secret>,
    limits: onelive_listen::Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), EngineError> {
    onelive_listen::serve(listener, router(engine, token), limits, shutdown)
        .await
        .map_err(|e| EngineError::Invalid(format!("HTTP API: {e}")))
}

/// `[api] max_body_bytes` and `body_timeout`.
#[derive(Debug, Clone, Copy)]
struct BodyBounds {
    max: usize,
    timeout: std::time::Duration,
}

/// Reads the request body whole, up to `max` bytes and within `timeout`,
/// so that a client trickling a body cannot hold a connection for long.
async fn bounded_body(State(b): State<BodyBounds>, request: Request, next: Next) -> Response {
    use axum::body::HttpBody;
    let (parts, mut body) = request.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let too_large = || {
        ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than {} bytes ([api] max_body_bytes)", b.max),
        )
        .into_response()
    };
    if declared.is_some_and(|n| n > b.max as u64) {
        return too_large();
    }
    let read = async {
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(frame) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|e| Some(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > b.max {
                    return Err(None::<String>);
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(bytes)
    };
    match tokio::time::timeout(b.timeout, read).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await,
        Ok(Err(None)) => too_large(),
        Ok(Err(Some(e))) => {
            ApiError(StatusCode::BAD_REQUEST, format!("cannot read the request body: {e}"))
                .into_response()
        }
        Err(_) => ApiError(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} ([api] body_timeout)",
                HumanDuration(b.timeout)
            ),
        )
        .into_response(),
    }
}

/// Error answers that axum writes as plain text (a body over
/// `[api] max_body_bytes`, malformed JSON) become `{"error": "..."}`, like
/// every other answer of the API.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let text = text.trim();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_ascii_lowercase()
    } else {
        text.to_owned()
    };
    ApiError(status, message).into_response()
}

struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            EngineError::NotFound(_) => StatusCode::NOT_FOUND,
            EngineError::Invalid(_) | EngineError::Config { .. } | EngineError::Platform(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// A JSON body axum could not take: `413` when it is over
/// `[api] max_body_bytes`, else `400`, with axum's explanation.
fn rejected(e: axum::extract::rejection::JsonRejection) -> ApiError {
    let status = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError(status, e.body_text())
}

async fn auth(
    State(state): State<ApiState>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = &state.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .unwrap_or("");
        if !constant_time_eq(given.as_bytes(), token.expose().as_bytes()) {
            return ApiError(StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into())
                .into_response();
        }
    }
    next.run(request).await
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is
/// case-insensitive (RFC 9110 section 11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim_start())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn metrics(State(s): State<ApiState>) -> Response {
    match crate::metrics::render(&s.engine).await {
        Some(body) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response(),
        None => ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "no metrics exporter in this program (onelive_engine::metrics::set_exporter)".into(),
        )
        .into_response(),
    }
}

/// A JSON answer with the query strings of every URL in it hidden.
fn shown(mut value: serde_json::Value) -> Json<serde_json::Value> {
    crate::redact::redact_value(&mut value);
    Json(value)
}

/// `[output]` and its time zone's offset now (the UI's file name preview).
async fn output(State(s): State<ApiState>) -> Json<serde_json::Value> {
    Json(crate::template::output_view(&s.engine.config().output))
}

async fn list_channels(State(s): State<ApiState>) -> Json<serde_json::Value> {
    shown(json!({ "channels": s.engine.channels() }))
}

async fn get_channel(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(shown(serde_json::to_value(s.engine.channel(&id)?).unwrap_or_default()))
}

/// Body of `POST /api/channels`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewChannel {
    url: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    record: Option<bool>,
    #[serde(default)]
    quality: Vec<String>,
    #[serde(default)]
    poll_interval: Option<HumanDuration>,
    #[serde(default)]
    debounce: Option<HumanDuration>,
    #[serde(default)]
    filename_template: Option<String>,
}

async fn add_channel(
    State(s): State<ApiState>,
    body: Result<Json<NewChannel>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let Json(b) = body.map_err(rejected)?;
    let mut c = ChannelConfig::new(b.url);
    c.name = b.name;
    c.enabled = b.enabled.unwrap_or(true);
    c.record = b.record.unwrap_or(true);
    c.quality = b.quality;
    c.poll_interval = b.poll_interval;
    c.debounce = b.debounce;
    c.filename_template = b.filename_template;
    let snap = s.engine.add_channel(c).await?;
    Ok((StatusCode::CREATED, Json(serde_json::to_value(snap).unwrap_or_default())))
}

async fn remove_channel(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.remove_channel(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn enable_channel(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(serde_json::to_value(s.engine.set_enabled(&id, true).await?).unwrap_or_default()))
}

async fn disable_channel(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(serde_json::to_value(s.engine.set_enabled(&id, false).await?).unwrap_or_default()))
}

async fn start_recording(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(serde_json::to_value(s.engine.set_recording(&id, true)?).unwrap_or_default()))
}

async fn stop_recording(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(serde_json::to_value(s.engine.set_recording(&id, false)?).unwrap_or_default()))
}

/// A webhook as the API shows it: secrets and header values are never returned.
fn webhook_json(w: &WebhookConfig) -> serde_json::Value {
    json!({
        "id": w.id,
        "url": redact_url(&w.url),
        "events": w.events,
        "enabled": w.enabled,
        "signed": w.secret.as_ref().is_some_and(|s| !s.is_empty()),
        "headers": w.headers.keys().collect::<Vec<_>>(),
    })
}

fn redact_url(url: &str) -> String {
    crate::config::redact_query(url)
}

async fn list_webhooks(State(s): State<ApiState>) -> Json<serde_json::Value> {
    let hooks: Vec<_> = s.engine.webhooks().iter().map(webhook_json).collect();
    Json(json!({ "webhooks": hooks }))
}

async fn get_webhook(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    s.engine
        .webhooks()
        .iter()
        .find(|w| w.id.as_deref() == Some(id.as_str()))
        .map(|w| Json(webhook_json(w)))
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("not found: webhook {id}")))
}

/// Body of `POST /api/webhooks` and `PUT /api/webhooks/{id}`.
///
/// `secret`: absent keeps the stored secret (on `PUT`; none on `POST`),
/// `null` or `""` removes it, a string sets it. `headers`: absent keeps every
/// stored header (on `PUT`); an object replaces the set of headers, where a
/// name whose value is `null` or `""` keeps that header's stored value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    url: String,
    #[serde(default)]
    events: Vec<EventType>,
    #[serde(default, deserialize_with = "present")]
    secret: Option<Option<Secret>>,
    #[serde(default)]
    headers: Option<BTreeMap<String, Option<Secret>>>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// Tells a field that is present (possibly `null`) from an absent one.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl WebhookBody {
    /// The webhook this body describes; `stored` (the webhook being edited)
    /// supplies the secret and header values the body leaves out.
    fn into_config(self, stored: Option<&WebhookConfig>) -> Result<WebhookConfig, ApiError> {
        let secret = match self.secret {
            None => stored.and_then(|w| w.secret.clone()),
            Some(None) => None,
            Some(Some(s)) if s.is_empty() => None,
            Some(Some(s)) => Some(s),
        };
        let headers = match self.headers {
            None => stored.map(|w| w.headers.clone()).unwrap_or_default(),
            Some(given) => {
                let mut headers = BTreeMap::new();
                for (name, value) in given {
                    let value = match value {
                        Some(v) if !v.is_empty() => v,
                        _ => stored
                            .and_then(|w| {
                                w.headers
                                    .iter()
                                    .find(|(n, _)| n.eq_ignore_ascii_case(&name))
                                    .map(|(_, v)| v.clone())
                            })
                            .ok_or_else(|| {
                                ApiError(
                                    StatusCode::UNPROCESSABLE_ENTITY,
                                    format!(
                                        "header {name:?} has no value and no stored value to keep"
                                    ),
                                )
                            })?,
                    };
                    headers.insert(name, value);
                }
                headers
            }
        };
        // The file's other signing secrets (rotation) stay while there is a secret.
        let secrets = match (&secret, stored) {
            (Some(_), Some(w)) => w.secrets.clone(),
            _ => Vec::new(),
        };
        Ok(WebhookConfig {
            id: None,
            url: self.url,
            events: self.events,
            secret,
            secrets,
            headers,
            enabled: self.enabled.unwrap_or(true),
        })
    }
}

async fn add_webhook(
    State(s): State<ApiState>,
    body: Result<Json<WebhookBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let Json(b) = body.map_err(rejected)?;
    let w = s.engine.add_webhook(b.into_config(None)?).await?;
    Ok((StatusCode::CREATED, Json(webhook_json(&w))))
}

async fn edit_webhook(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    body: Result<Json<WebhookBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Json(b) = body.map_err(rejected)?;
    let stored = s
        .engine
        .webhooks()
        .into_iter()
        .find(|w| w.id.as_deref() == Some(id.as_str()))
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("not found: webhook {id}")))?;
    let w = s.engine.edit_webhook(&id, b.into_config(Some(&stored))?).await?;
    Ok(Json(webhook_json(&w)))
}

async fn remove_webhook(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.remove_webhook(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test_webhook(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let outcome = s.engine.test_webhook(&id).await?;
    Ok(Json(json!({ "webhook": id, "result": outcome })))
}

#[derive(Debug, Deserialize)]
struct Limit {
    #[serde(default)]
    limit: Option<usize>,
}

/// A delivery as the API shows it (ids as strings, the state in words).
#[derive(Debug, Serialize)]
struct DeliveryView<'a> {
    id: String,
    webhook_id: &'a str,
    event_id: String,
    event_type: &'a str,
    status: &'static str,
    attempts: u32,
    last_status: Option<u16>,
    last_error: Option<&'a str>,
}

impl<'a> From<&'a DeliveryRecord> for DeliveryView<'a> {
    fn from(r: &'a DeliveryRecord) -> Self {
        DeliveryView {
            id: r.id.to_string(),
            webhook_id: &r.endpoint_id,
            event_id: r.event_id.to_string(),
            event_type: &r.event_type,
            status: match r.state {
                DeliveryState::Pending => "pending",
                DeliveryState::Delivered => "delivered",
                DeliveryState::Failed => "failed",
            },
            attempts: r.attempts,
            last_status: r.last_status,
            last_error: r.last_error.as_deref(),
        }
    }
}

async fn webhook_deliveries(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<Limit>,
) -> ApiResult<Json<serde_json::Value>> {
    let list = s.engine.delivery().recent(Some(&id), q.limit.unwrap_or(50).min(1000)).await?;
    Ok(Json(json!({ "deliveries": list.iter().map(DeliveryView::from).collect::<Vec<_>>() })))
}

async fn deliveries(
    State(s): State<ApiState>,
    Query(q): Query<Limit>,
) -> ApiResult<Json<serde_json::Value>> {
    let list = s.engine.delivery().recent(None, q.limit.unwrap_or(50).min(1000)).await?;
    Ok(Json(json!({ "deliveries": list.iter().map(DeliveryView::from).collect::<Vec<_>>() })))
}

async fn redeliver(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    s.engine.delivery().redeliver(&id).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "redelivering": id }))))
}

async fn recordings(State(s): State<ApiState>, Query(q): Query<Limit>) -> Json<serde_json::Value> {
    let list = s.engine.recordings(q.limit.unwrap_or(100).min(crate::recordings::MAX_RECORDINGS));
    shown(json!({ "recordings": list }))
}

async fn recent_events(State(s): State<ApiState>) -> Json<serde_json::Value> {
    let events: Vec<_> = s.engine.recent_events().iter().map(|e| e.to_value()).collect();
    shown(json!({ "events": events }))
}
