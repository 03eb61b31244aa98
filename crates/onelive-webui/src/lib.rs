//! The web UI of `oneliverec`: a face on the engine's HTTP API.
//!
//! The UI is plain HTML, CSS and JavaScript embedded in the binary with
//! `include_bytes!` (no Node.js, no build step, no external fonts, scripts
//! or CDNs). [`router`] serves it:
//!
//! - `GET /` — the single page (`index.html`), `Cache-Control: no-cache`;
//! - `GET /ui/<file>` — the embedded assets ([`ASSETS`]) with their content
//!   type; `index.html` links them as `/ui/<file>?v=<version>` so they are
//!   cached for a year (`immutable`) and refetched when the binary changes;
//! - `GET /ui` — redirects to `/`.
//!
//! Every answer carries an `ETag` (a `304` answers a matching
//! `If-None-Match`), `X-Content-Type-Options: nosniff` and a strict
//! `Content-Security-Policy` (`'self'` only).
//!
//! The UI holds no logic of its own: every page reads and changes the
//! engine through its JSON API (`/api/...`, see `docs/api.md`). The assets
//! themselves are public (they hold no data); when the API requires a bearer
//! token, the page asks for it once, keeps it in `localStorage` and sends it
//! as `Authorization: Bearer <token>`.
//!
//! Mount it next to the API router, which keeps its own auth layer:
//!
//! ```
//! use axum::{Router, routing::get};
//!
//! let api: Router = Router::new().route("/healthz", get(|| async { "ok" }));
//! let app: Router = api.merge(onelive_webui::router());
//! # let _ = app;
//! ```
#![deny(missing_docs)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// One embedded file of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// Its path under `/ui/`, e.g. `app.js`.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

/// The marker in `index.html` replaced by [`assets_version`].
const VERSION_MARKER: &str = "__ASSET_VERSION__";

const INDEX_HTML: &str = include_str!("../assets/index.html");

/// Every embedded file, served as `/ui/<path>`.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "index.html",
        content_type: "text/html; charset=utf-8",
        bytes: INDEX_HTML.as_bytes(),
    },
    Asset {
        path: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/app.js"),
    },
    Asset {
        path: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/app.css"),
    },
    Asset {
        path: "i18n.json",
        content_type: "application/json",
        bytes: include_bytes!("../assets/i18n.json"),
    },
    Asset {
        path: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../assets/favicon.svg"),
    },
];

/// The embedded asset at `path` (relative to `/ui/`), if any.
///
/// ```
/// let js = onelive_webui::asset("app.js").unwrap();
/// assert_eq!(js.content_type, "text/javascript; charset=utf-8");
/// assert!(onelive_webui::asset("../Cargo.toml").is_none());
/// ```
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// FNV-1a (64 bits) of some bytes.
fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// A short hash of every embedded asset: it changes whenever any asset does.
///
/// ```
/// let v = onelive_webui::assets_version();
/// assert_eq!(v.len(), 16);
/// assert_eq!(v, onelive_webui::assets_version());
/// ```
pub fn assets_version() -> String {
    let mut h = FNV_OFFSET;
    for a in ASSETS {
        h = fnv1a(h, a.path.as_bytes());
        h = fnv1a(h, a.bytes);
    }
    format!("{h:016x}")
}

/// The page served at `/`: `index.html` with versioned asset links.
fn index_page(version: &str) -> String {
    INDEX_HTML.replace(VERSION_MARKER, version)
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A 200 (or 304) answer with security and cache headers.
fn respond(
    request_headers: &HeaderMap,
    content_type: &'static str,
    body: Body,
    etag: String,
    cache_control: &'static str,
) -> Response {
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\""));
    let not_modified = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(body);
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag_value);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    security_headers(headers);
    response
}

fn security_headers(headers: &mut HeaderMap) {
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
}

/// What the router serves, computed once when it is built.
#[derive(Debug)]
struct Served {
    /// [`assets_version`].
    version: String,
    /// `index.html` with versioned asset links.
    index: String,
    /// The `ETag` of each asset of [`ASSETS`], in the same order.
    etags: Vec<String>,
}

impl Served {
    fn new() -> Served {
        let version = assets_version();
        let index = index_page(&version);
        let etags = ASSETS
            .iter()
            .map(|a| {
                if a.path == "index.html" {
                    format!("\"{version}\"")
                } else {
                    format!("\"{:016x}\"", fnv1a(FNV_OFFSET, a.bytes))
                }
            })
            .collect();
        Served { version, index, etags }
    }
}

fn serve_index(served: &Served, request_headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", served.version);
    respond(
        request_headers,
        "text/html; charset=utf-8",
        Body::from(served.index.clone()),
        etag,
        "no-cache",
    )
}

fn serve_asset(served: &Served, path: &str, uri: &Uri, request_headers: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.path == path) else {
        let mut r = (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("no such UI file: /ui/{path}\n"),
        )
            .into_response();
        security_headers(r.headers_mut());
        return r;
    };
    let found = &ASSETS[index];
    // Asked with the current version: the URL changes with the content.
    let versioned = uri.query().is_some_and(|q| {
        q.split('&').any(|kv| kv.strip_prefix("v=") == Some(served.version.as_str()))
    });
    let cache = if versioned { "public, max-age=31536000, immutable" } else { "no-cache" };
    let body = if found.path == "index.html" {
        Body::from(served.index.clone())
    } else {
        Body::from(found.bytes)
    };
    let etag = served.etags.get(index).cloned().unwrap_or_default();
    respond(request_headers, found.content_type, body, etag, cache)
}

/// The UI's routes: `/`, `/ui` and `/ui/{*path}`.
///
/// Generic over the router state so it merges into any axum router. It adds
/// no auth layer: the assets hold no data, and the API they call keeps its
/// own bearer-token check.
///
/// ```
/// let ui: axum::Router = onelive_webui::router();
/// # let _ = ui;
/// ```
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let served = Arc::new(Served::new());
    let for_index = served.clone();
    Router::new()
        .route("/", get(move |headers: HeaderMap| async move { serve_index(&for_index, &headers) }))
        .route("/ui", get(|| async { Redirect::to("/") }))
        .route("/ui/", get(|| async { Redirect::to("/") }))
        .route(
            "/ui/{*path}",
            get(move |Path(path): Path<String>, uri: Uri, headers: HeaderMap| async move {
                serve_asset(&served, &path, &uri, &headers)
            }),
        )
}

#[cfg(test)]
mod tests;
