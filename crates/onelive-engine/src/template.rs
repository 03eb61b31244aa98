//! File name templates: `{platform}/{name}/{date}_{time}_{title}_part{part}`.

use std::path::PathBuf;

/// Placeholders a template may use.
pub const PLACEHOLDERS: &[&str] =
    &["platform", "channel", "name", "title", "date", "time", "session", "part"];

/// Values for one file name.
#[derive(Debug, Clone)]
pub struct TemplateValues<'a> {
    /// Platform name.
    pub platform: &'a str,
    /// Channel id.
    pub channel: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Live title.
    pub title: &'a str,
    /// Local time the file is opened.
    pub now: time::OffsetDateTime,
    /// Session id.
    pub session: uuid::Uuid,
    /// Part number (1-based).
    pub part: u32,
}

/// Checks a template: balanced braces, known placeholders, no `..`, not absolute.
pub fn check(template: &str) -> Result<(), String> {
    if template.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if template.starts_with('/') {
        return Err("must be relative to output.folder (no leading `/`)".into());
    }
    if template.split('/').any(|c| c == "..") {
        return Err("must not contain `..`".into());
    }
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| "unclosed `{`".to_owned())?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}} (known: {})",
                PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(", ")
            ));
        }
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("unmatched `}`".into());
    }
    Ok(())
}

/// Makes a value safe as one path component.
fn sanitize(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' | '{' | '}' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim().trim_matches('.');
    let mut out: String = trimmed.chars().take(80).collect();
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// Renders a (checked) template into a relative path without extension,
/// keeping `{part}` as a literal placeholder (appended as `_part{part}`
/// when the template has none) for the recorder, which numbers split parts.
pub fn render_keep_part(template: &str, v: &TemplateValues<'_>) -> PathBuf {
    let with_part = if template.contains("{part}") {
        template.to_owned()
    } else {
        format!("{template}_part{{part}}")
    };
    let marker = "\u{E000}part\u{E000}";
    let rendered = render(&with_part.replace("{part}", marker), v);
    PathBuf::from(rendered.to_string_lossy().replace(marker, "{part}"))
}

/// Renders a (checked) template into a relative path without extension.
///
/// ```
/// use onelive_engine::template::{render, TemplateValues};
/// let v = TemplateValues {
///     platform: "bilibili", channel: "123", name: "alice", title: "a/b",
///     now: time::macros::datetime!(2026-01-02 03:04:05 UTC),
///     session: uuid::Uuid::nil(), part: 2,
/// };
/// let p = render("{platform}/{name}/{date}_{time}_{title}_part{part}", &v);
/// assert_eq!(p.to_str().unwrap(), "bilibili/alice/2026-01-02_03-04-05_a_b_part2");
/// ```
pub fn render(template: &str, v: &TemplateValues<'_>) -> PathBuf {
    let date = format!("{:04}-{:02}-{:02}", v.now.year(), u8::from(v.now.month()), v.now.day());
    let clock = format!("{:02}-{:02}-{:02}", v.now.hour(), v.now.minute(), v.now.second());
    let session = v.session.simple().to_string();
    let mut out = PathBuf::new();
    for component in template.split('/').filter(|c| !c.is_empty()) {
        let mut s = String::new();
        let mut rest = component;
        while let Some(open) = rest.find('{') {
            s.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                s.push_str(&rest[open..]);
                rest = "";
                break;
            };
            let value = match &after[..close] {
                "platform" => sanitize(v.platform),
                "channel" => sanitize(v.channel),
                "name" => sanitize(v.name),
                "title" => sanitize(v.title),
                "date" => date.clone(),
                "time" => clock.clone(),
                "session" => session[..8].to_owned(),
                "part" => v.part.to_string(),
                other => sanitize(other),
            };
            s.push_str(&value);
            rest = &after[close + 1..];
        }
        s.push_str(rest);
        out.push(sanitize(&s));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> TemplateValues<'static> {
        TemplateValues {
            platform: "bilibili",
            channel: "123",
            name: "a/b:c",
            title: "{title} ..",
            now: time::macros::datetime!(2026-01-02 03:04:05 UTC),
            session: uuid::Uuid::nil(),
            part: 3,
        }
    }

    #[test]
    fn values_cannot_escape_their_path_component() {
        let p = render("{name}/{title}_{part}", &values());
        assert_eq!(p.to_str().unwrap(), "a_b_c/_title_ _3");
        assert_eq!(p.components().count(), 2);
        let dots = TemplateValues { title: "..", ..values() };
        assert_eq!(render("{title}/x", &dots).to_str().unwrap(), "_/x");
    }

    #[test]
    fn the_part_placeholder_is_kept_or_appended_for_the_recorder() {
        let p = render_keep_part("{channel}/{date}_part{part}", &values());
        assert_eq!(p.to_str().unwrap(), "123/2026-01-02_part{part}");
        let p = render_keep_part("{channel}/{session}", &values());
        assert_eq!(p.to_str().unwrap(), "123/00000000_part{part}");
    }

    #[test]
    fn templates_are_checked() {
        assert!(check("{platform}/{name}/{date}_{time}_{title}_part{part}").is_ok());
        assert!(check("").unwrap_err().contains("empty"));
        assert!(check("/abs/{name}").unwrap_err().contains("relative"));
        assert!(check("{name}/../x").unwrap_err().contains(".."));
        assert!(check("{nope}").unwrap_err().contains("{nope}"));
        assert!(check("{name").unwrap_err().contains("unclosed"));
        assert!(check("name}").unwrap_err().contains("unmatched"));
    }
}
