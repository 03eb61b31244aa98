//! Request authentication: `?key=`, Standard Webhooks signatures, IP allowlist.

use std::net::IpAddr;
use std::time::Duration;

use http::HeaderMap;
use ipnet::IpNet;
use onelive_webhook::verify::{SignatureHeaders, Verifier, VerifyError, key_matches};

use crate::Result;
use crate::config::AuthConfig;

/// Why a request was refused; maps to 401 (missing) or 403 (wrong).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credentials where some are required (401).
    Missing(String),
    /// Credentials present but wrong, or the client is not allowed (403).
    Forbidden(String),
}

/// Checks requests against the `[auth]` configuration; every configured
/// method must pass.
#[derive(Debug, Clone)]
pub struct Authenticator {
    keys: Vec<String>,
    verifier: Option<Verifier>,
    allow_ips: Vec<IpNet>,
    trusted_proxies: Vec<IpNet>,
}

impl Authenticator {
    /// Builds the authenticator (parses the webhook secrets).
    pub fn new(config: &AuthConfig) -> Result<Self> {
        let secrets = config.webhook_secrets()?;
        let verifier = (!secrets.is_empty()).then(|| {
            Verifier::new(secrets).with_tolerance(Duration::from_secs(config.tolerance_secs))
        });
        Ok(Authenticator {
            keys: config.keys.iter().map(|k| k.expose().to_owned()).collect(),
            verifier,
            allow_ips: config.allow_ips.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
        })
    }

    /// Whether signatures are checked (then the body must be read first).
    pub fn needs_body(&self) -> bool {
        self.verifier.is_some()
    }

    /// The client address: the peer, or, when the peer is a trusted proxy,
    /// the right-most `X-Forwarded-For` entry that is not a trusted proxy.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusted_proxies.iter().any(|n| n.contains(&peer)) {
            return peer;
        }
        let mut client = peer;
        for value in headers.get_all("x-forwarded-for") {
            let Ok(text) = value.to_str() else { return client };
            for part in text.split(',').rev() {
                let Ok(ip) = part.trim().parse::<IpAddr>() else { return client };
                client = ip;
                if !self.trusted_proxies.iter().any(|n| n.contains(&ip)) {
                    return client;
                }
            }
        }
        client
    }

    /// Checks the client address and the `?key=` (before the body is read).
    pub fn check_request(
        &self,
        peer: Option<IpAddr>,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<(), AuthFailure> {
        if !self.allow_ips.is_empty() {
            let Some(peer) = peer else {
                return Err(AuthFailure::Forbidden("client address unknown".into()));
            };
            let client = self.client_ip(peer, headers);
            if !self.allow_ips.iter().any(|n| n.contains(&client)) {
                return Err(AuthFailure::Forbidden(format!("client {client} is not allowed")));
            }
        }
        if !self.keys.is_empty() {
            let Some(given) = query_key(query) else {
                return Err(AuthFailure::Missing("missing `key` query parameter".into()));
            };
            // Check every key, so the time does not tell which one matched.
            let mut ok = false;
            for key in &self.keys {
                ok |= key_matches(key, &given);
            }
            if !ok {
                return Err(AuthFailure::Forbidden("wrong key".into()));
            }
        }
        Ok(())
    }

    /// Checks what can be checked of the signature before the body is read:
    /// the three `webhook-*` headers are present, the timestamp is well
    /// formed and fresh, and `webhook-signature` has a `v1,` entry. A
    /// request failing here is refused without reading its body.
    pub fn check_signature_headers(&self, headers: &HeaderMap) -> Result<(), AuthFailure> {
        let Some(verifier) = &self.verifier else { return Ok(()) };
        let sig = SignatureHeaders::from_fn(|name| headers.get(name).and_then(|v| v.to_str().ok()));
        // Against an empty body only the signature itself can fail to match;
        // every other error is about the headers alone.
        match verifier.verify(&sig, b"") {
            Ok(()) | Err(VerifyError::NoMatchingSignature) => {}
            Err(e @ VerifyError::MissingHeader(_)) => {
                return Err(AuthFailure::Missing(e.to_string()));
            }
            Err(other) => return Err(AuthFailure::Forbidden(format!("signature: {other}"))),
        }
        let has_v1 = sig.signature.unwrap_or("").split(' ').any(|entry| {
            entry.split_once(',').is_some_and(|(version, s)| version == "v1" && !s.is_empty())
        });
        if has_v1 {
            Ok(())
        } else {
            Err(AuthFailure::Forbidden(
                "signature: `webhook-signature` has no `v1,<base64>` entry (unknown scheme)".into(),
            ))
        }
    }

    /// Checks the Standard Webhooks signature over the raw body.
    pub fn check_signature(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), AuthFailure> {
        let Some(verifier) = &self.verifier else { return Ok(()) };
        let sig = SignatureHeaders::from_fn(|name| headers.get(name).and_then(|v| v.to_str().ok()));
        verifier.verify(&sig, body).map_err(|e| match e {
            VerifyError::MissingHeader(_) => AuthFailure::Missing(e.to_string()),
            other => AuthFailure::Forbidden(format!("signature: {other}")),
        })
    }
}

/// The percent-decoded value of the first `key` parameter of a query string.
fn query_key(query: Option<&str>) -> Option<String> {
    let query = query?;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name == "key" {
            return Some(percent_decode(value));
        }
    }
    None
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Replaces the value of every `key=` parameter in a URI or query string by
/// `<redacted>`, for logging.
///
/// ```
/// use onelive_sink::auth::redact_uri;
///
/// assert_eq!(redact_uri("/webhook?key=s3cret&x=1"), "/webhook?key=<redacted>&x=1");
/// assert_eq!(redact_uri("/webhook"), "/webhook");
/// ```
pub fn redact_uri(uri: &str) -> String {
    let Some((path, query)) = uri.split_once('?') else { return uri.to_owned() };
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.eq_ignore_ascii_case("key") => format!("{name}=<redacted>"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_key_decodes_percent_and_plus() {
        assert_eq!(query_key(Some("a=1&key=x%2By+z")), Some("x+y z".into()));
        assert_eq!(query_key(Some("key=%zz%4")), Some("%zz%4".into()));
        assert_eq!(query_key(Some("a=1")), None);
        assert_eq!(query_key(None), None);
    }

    #[test]
    fn forwarded_for_is_trusted_only_from_proxies() {
        let config = AuthConfig {
            allow_ips: vec!["10.1.0.0/16".parse().unwrap()],
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
            ..AuthConfig::default()
        };
        let auth = Authenticator::new(&config).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "10.1.2.3, 127.0.0.1".parse().unwrap());
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(auth.client_ip(proxy, &headers), "10.1.2.3".parse::<IpAddr>().unwrap());
        assert!(auth.check_request(Some(proxy), &headers, None).is_ok());
        // The same header from an untrusted peer is ignored.
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(auth.client_ip(other, &headers), other);
        assert!(matches!(
            auth.check_request(Some(other), &headers, None),
            Err(AuthFailure::Forbidden(_))
        ));
    }
}
