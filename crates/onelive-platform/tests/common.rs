//! A local HTTP server replaying fixture responses, and contexts pointed
//! at it through host overrides.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use onelive_platform::{FixedClock, PlatformContext, PlatformsConfig, SeededRandom};
use time::macros::datetime;

/// The fixed "now" of every test: 2024-05-01T12:00:00Z.
pub const NOW: time::OffsetDateTime = datetime!(2024-05-01 12:00:00 UTC);

/// A fixture file's text.
pub fn fixture(path: &str) -> String {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("fixture {full}: {e}"))
}

/// A canned reply.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn fixture(status: u16, path: &str) -> Self {
        Reply { status, body: fixture(path).into_bytes(), headers: Vec::new() }
    }
    pub fn text(status: u16, body: &str) -> Self {
        Reply { status, body: body.as_bytes().to_vec(), headers: Vec::new() }
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A request the server received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

#[derive(Clone)]
struct Route {
    method: Option<Method>,
    path: String,
    body_contains: Option<String>,
    query_contains: Option<String>,
    reply: Reply,
}

#[derive(Default)]
struct State {
    routes: Vec<Route>,
    seen: Vec<Seen>,
}

/// The mock server. Routes are matched in the order they were added.
#[derive(Clone)]
pub struct Mock {
    state: Arc<Mutex<State>>,
    pub base: String,
}

impl Mock {
    pub async fn start() -> Mock {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let handler_state = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = handler_state.clone();
                async move { handle(state, method, uri, headers, body) }
            },
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Mock { state, base }
    }

    fn add(&self, route: Route) -> &Self {
        self.state.lock().unwrap().routes.push(route);
        self
    }

    /// Any method on `path` (`/<host>/<path>`).
    pub fn on(&self, path: &str, reply: Reply) -> &Self {
        self.add(Route {
            method: None,
            path: path.to_owned(),
            body_contains: None,
            query_contains: None,
            reply,
        })
    }

    /// `path` when the request body contains `needle`.
    pub fn on_body(&self, path: &str, needle: &str, reply: Reply) -> &Self {
        self.add(Route {
            method: Some(Method::POST),
            path: path.to_owned(),
            body_contains: Some(needle.to_owned()),
            query_contains: None,
            reply,
        })
    }

    /// `path` when the query string contains `needle`.
    pub fn on_query(&self, path: &str, needle: &str, reply: Reply) -> &Self {
        self.add(Route {
            method: None,
            path: path.to_owned(),
            body_contains: None,
            query_contains: Some(needle.to_owned()),
            reply,
        })
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// A host-override base for `host`.
    pub fn base_for(&self, host: &str) -> String {
        format!("{}/{host}", self.base)
    }

    /// A config with every host in `hosts` pointed at this server.
    pub fn config(&self, hosts: &[&str]) -> PlatformsConfig {
        let mut config = PlatformsConfig {
            streamlink: false,
            ytdlp: false,
            timeout_secs: 5,
            ..PlatformsConfig::default()
        };
        for host in hosts {
            config.host_overrides.insert((*host).to_owned(), self.base_for(host));
        }
        config
    }

    /// A context with a fixed clock ([`NOW`]) and seeded randomness.
    pub fn context(&self, hosts: &[&str]) -> PlatformContext {
        context_for(&self.config(hosts))
    }
}

/// A deterministic context for `config`.
pub fn context_for(config: &PlatformsConfig) -> PlatformContext {
    PlatformContext::new(config)
        .unwrap()
        .with_clock(Arc::new(FixedClock(NOW)))
        .with_random(Arc::new(SeededRandom::new(7)))
}

fn handle(
    state: Arc<Mutex<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = String::from_utf8_lossy(&body).into_owned();
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or_default().to_owned();
    let mut state = state.lock().unwrap();
    state.seen.push(Seen {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect(),
        body: body.clone(),
    });
    let decoded_query = url_decode(&query);
    let decoded_body = url_decode(&body);
    let found = state.routes.iter().find(|r| {
        r.path == path
            && r.method.as_ref().is_none_or(|m| *m == method)
            && r.body_contains.as_ref().is_none_or(|n| body.contains(n) || decoded_body.contains(n))
            && r.query_contains.as_ref().is_none_or(|n| decoded_query.contains(n))
    });
    match found {
        Some(route) => {
            let mut response =
                (StatusCode::from_u16(route.reply.status).unwrap(), route.reply.body.clone())
                    .into_response();
            for (k, v) in &route.reply.headers {
                response.headers_mut().insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            response
        }
        None => {
            (StatusCode::NOT_FOUND, format!("no mock route for {method} {path}")).into_response()
        }
    }
}

fn url_decode(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
