//! `output.filename_template` is a [`FilenameTemplate`] of onelive-recorder:
//! one language, one renderer. This module is only the engine's thin adapter
//! in front of the recorder's parser:
//!
//! - `{name}` (the channel's configured name, else the streamer name, else
//!   the channel id) and `{session}` (first 8 hex digits of the session id)
//!   are engine values the recorder does not know: they are substituted as
//!   sanitized literal text before parsing (a value is never parsed again).
//! - `{date}` and `{time}` are accepted as aliases of
//!   `{start_time:%Y-%m-%d}` and `{start_time:%H-%M-%S}`.
//! - Every part gets its own name: without `{part}`, `_part{part}` is added
//!   (before a trailing `.{ext}`).

use onelive_recorder::{FilenameTemplate, TemplateError, sanitize_value};
use uuid::Uuid;

/// The default `output.filename_template`.
pub const DEFAULT_TEMPLATE: &str =
    "{platform}/{name}/{start_time:%Y-%m-%d_%H-%M-%S}_{title}_part{part}";

/// Variables the engine adds to the recorder's
/// [`TEMPLATE_VARIABLES`](onelive_recorder::TEMPLATE_VARIABLES).
pub const ENGINE_VARIABLES: &[&str] = &["name", "session", "date", "time"];

/// The engine values substituted before parsing.
#[derive(Debug, Clone, Copy)]
pub struct EngineValues<'a> {
    /// The channel's configured name, else the streamer name, else the channel id.
    pub name: &'a str,
    /// The live session id.
    pub session: Uuid,
}

/// Checks a template as [`prepare`] would parse it (for config loading).
pub fn check(template: &str) -> Result<(), String> {
    prepare(template, &EngineValues { name: "name", session: Uuid::nil() }).map(|_| ())
}

/// The recorder template for one recording: engine values filled in,
/// aliases rewritten, `{part}` guaranteed.
///
/// ```
/// use onelive_engine::template::{EngineValues, prepare};
/// use onelive_recorder::TemplateValues;
///
/// let v = EngineValues { name: "a/b", session: uuid::Uuid::nil() };
/// let t = prepare("{name}/{date}_{title}_{session}", &v).unwrap();
/// let path = t.render(&TemplateValues {
///     platform: "bilibili", channel: "1", uname: "u", title: "%Y {title}",
///     start_time: time::macros::datetime!(2026-01-02 03:04:05 UTC), part: 2, ext: "ts",
/// });
/// assert_eq!(path.to_str(), Some("a_b/2026-01-02_％Y {title}_00000000_part2.ts"));
/// assert!(prepare("{nope}", &v).unwrap_err().contains("{nope}"));
/// ```
pub fn prepare(template: &str, v: &EngineValues<'_>) -> Result<FilenameTemplate, String> {
    if template.trim().is_empty() {
        return Err(TemplateError::Empty.to_string());
    }
    let (mut text, has_part) = rewrite(template, v);
    if !has_part {
        match text.strip_suffix(".{ext}") {
            Some(stem) => text = format!("{stem}_part{{part}}.{{ext}}"),
            None => text.push_str("_part{part}"),
        }
    }
    FilenameTemplate::parse(&text).map_err(|e| match e {
        TemplateError::UnknownVariable { name } => format!(
            "unknown variable `{{{name}}}` (known: {{platform}}, {{channel}}, {{uname}}, {{name}}, \
             {{title}}, {{start_time}} or {{start_time:%Y-%m-%d}}, {{part}} or {{part:03}}, \
             {{ext}}, {{session}}, {{date}}, {{time}})"
        ),
        other => other.to_string(),
    })
}

/// Substitutes the engine variables; returns the text and whether it uses `{part}`.
fn rewrite(template: &str, v: &EngineValues<'_>) -> (String, bool) {
    let mut out = String::with_capacity(template.len());
    let mut has_part = false;
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") || tail.starts_with('}') {
            // Escapes stay as they are; a lone `}` is reported by the parser.
            let n = if tail.starts_with("{{") || tail.starts_with("}}") { 2 } else { 1 };
            out.push_str(&tail[..n]);
            rest = &tail[n..];
            continue;
        }
        let Some(close) = tail.find('}') else {
            // Unclosed: the parser reports it (nothing is appended after it).
            out.push_str(tail);
            return (out, true);
        };
        let inner = &tail[1..close];
        match inner.trim() {
            "name" => out.push_str(&escape(&sanitize_value(v.name))),
            "session" => out.push_str(&v.session.simple().to_string()[..8]),
            "date" => out.push_str("{start_time:%Y-%m-%d}"),
            "time" => out.push_str("{start_time:%H-%M-%S}"),
            other => {
                if other.split(':').next().map(str::trim) == Some("part") {
                    has_part = true;
                }
                out.push_str(&tail[..=close]);
            }
        }
        rest = &tail[close + 1..];
    }
    out.push_str(rest);
    (out, has_part)
}

fn escape(value: &str) -> String {
    value.replace('{', "{{").replace('}', "}}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use onelive_recorder::TemplateValues;

    fn render(template: &str, name: &str, title: &str, part: u32) -> String {
        let t = prepare(template, &EngineValues { name, session: Uuid::nil() }).unwrap();
        t.render(&TemplateValues {
            platform: "bilibili",
            channel: "123",
            uname: "streamer",
            title,
            start_time: time::macros::datetime!(2026-01-02 03:04:05 UTC),
            part,
            ext: "ts",
        })
        .to_string_lossy()
        .into_owned()
    }

    #[test]
    fn the_default_template_names_files_as_before() {
        assert_eq!(
            render(DEFAULT_TEMPLATE, "alice", "hi", 2),
            "bilibili/alice/2026-01-02_03-04-05_hi_part2.ts"
        );
        assert_eq!(
            render("{platform}/{name}/{date}_{time}_{title}_part{part}", "alice", "hi", 2),
            "bilibili/alice/2026-01-02_03-04-05_hi_part2.ts",
            "the old variables are aliases"
        );
    }

    #[test]
    fn engine_values_are_text_never_syntax_or_paths() {
        assert_eq!(
            render("{name}/{uname}", "{title}/..%Y", "t", 1),
            "{title}_..％Y/streamer_part1.ts"
        );
        assert_eq!(render("{name}", "..", "t", 1), "__part1.ts");
        assert_eq!(render("{{name}}_{part}", "x", "t", 4), "{name}_4.ts");
    }

    #[test]
    fn every_part_gets_its_own_name() {
        assert_eq!(render("{channel}/{session}", "x", "t", 3), "123/00000000_part3.ts");
        assert_eq!(render("{channel}.{ext}", "x", "t", 3), "123_part3.ts");
        assert_eq!(render("{channel}_{part:03}", "x", "t", 3), "123_003.ts");
    }

    #[test]
    fn invalid_templates_are_explained() {
        assert!(check(DEFAULT_TEMPLATE).is_ok());
        assert!(check("").unwrap_err().contains("empty"));
        assert!(check("/abs/{name}").unwrap_err().contains("relative"));
        assert!(check("{name}/../x").unwrap_err().contains(".."));
        let unknown = check("{nope}").unwrap_err();
        assert!(unknown.contains("{nope}") && unknown.contains("{session}"), "{unknown}");
        assert!(check("{name").unwrap_err().contains("unclosed"));
        assert!(check("name}").unwrap_err().contains("unmatched"));
        assert!(check("{start_time:%Q}").unwrap_err().contains("%Q"));
    }
}
