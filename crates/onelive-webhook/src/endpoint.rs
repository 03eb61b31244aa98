//! Webhook endpoints: where events go and how they are signed.

use std::fmt;
use std::time::Duration;

use onelive_events::{Event, EventType};

use crate::error::{Error, Result};
use crate::redact::redact_url;
use crate::ssrf::{SsrfPolicy, check_url_host};
use crate::verify::WebhookSecret;

/// Default per-attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest per-attempt timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// Headers the dispatcher sets itself; an endpoint may not override them.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "user-agent",
    "host",
    "transfer-encoding",
    "connection",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

/// One receiver of webhooks.
///
/// Endpoints are persisted in the outbox database (see
/// [`Dispatcher::upsert_endpoint`](crate::Dispatcher::upsert_endpoint)), so
/// pending deliveries survive a restart together with their target.
///
/// ```
/// use std::time::Duration;
/// use onelive_events::EventType;
/// use onelive_webhook::Endpoint;
///
/// let endpoint = Endpoint::new("sink", "http://127.0.0.1:8080/hook?key=s3cret")
///     .with_event_types([EventType::VideoTransmuxFinish, EventType::LiveStart])
///     .with_secret_text("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
///     .unwrap()
///     .with_header("X-Team", "rec")
///     .with_timeout(Duration::from_secs(10));
/// endpoint.validate(&Default::default()).unwrap();
/// // Debug and logs never show the ?key= value or the secret.
/// let shown = format!("{endpoint:?}");
/// assert!(!shown.contains("s3cret") && !shown.contains("MfKQ9r8"));
/// ```
#[derive(Clone, PartialEq)]
pub struct Endpoint {
    /// Stable name, unique per dispatcher: `[A-Za-z0-9_.-]`, 1 to 64 chars.
    pub id: String,
    /// `http` or `https` URL; it may carry `?key=SECRET` (redacted in logs).
    pub url: String,
    /// Event types to deliver; `None` delivers every event, unknown types too.
    pub event_types: Option<Vec<EventType>>,
    /// Signing secrets. Empty: requests are not signed. Several: one
    /// signature per secret (rotation).
    pub secrets: Vec<WebhookSecret>,
    /// Extra request headers (e.g. `Authorization`); values are redacted in
    /// `Debug`.
    pub headers: Vec<(String, String)>,
    /// Per-attempt timeout (connect to end of the response head).
    pub timeout: Duration,
    /// Disabled endpoints receive nothing; their pending deliveries wait.
    pub enabled: bool,
}

impl Endpoint {
    /// An enabled endpoint for every event type, unsigned, 15 s timeout.
    pub fn new(id: impl Into<String>, url: impl Into<String>) -> Self {
        Endpoint {
            id: id.into(),
            url: url.into(),
            event_types: None,
            secrets: Vec::new(),
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            enabled: true,
        }
    }

    /// Delivers only these event types.
    pub fn with_event_types(mut self, types: impl IntoIterator<Item = EventType>) -> Self {
        self.event_types = Some(types.into_iter().collect());
        self
    }

