//! Query strings of URLs, hidden wherever the engine shows a URL.
//!
//! Channel URLs of direct streams and the stream URLs platforms hand out
//! carry tokens and signatures in their query (`...m3u8?token=...&sign=...`).
//! Events, API answers and log lines show such a URL as
//! `https://host/path?<redacted>`: enough to tell channels apart, nothing to
//! replay. The config file keeps the full URL (it is private, mode 0600).

use std::borrow::Cow;

use onelive_events::Event;

/// What a hidden query string is replaced with.
pub const REDACTED_QUERY: &str = "<redacted>";

/// Every `http://` / `https://` URL in `text` with its query string hidden
/// (the fragment too: it may hold a token as well).
///
/// ```
/// use onelive_engine::redact::redact_urls;
/// assert_eq!(
///     redact_urls("GET https://cdn.example/live.m3u8?token=abc&sign=x failed"),
///     "GET https://cdn.example/live.m3u8?<redacted> failed"
/// );
/// assert_eq!(redact_urls("no query: http://a.example/x.flv"), "no query: http://a.example/x.flv");
/// ```
pub fn redact_urls(text: &str) -> Cow<'_, str> {
    if !text.contains("://") || !text.contains(['?', '#']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_url(rest) {
        let (before, url_and_after) = rest.split_at(start);
        out.push_str(before);
        let end = url_and_after.find(ends_url).unwrap_or(url_and_after.len());
        let (url, after) = url_and_after.split_at(end);
        match url.find(['?', '#']) {
            Some(q) if q + 1 < url.len() => {
                out.push_str(&url[..=q]);
                out.push_str(REDACTED_QUERY);
            }
            _ => out.push_str(url),
        }
        rest = after;
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The byte offset of the next `http://` or `https://` (case-insensitive).
fn find_url(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    [lower.find("http://"), lower.find("https://")].into_iter().flatten().min()
}

/// Characters that end a URL inside free text, JSON or a log line.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | '\\') || c.is_control()
}

/// An event as it may leave the engine: every string in its data (the
/// channel of a direct-URL channel is its URL, an error message may quote a
/// stream URL) with URL query strings hidden.
pub fn redact_event(event: Event) -> Event {
    let mut value = event.to_value();
    if !redact_value(&mut value) {
        return event;
    }
    Event::from_value(value).unwrap_or(event)
}

/// Redacts every string in a JSON value; whether anything changed.
pub fn redact_value(value: &mut serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => match redact_urls(s) {
            Cow::Owned(r) if r != *s => {
                *s = r;
                true
            }
            _ => false,
        },
        serde_json::Value::Array(items) => {
            items.iter_mut().fold(false, |changed, v| redact_value(v) | changed)
        }
        serde_json::Value::Object(map) => {
            map.values_mut().fold(false, |changed, v| redact_value(v) | changed)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_text_json_and_logs_lose_their_queries_only() {
        for (given, expected) in [
            ("http://h/x.m3u8?token=1", "http://h/x.m3u8?<redacted>"),
            ("url=\"HTTPS://h/a?b=c\" next", "url=\"HTTPS://h/a?<redacted>\" next"),
            (
                "a http://h/a?x b https://g/b#frag c",
                "a http://h/a?<redacted> b https://g/b#<redacted> c",
            ),
            ("{\"u\":\"http://h/a?x=1\"}", "{\"u\":\"http://h/a?<redacted>\"}"),
            ("ends with ? http://h/a?", "ends with ? http://h/a?"),
            ("no urls? none", "no urls? none"),
            ("直播 http://h/直播.flv?k=v。", "直播 http://h/直播.flv?<redacted>"),
        ] {
            assert_eq!(redact_urls(given), expected, "{given}");
        }
    }

    #[test]
    fn event_data_keeps_its_shape() {
        let data = onelive_events::EventData::Error(onelive_events::ErrorData::new(
            "generic",
            "http://127.0.0.1:1/live.m3u8?token=t0k",
            "HTTP 403 from http://127.0.0.1:1/live.m3u8?token=t0k",
        ));
        let event = Event::new(data);
        let id = event.id;
        let redacted = redact_event(event);
        assert_eq!(redacted.id, id);
        let onelive_events::EventData::Error(e) = redacted.data else { panic!("changed type") };
        assert_eq!(e.channel, "http://127.0.0.1:1/live.m3u8?<redacted>");
        assert!(!e.error.contains("t0k"), "{}", e.error);
    }
}
