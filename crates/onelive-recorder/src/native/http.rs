//! HTTP requests of the native engine (reqwest, one client per process).

use std::sync::OnceLock;
use std::time::Duration;

use crate::config::{RecordingConfig, StreamSource};
use crate::redact::Redactor;

/// The shared client: connection pools and TLS config are reused by every
/// recording, which keeps the memory per recording small.
fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .pool_idle_timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Why a request failed.
pub(crate) enum Failure {
    /// The origin answered with an error status (the message names it).
    Status(u16, String),
    /// No answer: connection refused, reset, timed out (the message names it).
    Network(String),
}

impl Failure {
    pub(crate) fn message(&self) -> &str {
        match self {
            Failure::Status(_, m) | Failure::Network(m) => m,
        }
    }
}

/// `GET url` with the source's headers, waiting at most `io_timeout` for the
/// response head. The messages never contain the URL's query or a secret.
pub(crate) async fn get(
    cfg: &RecordingConfig,
    url: &str,
    redactor: &Redactor,
) -> Result<reqwest::Response, Failure> {
    get_from(cfg, &cfg.source, url, redactor).await
}

/// [`get`] with the headers of `source` (a re-resolved one) instead of the
/// config's.
pub(crate) async fn get_from(
    cfg: &RecordingConfig,
    source: &StreamSource,
    url: &str,
    redactor: &Redactor,
) -> Result<reqwest::Response, Failure> {
    let client = client().map_err(Failure::Network)?;
    let mut req = client.get(url);
    for (name, value) in &source.headers {
        // A CR/LF in a value would inject another header.
        let value: String = value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        req = req.header(name.as_str(), value);
    }
    if let Some(ua) = &source.user_agent {
        req = req.header("User-Agent", ua.as_str());
    }
    let shown = redactor.redact(url);
    let resp = match tokio::time::timeout(cfg.io_timeout, req.send()).await {
        Err(_) => {
            return Err(Failure::Network(format!(
                "no answer from {shown} in {} s",
                cfg.io_timeout.as_secs_f64()
            )));
        }
        Ok(Err(e)) => return Err(Failure::Network(describe(&shown, &e, redactor))),
        Ok(Ok(r)) => r,
    };
    let status = resp.status();
    if !status.is_success() {
        return Err(Failure::Status(status.as_u16(), format!("{shown} answered HTTP {status}")));
    }
    Ok(resp)
}

/// A reqwest error without its URL, with its cause chain.
pub(crate) fn describe(shown_url: &str, e: &reqwest::Error, redactor: &Redactor) -> String {
    let mut text = String::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    let mut first = true;
    while let Some(err) = cur {
        let s = if first {
            first = false;
            // reqwest's own message names the URL; drop it.
            let mut m = err.to_string();
            if let Some(u) = e.url() {
                m = m.replace(&format!(" ({u})"), "").replace(u.as_str(), "");
            }
            m
        } else {
            err.to_string()
        };
        if !text.contains(&s) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&s);
        }
        cur = err.source();
    }
    redactor.redact(&format!("{shown_url}: {text}"))
}
