//! `error`: the typed errors of every adapter, so that a monitor can act on them.

use std::time::Duration;

/// The error of every operation of this crate.
///
/// Messages never contain cookies, tokens or the query string of a URL.
/// [`PlatformError::kind`] gives a field-less [`ErrorKind`] for matching, and
/// [`PlatformError::is_retryable`] / [`PlatformError::retry_after`] tell a
/// monitor whether and when to try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// No adapter claims the URL, or the adapter asked does not.
    #[error("{0}")]
    UnsupportedUrl(String),
    /// The channel (room, user) does not exist on the platform.
    #[error("{platform}: channel {channel} not found")]
    NotFound {
        /// Platform name.
        platform: String,
        /// Channel as given.
        channel: String,
    },
    /// The channel is offline, so only offline data (no stream) is available.
    #[error("{platform}: channel {channel} is offline; no stream to list")]
    Offline {
        /// Platform name.
        platform: String,
        /// Channel.
        channel: String,
    },
    /// The platform asked us to slow down (HTTP 429 or an equivalent code).
    #[error("{platform}: rate limited{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// Platform name.
        platform: String,
        /// How long to wait, when the platform said so.
        retry_after: Option<Duration>,
    },
    /// The platform's risk control or anti-bot wall refused the request.
    #[error("{platform}: blocked by the platform: {reason}")]
    Blocked {
        /// Platform name.
        platform: String,
        /// What the platform answered (code, page), without secrets.
        reason: String,
    },
    /// The content needs a login cookie (e.g. adult or subscriber-only content).
    #[error("{platform}: login or cookie required: {reason}")]
    LoginRequired {
        /// Platform name.
        platform: String,
        /// Why.
        reason: String,
    },
    /// The request did not complete (DNS, connect, TLS, timeout, reset).
    #[error("{platform}: network error on {url}: {message}")]
    Network {
        /// Platform name.
        platform: String,
        /// The URL without its query string.
        url: String,
        /// What failed.
        message: String,
        /// True when the request timed out.
        timeout: bool,
    },
    /// The platform answered something this adapter does not understand.
    #[error("{platform}: unexpected response from {url}: expected {expected}, got {got}")]
    UnexpectedResponse {
        /// Platform name.
        platform: String,
        /// The URL without its query string.
        url: String,
        /// What the adapter expected.
        expected: String,
        /// What came instead (status, short excerpt), without secrets.
        got: String,
    },
    /// The configuration is invalid (bad proxy URL, bad host override...).
    #[error("invalid platform configuration: {0}")]
    Config(String),
    /// An external tool (streamlink) is missing or failed.
    #[error("{tool}: {message}")]
    Tool {
        /// The tool's name.
        tool: String,
        /// What went wrong.
        message: String,
    },
}

/// The kind of a [`PlatformError`], without its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`PlatformError::UnsupportedUrl`].
    UnsupportedUrl,
    /// See [`PlatformError::NotFound`].
    NotFound,
    /// See [`PlatformError::Offline`].
    Offline,
    /// See [`PlatformError::RateLimited`].
    RateLimited,
    /// See [`PlatformError::Blocked`].
    Blocked,
    /// See [`PlatformError::LoginRequired`].
    LoginRequired,
    /// See [`PlatformError::Network`].
    Network,
    /// See [`PlatformError::UnexpectedResponse`].
    UnexpectedResponse,
    /// See [`PlatformError::Config`].
    Config,
    /// See [`PlatformError::Tool`].
    Tool,
}

impl PlatformError {
    /// The field-less kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PlatformError::UnsupportedUrl(_) => ErrorKind::UnsupportedUrl,
            PlatformError::NotFound { .. } => ErrorKind::NotFound,
            PlatformError::Offline { .. } => ErrorKind::Offline,
            PlatformError::RateLimited { .. } => ErrorKind::RateLimited,
            PlatformError::Blocked { .. } => ErrorKind::Blocked,
            PlatformError::LoginRequired { .. } => ErrorKind::LoginRequired,
            PlatformError::Network { .. } => ErrorKind::Network,
            PlatformError::UnexpectedResponse { .. } => ErrorKind::UnexpectedResponse,
            PlatformError::Config(_) => ErrorKind::Config,
            PlatformError::Tool { .. } => ErrorKind::Tool,
        }
    }

    /// True when trying the same request later may succeed: rate limits,
    /// risk-control blocks (they lift), network errors, unexpected responses
    /// (platforms hiccup) and offline channels (they go live). Not found,
    /// login required, unsupported URLs and configuration errors need a
    /// human.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::RateLimited
                | ErrorKind::Blocked
                | ErrorKind::Network
                | ErrorKind::UnexpectedResponse
                | ErrorKind::Offline
        )
    }

    /// How long the platform asked us to wait, for [`PlatformError::RateLimited`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PlatformError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// An [`PlatformError::UnexpectedResponse`] with a shortened `got`.
    pub fn unexpected(
        platform: &str,
        url: &str,
        expected: impl Into<String>,
        got: impl AsRef<str>,
    ) -> Self {
        PlatformError::UnexpectedResponse {
            platform: platform.to_owned(),
            url: strip_query(url),
            expected: expected.into(),
            got: excerpt(got.as_ref(), 160),
        }
    }

    /// A [`PlatformError::NotFound`].
    pub fn not_found(platform: &str, channel: &str) -> Self {
        PlatformError::NotFound { platform: platform.to_owned(), channel: channel.to_owned() }
    }

    /// A [`PlatformError::Offline`].
    pub fn offline(platform: &str, channel: &str) -> Self {
        PlatformError::Offline { platform: platform.to_owned(), channel: channel.to_owned() }
    }

    /// A [`PlatformError::Blocked`].
    pub fn blocked(platform: &str, reason: impl Into<String>) -> Self {
        PlatformError::Blocked { platform: platform.to_owned(), reason: reason.into() }
    }

    /// A [`PlatformError::LoginRequired`].
    pub fn login_required(platform: &str, reason: impl Into<String>) -> Self {
        PlatformError::LoginRequired { platform: platform.to_owned(), reason: reason.into() }
    }

    /// A [`PlatformError::RateLimited`].
    pub fn rate_limited(platform: &str, retry_after: Option<Duration>) -> Self {
        PlatformError::RateLimited { platform: platform.to_owned(), retry_after }
    }
}

/// The URL without query string and fragment, for error messages.
pub(crate) fn strip_query(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url[..end].to_owned()
}

/// At most `max` characters of `text`, on one line, with `...` when cut.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let one_line: String =
        text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(max + 1).collect();
    if one_line.chars().count() > max {
        let cut: String = one_line.chars().take(max).collect();
        format!("{cut}...")
    } else {
        one_line
    }
}

/// The result of this crate's operations.
pub type Result<T, E = PlatformError> = std::result::Result<T, E>;
