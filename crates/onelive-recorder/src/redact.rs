//! Redaction of secrets (cookies, authorization headers, URL tokens) in
//! logged command lines and ffmpeg's stderr.

/// The replacement text of a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Header names whose values are secrets (compared case-insensitively, by substring).
const SECRET_HEADER_PARTS: &[&str] =
    &["cookie", "authorization", "token", "auth", "secret", "key", "session", "sign"];

/// True when a header's value must never be logged.
pub fn is_secret_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_HEADER_PARTS.iter().any(|p| lower.contains(p))
}

/// Replaces the query values and the password of every `http(s)://` URL in
/// `text` with `[REDACTED]` (keys are kept for debugging).
///
/// ```
/// use onelive_recorder::redact_urls;
/// let line = "Opening 'https://cdn.example/live.flv?token=abc&expires=1' for reading";
/// assert_eq!(
///     redact_urls(line),
///     "Opening 'https://cdn.example/live.flv?token=[REDACTED]&expires=[REDACTED]' for reading"
/// );
/// ```
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_url_start(rest) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '<' | '>'))
            .unwrap_or(tail.len());
        out.push_str(&redact_one_url(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn find_url_start(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    match (lower.find("http://"), lower.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn redact_one_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        // Not parseable: drop everything after `?` to be safe.
        return match raw.split_once('?') {
            Some((base, _)) => format!("{base}?{REDACTED}"),
            None => raw.to_owned(),
        };
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("REDACTED"));
    }
    let mut out = url.to_string();
    if let Some(query) = url.query() {
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) => format!("{k}={REDACTED}"),
                None => pair.to_owned(),
            })
            .collect();
        let base = out.split_once('?').map(|(b, _)| b.to_owned()).unwrap_or_default();
        let fragment = url.fragment().map(|f| format!("#{f}")).unwrap_or_default();
        out = format!("{base}?{}{fragment}", redacted.join("&"));
    }
    out
}

/// Redacts the known secrets of one recording (header values, URL query
/// values) plus every URL query in a text.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor").field("secrets", &self.secrets.len()).finish()
    }
}

impl Redactor {
    pub(crate) fn new(url: &str, headers: &[(String, String)]) -> Self {
        let mut secrets = Vec::new();
        for (name, value) in headers {
            if is_secret_header(name) && !value.is_empty() {
                secrets.push(value.clone());
                // Each cookie value on its own, in case ffmpeg logs it split.
                for part in value.split(';') {
                    if let Some((_, v)) = part.split_once('=') {
                        secrets.push(v.trim().to_owned());
                    }
                }
            }
        }
        if let Ok(parsed) = url::Url::parse(url) {
            for (_, v) in parsed.query_pairs() {
                secrets.push(v.into_owned());
            }
            if let Some(p) = parsed.password() {
                secrets.push(p.to_owned());
            }
            if let Some(q) = parsed.query() {
                for pair in q.split('&') {
                    if let Some((_, v)) = pair.split_once('=') {
                        secrets.push(v.to_owned());
                    }
                }
            }
        }
        // Short values ("1", "true") are not secrets and would shred the text.
        secrets.retain(|s| s.len() >= 6);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = redact_urls(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_query_values_and_passwords() {
        assert_eq!(
            redact_urls("GET http://u:hunter2@h/p?a=1&b"),
            "GET http://u:REDACTED@h/p?a=[REDACTED]&b"
        );
        assert_eq!(redact_urls("no url here"), "no url here");
    }

    #[test]
    fn known_secrets_are_replaced_anywhere() {
        let headers = vec![
            ("Cookie".to_owned(), "SESSDATA=abcdef123456; other=zzzzzzzz".to_owned()),
            ("Referer".to_owned(), "https://live.example/1".to_owned()),
        ];
        let r = Redactor::new("https://cdn/x.m3u8?sig=verysecretsig", &headers);
        let text = "cookie SESSDATA=abcdef123456 and zzzzzzzz and verysecretsig; ref live.example";
        let out = r.redact(text);
        assert!(!out.contains("abcdef123456") && !out.contains("zzzzzzzz"), "{out}");
        assert!(!out.contains("verysecretsig"), "{out}");
        assert!(out.contains("live.example"), "{out}");
        assert!(is_secret_header("X-Auth-Token") && !is_secret_header("Referer"));
    }
}
