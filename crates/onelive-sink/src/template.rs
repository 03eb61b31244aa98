//! Body templates of the `forward` action: `{placeholder}` substitution with
//! JSON-escaped values.

use onelive_events::{Event, EventData};

/// Placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "id", "type", "ts", "platform", "channel", "file", "url", "title", "uname", "error", "event",
    "previous",
];

/// Checks that every `{name}` in `template` is a known placeholder.
pub(crate) fn check(template: &str) -> Result<(), String> {
    for name in names(template) {
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}} in body_template (known: {})",
                PLACEHOLDERS.join(", ")
            ));
        }
    }
    Ok(())
}

/// The identifiers written as `{ident}` in a template.
fn names(template: &str) -> impl Iterator<Item = &str> {
    Tokens { rest: template }.filter_map(|t| match t {
        Token::Placeholder(n) => Some(n),
        Token::Text(_) => None,
    })
}

enum Token<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let mut search_from = 0;
        loop {
            let Some(open) = self.rest[search_from..].find('{').map(|i| i + search_from) else {
                let text = self.rest;
                self.rest = "";
                return Some(Token::Text(text));
            };
            let after = &self.rest[open + 1..];
            let ident_len =
                after.bytes().take_while(|b| b.is_ascii_lowercase() || *b == b'_').count();
            if ident_len > 0 && after.as_bytes().get(ident_len) == Some(&b'}') {
                if open > 0 {
                    let text = &self.rest[..open];
                    self.rest = &self.rest[open..];
                    return Some(Token::Text(text));
                }
                let name = &after[..ident_len];
                self.rest = &after[ident_len + 1..];
                return Some(Token::Placeholder(name));
            }
            search_from = open + 1;
        }
    }
}

/// JSON-escapes `value` for use inside a JSON string (no surrounding quotes).
fn escape(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// The value of a placeholder for `event`; `file` is the event's file path
/// after mapping, if any; `previous` the previous chain step's output.
fn value(name: &str, event: &Event, file: Option<&str>, previous: Option<&str>) -> String {
    let channel = event.data.channel();
    let live = match &event.data {
        EventData::LiveStart(d) | EventData::LiveEnd(d) => Some(&d.live_info),
        EventData::TitleChange(d) | EventData::CategoryChange(d) => Some(&d.new_live_info),
        EventData::VideoFileCreate(d) => d.live_info.as_ref(),
        EventData::VideoFileFinish(d) => d.live_info.as_ref(),
        EventData::VideoTransmuxFinish(d) => d.live_info.as_ref(),
        _ => None,
    };
    match name {
        "id" => event.id.to_string(),
        "type" => escape(event.type_name()),
        "ts" => event.ts_string(),
        "platform" => escape(channel.map_or("", |c| c.0)),
        "channel" => escape(channel.map_or("", |c| c.1)),
        "file" => escape(file.unwrap_or("")),
        "url" => match &event.data {
            EventData::LiveStart(d) | EventData::LiveEnd(d) => escape(&d.url),
            _ => String::new(),
        },
        "title" => escape(live.map_or("", |l| l.title.as_str())),
        "uname" => escape(live.map_or("", |l| l.uname.as_str())),
        "error" => match &event.data {
            EventData::Error(d) => escape(&d.error),
            _ => String::new(),
        },
        "event" => event.to_json(),
        "previous" => escape(previous.unwrap_or("")),
        _ => String::new(),
    }
}

/// Renders `template` for `event`.
///
/// String values are JSON-escaped (quotes, backslashes, control
/// characters), so a template such as `{"text": "{channel} is live"}` stays
/// valid JSON whatever the channel name; `{event}` inserts the whole event
/// as a JSON object.
pub(crate) fn render(
    template: &str,
    event: &Event,
    file: Option<&str>,
    previous: Option<&str>,
) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    for token in (Tokens { rest: template }) {
        match token {
            Token::Text(t) => out.push_str(t),
            Token::Placeholder(name) if PLACEHOLDERS.contains(&name) => {
                out.push_str(&value(name, event, file, previous));
            }
            Token::Placeholder(name) => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event::from_json(
            br#"{"id":"398ea849-7c4b-45c4-bd2f-093df217266c","ts":"2026-03-11T05:22:38Z",
            "type":"live_start","data":{"platform":"twitch","channel":"a\"b\\c\n",
            "url":"https://live.example.com","live_info":{"title":"Hi \"all\""}}}"#,
        )
        .unwrap()
    }

    #[test]
    fn renders_json_escaped_values() {
        let out = render(r#"{"text":"{channel} live: {title}","n":{x}}"#, &event(), None, None);
        assert_eq!(out, r#"{"text":"a\"b\\c\n live: Hi \"all\"","n":{x}}"#);
        let parsed: serde_json::Value = serde_json::from_str(&out.replace("{x}", "1")).unwrap();
        assert_eq!(parsed["text"], "a\"b\\c\n live: Hi \"all\"");
    }

    #[test]
    fn event_placeholder_is_the_whole_event() {
        let out = render(r#"{"wrapped":{event}}"#, &event(), None, None);
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["wrapped"]["type"], "live_start");
    }

    #[test]
    fn check_rejects_unknown_names_and_accepts_json_braces() {
        assert!(check(r#"{"a":"{channel}"}"#).is_ok());
        let err = check("{chanel}").unwrap_err();
        assert!(err.contains("{chanel}"), "{err}");
    }
}
