//! `url_match`: helpers for offline URL parsing, shared by the built-in
//! adapters and public for custom ones.
//!
//! ```
//! use onelive_platform::url_match::{host, http_url, is_digits, query, segments};
//!
//! let url = http_url("Live.Example.tv/room/12345/?from=share").unwrap();
//! assert_eq!(host(&url), "live.example.tv");
//! assert_eq!(segments(&url), ["room", "12345"]);
//! assert!(is_digits(&segments(&url)[1]));
//! assert_eq!(query(&url, "from").as_deref(), Some("share"));
//! assert!(http_url("ftp://example.tv/x").is_none());
//! ```

/// Re-exported: the parsed URL type the helpers take.
pub use url::Url;

/// Parses a pasted URL: `http`/`https` only; a missing scheme means https.
pub fn http_url(text: &str) -> Option<Url> {
    let text = text.trim();
    let with_scheme =
        if text.contains("://") { text.to_owned() } else { format!("https://{text}") };
    let url = Url::parse(&with_scheme).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

/// The lower-case host of `url`.
pub fn host(url: &Url) -> String {
    url.host_str().unwrap_or_default().to_ascii_lowercase()
}

/// The non-empty path segments of `url` (so trailing slashes do not matter).
pub fn segments(url: &Url) -> Vec<String> {
    url.path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The value of query parameter `key`.
pub fn query(url: &Url, key: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// True when `s` is non-empty ASCII digits.
pub fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// True when `url`'s host is `domain` or a subdomain of it.
pub(crate) fn on_domain(url: &Url, domains: &[&str]) -> bool {
    let host = host(url);
    domains.iter().any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

/// A refusal message for a URL of `platform` that is not a live channel:
/// `"<what>, not a live channel: use <form>"`.
pub(crate) fn refusal(what: &str, form: &str) -> String {
    format!("{what}, not a live channel: use {form}")
}