    /// Adds a signing secret.
    pub fn with_secret(mut self, secret: WebhookSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Adds a signing secret given as `whsec_<base64>`; the error names the
    /// endpoint and never contains the text.
    pub fn with_secret_text(self, text: &str) -> Result<Self> {
        match text.parse::<WebhookSecret>() {
            Ok(secret) => Ok(self.with_secret(secret)),
            Err(e) => Err(Error::InvalidEndpoint { endpoint: self.id, reason: e.to_string() }),
        }
    }

    /// Adds a freshly generated signing secret; read it back from
    /// [`secrets`](Endpoint::secrets) to give it to the receiver.
    pub fn with_generated_secret(self) -> Self {
        self.with_secret(WebhookSecret::generate())
    }

    /// Adds an extra request header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the per-attempt timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the enabled flag.
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Whether this endpoint wants `event` (ignores `enabled`).
    pub fn accepts(&self, event: &Event) -> bool {
        self.accepts_type(event.event_type())
    }

    pub(crate) fn accepts_type(&self, event_type: Option<EventType>) -> bool {
        match (&self.event_types, event_type) {
            (None, _) => true,
            (Some(types), Some(t)) => types.contains(&t),
            (Some(_), None) => false,
        }
    }

    /// The URL with query values and password hidden, for logs and UIs.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Checks the configuration; errors name the endpoint and what is wrong.
    pub fn validate(&self, policy: &SsrfPolicy) -> Result<()> {
        self.parsed_url(policy).map(|_| ())
    }

    pub(crate) fn parsed_url(&self, policy: &SsrfPolicy) -> Result<url::Url> {
        let bad = |reason: String| Error::InvalidEndpoint { endpoint: self.id.clone(), reason };
        if self.id.is_empty()
            || self.id.len() > 64
            || !self.id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            return Err(bad(format!(
                "invalid id {:?}: use 1 to 64 of A-Z a-z 0-9 _ . -",
                self.id.chars().take(80).collect::<String>()
            )));
        }
        let url = url::Url::parse(self.url.trim())
            .map_err(|e| bad(format!("invalid URL {}: {e}", redact_url(&self.url))))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(bad(format!(
                "unsupported URL scheme `{}` (use http or https)",
                url.scheme()
            )));
        }
        check_url_host(&url, *policy).map_err(bad)?;
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(bad(format!(
                "timeout {:?} out of range (1 ms to {} s)",
                self.timeout,
                MAX_TIMEOUT.as_secs()
            )));
        }
        if let Some(types) = &self.event_types
            && types.is_empty()
        {
            return Err(bad(
                "the event type filter is empty (omit it to receive every event)".into()
            ));
        }
        for (name, value) in &self.headers {
            let header = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad(format!("invalid header name {name:?}")))?;
            if RESERVED_HEADERS.contains(&header.as_str()) {
                return Err(bad(format!("header `{header}` is set by the dispatcher")));
            }
            http::HeaderValue::from_str(value)
                .map_err(|_| bad(format!("invalid value for header `{header}`")))?;
        }
        Ok(url)
    }

    /// Serializes for the outbox's `endpoints` table.
    pub(crate) fn to_stored_json(&self) -> String {
        serde_json::json!({
            "url": self.url,
            "event_types": self.event_types.as_ref().map(|t| t.iter().map(|t| t.as_str()).collect::<Vec<_>>()),
            "secrets": self.secrets.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "headers": self.headers,
            "timeout_ms": u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            "enabled": self.enabled,
        })
        .to_string()
    }

    pub(crate) fn from_stored_json(id: &str, text: &str) -> Result<Self> {
        #[derive(serde::Deserialize)]
        struct Stored {
            url: String,
            event_types: Option<Vec<String>>,
            secrets: Vec<String>,
            headers: Vec<(String, String)>,
            timeout_ms: u64,
            enabled: bool,
        }
        let bad = |reason: String| Error::InvalidEndpoint { endpoint: id.to_owned(), reason };
        let stored: Stored = serde_json::from_str(text)
            .map_err(|e| bad(format!("stored configuration is unreadable: {e}")))?;
        let event_types = match stored.event_types {
            None => None,
            Some(names) => Some(
                names
                    .iter()
                    .map(|n| n.parse::<EventType>())
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| bad(format!("stored event filter: {e}")))?,
            ),
        };
        let secrets = stored
            .secrets
            .iter()
            .map(|s| s.parse::<WebhookSecret>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("stored secret: {e}")))?;
        Ok(Endpoint {
            id: id.to_owned(),
            url: stored.url,
            event_types,
            secrets,
            headers: stored.headers,
            timeout: Duration::from_millis(stored.timeout_ms),
            enabled: stored.enabled,
        })
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> =
            self.headers.iter().map(|(k, _)| (k.as_str(), "<redacted>")).collect();
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("url", &self.redacted_url())
            .field("event_types", &self.event_types)
            .field("secrets", &self.secrets.len())
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("enabled", &self.enabled)
            .finish()
    }
}
