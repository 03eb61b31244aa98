//! Standard Webhooks v1 signing and verification (the receiver side).
//!
//! This module is compiled with `default-features = false`: a receiver pulls
//! in only `hmac`, `sha2`, `base64`, `rand` and `thiserror`.
//!
//! A request is authentic when one of the space-separated `v1,<base64>`
//! entries of `webhook-signature` equals
//! `base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{raw body}"))`
//! for one of the receiver's secrets, and `webhook-timestamp` is within the
//! tolerance (default 300 s) of the receiver's clock.
//!
//! ```
//! use onelive_webhook::verify::{sign, SignatureHeaders, Verifier, WebhookSecret};
//!
//! let secret: WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
//! let body = br#"{"test": 2432232314}"#;
//! let signature = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
//! assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
//!
//! let headers = SignatureHeaders {
//!     id: Some("msg_p5jXN8AQM9LWM0D4loKWxJek"),
//!     timestamp: Some("1614265330"),
//!     signature: Some(&signature),
//! };
//! let verifier = Verifier::new(vec![secret]);
//! verifier.verify_at(&headers, body, 1614265330 + 10).unwrap();
//! // A changed body, or a replay an hour later, is refused.
//! assert!(verifier.verify_at(&headers, b"{}", 1614265330).is_err());
//! assert!(verifier.verify_at(&headers, body, 1614265330 + 3600).is_err());
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of a serialized symmetric Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Name of the header carrying the message id (stable across retries).
pub const HEADER_ID: &str = "webhook-id";
/// Name of the header carrying the attempt's Unix time in seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Name of the header carrying the space-separated signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// Default timestamp tolerance, in both directions (the value every
/// Standard Webhooks reference library uses).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// Length in bytes of the keys [`WebhookSecret::generate`] makes.
pub const GENERATED_SECRET_LEN: usize = 32;

/// Standard alphabet, accepting both padded and unpadded input (the Python
/// reference library accepts unpadded secrets too).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a request was not accepted, or a secret could not be read.
///
/// No variant ever carries secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent or empty; holds the header name.
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    /// A header is present but malformed (e.g. a non-numeric timestamp).
    #[error("malformed header: {0}")]
    BadFormat(String),
    /// `webhook-timestamp` is outside the tolerance window (a replay, or a
    /// clock far off).
    #[error(
        "timestamp {timestamp} is {} by {}s (tolerance {tolerance_secs}s, now {now})",
        if *timestamp < *now { "too old" } else { "in the future" },
        timestamp.abs_diff(*now)
    )]
    StaleTimestamp {
        /// The timestamp the request carried.
        timestamp: i64,
        /// The receiver's clock (Unix seconds).
        now: i64,
        /// The allowed difference in seconds.
        tolerance_secs: u64,
    },
    /// No `v1` entry of `webhook-signature` matches any configured secret.
    #[error("no signature matches (forged, re-serialized body, or wrong secret)")]
    NoMatchingSignature,
    /// The verifier was built without any secret.
    #[error("no webhook secret is configured")]
    NoSecret,
    /// A secret could not be parsed; the text says why (never the secret).
    #[error("invalid webhook secret: {0}")]
    InvalidSecret(String),
}

/// A symmetric Standard Webhooks signing key.
///
/// Parse it from its `whsec_<base64>` form (the prefix may be omitted), build
/// it from raw bytes, or [`generate`](WebhookSecret::generate) one.
/// [`Display`](fmt::Display) writes the `whsec_` form (store it, show it once
/// to the user); [`Debug`](fmt::Debug) never shows the key.
///
/// ```
/// use onelive_webhook::verify::WebhookSecret;
///
/// let secret = WebhookSecret::generate();
/// let text = secret.to_string();
/// assert!(text.starts_with("whsec_"));
/// assert_eq!(text.parse::<WebhookSecret>().unwrap(), secret);
/// assert_eq!(format!("{secret:?}"), "WebhookSecret(whsec_<redacted>)");
/// assert!("whsec_".parse::<WebhookSecret>().is_err());
/// ```
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
    /// HMAC keyed with `key`, cloned per message.
    mac: HmacSha256,
}

