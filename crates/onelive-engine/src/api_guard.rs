//! The API's browser guard: DNS rebinding (`Host`) and cross-site requests
//! (`Origin`, `Sec-Fetch-Site`).
//!
//! A web page the user visits can send requests to `127.0.0.1:8686`: a form
//! POST needs no CORS preflight, and a domain rebound to 127.0.0.1 reads the
//! answers. Two checks stop both (see `docs/api.md`):
//!
//! - **Host**: every request's `Host` must be an IP address (a literal cannot
//!   be rebound), `localhost` (or a name under `.localhost`), or a name in
//!   `[api] allowed_hosts`. `allowed_hosts = ["*"]` turns the check off.
//! - **Origin**: a state-changing request (any method but GET, HEAD, OPTIONS)
//!   that carries an `Origin` must come from the API's own origin (the same
//!   host and port as `Host`) or from a host in `allowed_hosts`; `Origin:
//!   null` is refused. Without `Origin`, `Sec-Fetch-Site: cross-site` is
//!   refused. Programs that send neither (curl, scripts) are not affected.
//! - **Behind a reverse proxy**: on requests from an address in `[api]
//!   trusted_proxies`, an `X-Forwarded-Host` must pass the same Host check,
//!   and it is the API's own origin for the Origin check. From any other
//!   address the header is ignored (a page rebound to 127.0.0.1 could send
//!   it), so a proxy that forwards every name cannot be used for rebinding.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The guard's settings: allowed host names and trusted proxies.
#[derive(Debug, Clone, Default)]
pub(crate) struct Guard {
    allowed: AllowedHosts,
    proxies: Arc<[ipnet::IpNet]>,
}

impl Guard {
    /// From `[api] allowed_hosts` and `trusted_proxies` (entries that are
    /// not networks were refused when the config was validated).
    pub(crate) fn new(api: &crate::config::ApiConfig) -> Self {
        Guard {
            allowed: AllowedHosts::new(&api.allowed_hosts),
            proxies: api.trusted_proxy_networks().unwrap_or_default().into(),
        }
    }

    fn trusts(&self, peer: Option<IpAddr>) -> bool {
        peer.is_some_and(|ip| self.proxies.iter().any(|n| n.contains(&ip)))
    }
}

/// The names allowed besides loopback names and IP addresses.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowedHosts {
    any: bool,
    names: Arc<[String]>,
}

impl AllowedHosts {
    /// From `[api] allowed_hosts` (`"*"` allows every host).
    pub(crate) fn new(configured: &[String]) -> Self {
        let any = configured.iter().any(|h| h.trim() == "*");
        let names = configured
            .iter()
            .map(|h| normalize(h))
            .filter(|h| !h.is_empty() && h != "*")
            .collect::<Vec<_>>();
        AllowedHosts { any, names: names.into() }
    }

    /// Whether a host name (no port) may be served.
    fn allows(&self, host: &str) -> bool {
        let host = normalize(host);
        self.any
            || is_ip_literal(&host)
            || host == "localhost"
            || host.ends_with(".localhost")
            || self.names.contains(&host)
    }
}

/// Lower case, without a trailing dot or IPv6 brackets.
fn normalize(host: &str) -> String {
    let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
    h.strip_prefix('[').and_then(|s| s.strip_suffix(']')).map(str::to_owned).unwrap_or(h)
}

fn is_ip_literal(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok()
}

/// The host part of `host[:port]` / `[v6]:port`, and the whole authority.
fn split_authority(authority: &str) -> Option<(String, String)> {
    let parsed: axum::http::uri::Authority = authority.trim().parse().ok()?;
    Some((parsed.host().to_owned(), parsed.as_str().to_ascii_lowercase()))
}

fn refuse(status: StatusCode, message: String) -> Response {
    tracing::warn!(status = status.as_u16(), "API request refused: {message}");
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn host_refused(h: &str, header: &str) -> Response {
    refuse(
        StatusCode::FORBIDDEN,
        format!(
            "{header} {h:?} is not allowed: the API answers to IP addresses, localhost \
             and the names in [api] allowed_hosts"
        ),
    )
}

/// The middleware: refuses foreign hosts and cross-site state changes.
pub(crate) async fn guard(
    State(guard): State<Guard>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let allowed = &guard.allowed;
    let host_header = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
    let mut own = match host_header.as_deref() {
        None => None,
        Some(h) => match split_authority(h) {
            Some((host, authority)) if allowed.allows(&host) => Some(authority),
            _ => return host_refused(h, "Host"),
        },
    };
    let peer =
        request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    if guard.trusts(peer)
        && let Some(forwarded) = headers.get("x-forwarded-host")
    {
        // A proxy chain lists one host per hop; the first is the client's.
        let f = forwarded.to_str().unwrap_or("").split(',').next().unwrap_or("").trim();
        match split_authority(f) {
            Some((host, authority)) if allowed.allows(&host) => own = Some(authority),
            _ => return host_refused(f, "X-Forwarded-Host"),
        }
    }

    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("").trim();
            let origin_authority = url::Url::parse(origin).ok().and_then(|u| {
                let host = u.host_str()?.to_owned();
                let authority = match u.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host.clone(),
                };
                Some((normalize(&host), authority.to_ascii_lowercase()))
            });
            let same_origin = match (&origin_authority, &own) {
                (Some((_, a)), Some(own)) => a == own,
                _ => false,
            };
            let listed = origin_authority.as_ref().is_some_and(|(h, _)| {
                !allowed.any && !is_ip_literal(h) && allowed.names.contains(h)
            });
            if !same_origin && !listed {
                return refuse(
                    StatusCode::FORBIDDEN,
                    format!(
                        "cross-origin request refused: Origin {origin:?} is not this API's origin \
                         (add its host to [api] allowed_hosts to allow it)"
                    ),
                );
            }
        } else if headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
        {
            return refuse(
                StatusCode::FORBIDDEN,
                "cross-site request refused (Sec-Fetch-Site: cross-site)".into(),
            );
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_allowed_by_default_are_ip_literals_and_loopback_names() {
        let a = AllowedHosts::new(&[]);
        for h in
            ["127.0.0.1", "::1", "[::1]", "10.0.0.5", "localhost", "LOCALHOST.", "ui.localhost"]
        {
            assert!(a.allows(h), "{h}");
        }
        for h in ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io", ""] {
            assert!(!a.allows(h), "{h}");
        }
        let a = AllowedHosts::new(&["Rec.Example.LAN".into()]);
        assert!(a.allows("rec.example.lan"));
        assert!(!a.allows("example.lan"));
        assert!(AllowedHosts::new(&["*".into()]).allows("anything.example"));
    }

    #[test]
    fn authority_splits_ports_and_brackets() {
        assert_eq!(
            split_authority("LocalHost:8686"),
            Some(("LocalHost".into(), "localhost:8686".into()))
        );
        assert_eq!(split_authority("[::1]:80").map(|a| normalize(&a.0)), Some("::1".into()));
        assert_eq!(split_authority("bad host"), None);
    }
}