impl PartialEq for WebhookSecret {
    fn eq(&self, other: &Self) -> bool {
        key_bytes_equal(&self.key, &other.key)
    }
}

impl Eq for WebhookSecret {}

/// Constant-time equality of two keys (their lengths are not secret).
fn key_bytes_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl WebhookSecret {
    /// A secret from raw key bytes. Fails on an empty key.
    pub fn from_bytes(key: impl Into<Vec<u8>>) -> Result<Self, VerifyError> {
        let key = key.into();
        if key.is_empty() {
            return Err(VerifyError::InvalidSecret("the key is empty".into()));
        }
        let mac = HmacSha256::new_from_slice(&key)
            .map_err(|_| VerifyError::InvalidSecret("HMAC refused the key length".into()))?;
        Ok(WebhookSecret { key, mac })
    }

    /// A new random secret of [`GENERATED_SECRET_LEN`] bytes from the
    /// operating system's cryptographic generator (via `rand`).
    pub fn generate() -> Self {
        loop {
            let mut key = vec![0u8; GENERATED_SECRET_LEN];
            rand::Rng::fill(&mut rand::rng(), key.as_mut_slice());
            // HMAC accepts keys of any length, so this succeeds the first time.
            if let Ok(secret) = WebhookSecret::from_bytes(key) {
                return secret;
            }
        }
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.key
    }

    /// The 32-byte HMAC over `"{id}.{timestamp}.{body}"`.
    fn tag(&self, id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl FromStr for WebhookSecret {
    type Err = VerifyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let encoded = s.strip_prefix(SECRET_PREFIX).unwrap_or(s);
        if encoded.is_empty() {
            return Err(VerifyError::InvalidSecret(
                "the secret is empty (expected whsec_<base64>)".into(),
            ));
        }
        let key = LENIENT.decode(encoded).map_err(|_| {
            VerifyError::InvalidSecret(format!(
                "not base64 after `{SECRET_PREFIX}` ({} characters; expected whsec_<base64>)",
                encoded.len()
            ))
        })?;
        WebhookSecret::from_bytes(key)
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(whsec_<redacted>)")
    }
}

/// The three Standard Webhooks header values of a request, as received.
///
/// `None` (or an empty string) means the header is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignatureHeaders<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

impl<'a> SignatureHeaders<'a> {
    /// Reads the three headers through a lookup function, e.g. over an
    /// `http::HeaderMap`:
    ///
    /// ```
    /// use onelive_webhook::verify::SignatureHeaders;
    ///
    /// let pairs = [("webhook-id", "msg_1"), ("webhook-timestamp", "1700000000")];
    /// let headers = SignatureHeaders::from_fn(|name| {
    ///     pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    /// });
    /// assert_eq!(headers.id, Some("msg_1"));
    /// assert_eq!(headers.signature, None);
    /// ```
    pub fn from_fn(mut get: impl FnMut(&'static str) -> Option<&'a str>) -> Self {
        SignatureHeaders {
            id: get(HEADER_ID),
            timestamp: get(HEADER_TIMESTAMP),
            signature: get(HEADER_SIGNATURE),
        }
    }
}

/// Verifies Standard Webhooks v1 signatures against one or more secrets.
///
/// Several secrets allow rotation: accept the old and the new one during the
/// overlap. Comparisons are constant-time.
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: Vec<WebhookSecret>,
    tolerance: Duration,
}

impl Verifier {
    /// A verifier accepting a signature made with any of `secrets`, with the
    /// default tolerance of 300 s.
    pub fn new(secrets: Vec<WebhookSecret>) -> Self {
        Verifier { secrets, tolerance: DEFAULT_TOLERANCE }
    }

    /// Sets how far `webhook-timestamp` may be from the receiver's clock, in
    /// either direction.
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The configured tolerance.
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// Verifies a request against the system clock.
    pub fn verify(&self, headers: &SignatureHeaders<'_>, body: &[u8]) -> Result<(), VerifyError> {
        self.verify_at(headers, body, unix_now())
    }

    /// Verifies a request as if the clock read `now_unix` (seconds).
    ///
    /// `body` must be the raw bytes received, not a re-serialization.
    pub fn verify_at(
        &self,
        headers: &SignatureHeaders<'_>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), VerifyError> {
        let id = present(headers.id, HEADER_ID)?;
        let timestamp_text = present(headers.timestamp, HEADER_TIMESTAMP)?;
        let signature = present(headers.signature, HEADER_SIGNATURE)?;

        let timestamp = parse_timestamp(timestamp_text)?;
        let tolerance_secs = self.tolerance.as_secs();
        if timestamp.abs_diff(now_unix) > tolerance_secs {
            return Err(VerifyError::StaleTimestamp { timestamp, now: now_unix, tolerance_secs });
        }
        if self.secrets.is_empty() {
            return Err(VerifyError::NoSecret);
        }

        let candidates: Vec<Vec<u8>> = signature
            .split(' ')
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
            .collect();
        if candidates.is_empty() {
            return Err(VerifyError::NoMatchingSignature);
        }

        let mut matched = false;
        for secret in &self.secrets {
            let tag = secret.tag(id, timestamp_text, body);
            for candidate in &candidates {
                // `verify_slice` compares in constant time; keep looping over
                // every pair so timing does not reveal which one matched.
                matched |= tag.clone().verify_slice(candidate).is_ok();
            }
        }
        if matched { Ok(()) } else { Err(VerifyError::NoMatchingSignature) }
    }
}

fn present<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, VerifyError> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(VerifyError::MissingHeader(name)),
    }
}

fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadFormat(format!(
            "`{HEADER_TIMESTAMP}` must be integer Unix seconds, got {:?}",
            truncate(text, 40)
        )));
    }
    text.parse::<i64>().map_err(|_| {
        VerifyError::BadFormat(format!(
            "`{HEADER_TIMESTAMP}` is out of range: {:?}",
            truncate(text, 40)
        ))
    })
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// Current Unix time in seconds (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Signs a message: returns `v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>`.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = secret.tag(id, &timestamp.to_string(), body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// The `webhook-signature` value for several secrets (rotation): one
/// `v1,<base64>` entry per secret, space-separated. Empty for no secret.
pub fn sign_all(secrets: &[WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut out = String::new();
    for secret in secrets {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&sign(secret, id, timestamp, body));
    }
    out
}

/// Constant-time comparison of a shared key, for the legacy `?key=SECRET`
/// authentication. Lengths are not leaked either: both sides are first
/// hashed to fixed-size MACs.
///
/// ```
/// use onelive_webhook::verify::key_matches;
/// assert!(key_matches("s3cret", "s3cret"));
/// assert!(!key_matches("s3cret", "s3cre"));
/// assert!(!key_matches("", "x"));
/// ```
pub fn key_matches(expected: &str, given: &str) -> bool {
    const DOMAIN: &[u8] = b"onelive-webhook key_matches";
    let expected_tag = {
        let mut mac = match HmacSha256::new_from_slice(DOMAIN) {
            Ok(mac) => mac,
            Err(_) => return false,
        };
        mac.update(expected.as_bytes());
        mac.finalize().into_bytes()
    };
    let mut mac = match HmacSha256::new_from_slice(DOMAIN) {
        Ok(mac) => mac,
        Err(_) => return false,
    };
    mac.update(given.as_bytes());
    mac.verify_slice(&expected_tag).is_ok()
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn timestamp_must_be_digits() {
        assert!(matches!(parse_timestamp("12a"), Err(VerifyError::BadFormat(_))));
        assert!(matches!(parse_timestamp("-5"), Err(VerifyError::BadFormat(_))));
        assert!(matches!(
            parse_timestamp("99999999999999999999999"),
            Err(VerifyError::BadFormat(_))
        ));
        assert_eq!(parse_timestamp("1614265330").ok(), Some(1614265330));
    }

    #[test]
    fn sign_all_joins_with_spaces() {
        let a = WebhookSecret::from_bytes(vec![1u8; 24]).unwrap();
        let b = WebhookSecret::from_bytes(vec![2u8; 24]).unwrap();
        let joined = sign_all(&[a.clone(), b.clone()], "id", 5, b"x");
        assert_eq!(joined, format!("{} {}", sign(&a, "id", 5, b"x"), sign(&b, "id", 5, b"x")));
        assert_eq!(sign_all(&[], "id", 5, b"x"), "");
    }
}
