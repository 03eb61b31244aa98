//! Filename templates: `{platform}/{uname}/{start_time:%Y-%m-%d}-{title}-{part:03}.{ext}`.
//!
//! The template is parsed once ([`FilenameTemplate::parse`]) over a closed set
//! of variables. Rendering substitutes values in a single pass: a value is
//! never parsed again, so a `%Y` or `{title}` inside a stream title stays
//! text. Untrusted values are sanitized (no path separators, control or
//! reserved characters, no Windows device names, capped length).

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

/// The variables a template may use.
pub const TEMPLATE_VARIABLES: &[&str] =
    &["platform", "channel", "uname", "title", "start_time", "part", "ext"];

/// Default strftime-style format of `{start_time}`.
pub const DEFAULT_TIME_FORMAT: &str = "%Y%m%d-%H%M%S";

/// The default template: `{platform}/{channel}/{start_time}-{uname}-{title}-part{part:03}.{ext}`.
pub const DEFAULT_TEMPLATE: &str =
    "{platform}/{channel}/{start_time}-{uname}-{title}-part{part:03}.{ext}";

/// Longest substituted value, in bytes.
const MAX_VALUE_BYTES: usize = 100;
/// Longest path component, in bytes (file systems allow 255).
const MAX_COMPONENT_BYTES: usize = 240;

/// Why a template was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template is empty.
    #[error("the filename template is empty")]
    Empty,
    /// `{name}` is not a known variable.
    #[error(
        "unknown variable `{{{name}}}` in filename template (known: platform, channel, uname, title, start_time, part, ext)"
    )]
    UnknownVariable {
        /// The unknown name.
        name: String,
    },
    /// A `{` without its `}` (write `{{` for a literal brace).
    #[error(
        "unclosed `{{` at byte {position} in filename template (write `{{{{` for a literal brace)"
    )]
    Unclosed {
        /// Byte offset of the `{`.
        position: usize,
    },
    /// A `}` without a `{` (write `}}` for a literal brace).
    #[error(
        "unmatched `}}` at byte {position} in filename template (write `}}}}` for a literal brace)"
    )]
    Unmatched {
        /// Byte offset of the `}`.
        position: usize,
    },
    /// A strftime directive that is not supported.
    #[error(
        "unsupported time directive `%{directive}` in `{{start_time:...}}` (supported: %Y %y %m %d %H %M %S %j %F %T %z %s %%)"
    )]
    BadTimeDirective {
        /// The directive letter.
        directive: String,
    },
    /// `{part:N}` with a bad width, or a spec on a variable that takes none.
    #[error("bad format `{spec}` for variable `{{{name}}}`")]
    BadSpec {
        /// The variable.
        name: String,
        /// The spec after `:`.
        spec: String,
    },
    /// The template is absolute, uses `..`, or has control characters.
    #[error("filename template must be a relative path without `..` or control characters")]
    UnsafePath,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TimeItem {
    Text(String),
    Directive(char),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Platform,
    Channel,
    Uname,
    Title,
    StartTime(Vec<TimeItem>),
    Part(usize),
    Ext,
}

/// A validated filename template.
///
/// Variables: `{platform}`, `{channel}`, `{uname}`, `{title}`,
/// `{start_time}` / `{start_time:%Y-%m-%d}` (strftime-style, on the time only),
/// `{part}` / `{part:03}` (zero-padded), `{ext}`. `{{` and `}}` are literal
/// braces. Rendering substitutes values in one pass: a `%Y` or `{title}`
/// inside a value stays text. Values are sanitized with [`sanitize_value`].
///
/// ```
/// use onelive_recorder::{FilenameTemplate, TemplateValues};
///
/// let template = FilenameTemplate::parse("{uname}/{start_time:%Y-%m-%d}-{title}-{part:02}.{ext}")?;
/// let start = time::macros::datetime!(2026-11-27 20:00:00 UTC);
/// let values = TemplateValues {
///     platform: "bilibili", channel: "1", uname: "streamer",
///     title: "100% fun / {title} %Y", start_time: start, part: 3, ext: "ts",
/// };
/// let path = template.render(&values);
/// assert_eq!(path.to_str(), Some("streamer/2026-11-27-100％ fun _ {title} ％Y-03.ts"));
/// assert!(FilenameTemplate::parse("{nope}").is_err());
/// # Ok::<(), onelive_recorder::TemplateError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilenameTemplate {
    source: String,
    pieces: Vec<Piece>,
}

/// The values a template is rendered with.
#[derive(Debug, Clone, Copy)]
pub struct TemplateValues<'a> {
    /// Platform name.
    pub platform: &'a str,
    /// Channel id.
    pub channel: &'a str,
    /// Streamer name.
    pub uname: &'a str,
    /// Live title.
    pub title: &'a str,
    /// Session start time (formatted in its own offset).
    pub start_time: OffsetDateTime,
    /// Part number.
    pub part: u32,
    /// File extension without the dot.
    pub ext: &'a str,
}

impl Default for FilenameTemplate {
    fn default() -> Self {
        // The default template is valid; parse cannot fail on it.
        FilenameTemplate::parse(DEFAULT_TEMPLATE)
            .unwrap_or(FilenameTemplate { source: String::new(), pieces: vec![Piece::Ext] })
    }
}

impl std::fmt::Display for FilenameTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for FilenameTemplate {
    type Err = TemplateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FilenameTemplate::parse(s)
    }
}

impl FilenameTemplate {
    /// Parses and validates a template. A template without `{ext}` gets
    /// `.{ext}` appended.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        if template.trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        if template.starts_with('/')
            || template.starts_with('\\')
            || template.chars().any(char::is_control)
            || template.split(['/', '\\']).any(|c| c == "..")
        {
            return Err(TemplateError::UnsafePath);
        }
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = template.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::Unmatched { position: i }),
                '{' => {
                    let mut inner = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        inner.push(c);
                    }
                    if !closed {
                        return Err(TemplateError::Unclosed { position: i });
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(parse_variable(&inner)?);
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        let mut source = template.to_owned();
        if !pieces.contains(&Piece::Ext) {
            pieces.push(Piece::Literal(".".into()));
            pieces.push(Piece::Ext);
            source.push_str(".{ext}");
        }
        Ok(FilenameTemplate { source, pieces })
    }

    /// The template text.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Renders a relative path. Values are sanitized; each path component is
    /// capped at 240 bytes on a UTF-8 boundary, keeping the extension.
    pub fn render(&self, values: &TemplateValues<'_>) -> PathBuf {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Platform => out.push_str(&sanitize_value(values.platform)),
                Piece::Channel => out.push_str(&sanitize_value(values.channel)),
                Piece::Uname => out.push_str(&sanitize_value(values.uname)),
                Piece::Title => out.push_str(&sanitize_value(values.title)),
                Piece::StartTime(items) => {
                    out.push_str(&sanitize_time(&format_time(items, values.start_time)))
                }
                Piece::Part(width) => out.push_str(&format!("{:0width$}", values.part)),
                Piece::Ext => out.push_str(&sanitize_value(values.ext)),
            }
        }
        let components: Vec<String> = out
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(|c| if c == ".." { "_".to_owned() } else { cap_component(c) })
            .collect();
        components.iter().collect::<PathBuf>()
    }
}

fn parse_variable(inner: &str) -> Result<Piece, TemplateError> {
    let (name, spec) = match inner.split_once(':') {
        Some((n, s)) => (n.trim(), Some(s)),
        None => (inner.trim(), None),
    };
    let no_spec = |piece: Piece| match spec {
        None => Ok(piece),
        Some(s) => Err(TemplateError::BadSpec { name: name.to_owned(), spec: s.to_owned() }),
    };
    match name {
        "platform" => no_spec(Piece::Platform),
        "channel" => no_spec(Piece::Channel),
        "uname" => no_spec(Piece::Uname),
        "title" => no_spec(Piece::Title),
        "ext" => no_spec(Piece::Ext),
        "part" => match spec {
            None => Ok(Piece::Part(1)),
            Some(s) => match s.trim_start_matches('0').parse::<usize>() {
                Ok(w) if (1..=9).contains(&w) => Ok(Piece::Part(w)),
                _ => Err(TemplateError::BadSpec { name: "part".into(), spec: s.to_owned() }),
            },
        },
        "start_time" => {
            Ok(Piece::StartTime(parse_time_format(spec.unwrap_or(DEFAULT_TIME_FORMAT))?))
        }
        other => Err(TemplateError::UnknownVariable { name: other.to_owned() }),
    }
}

fn parse_time_format(format: &str) -> Result<Vec<TimeItem>, TemplateError> {
    let mut items = Vec::new();
    let mut text = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => text.push('%'),
            Some(d) if "YymdHMSjFTzs".contains(d) => {
                if !text.is_empty() {
                    items.push(TimeItem::Text(std::mem::take(&mut text)));
                }
                items.push(TimeItem::Directive(d));
            }
            Some(d) => return Err(TemplateError::BadTimeDirective { directive: d.to_string() }),
            None => return Err(TemplateError::BadTimeDirective { directive: String::new() }),
        }
    }
    if !text.is_empty() {
        items.push(TimeItem::Text(text));
    }
    Ok(items)
}

fn format_time(items: &[TimeItem], t: OffsetDateTime) -> String {
    let mut out = String::new();
    for item in items {
        match item {
            TimeItem::Text(s) => out.push_str(s),
            TimeItem::Directive(d) => out.push_str(&match d {
                'Y' => format!("{:04}", t.year()),
                'y' => format!("{:02}", t.year().rem_euclid(100)),
                'm' => format!("{:02}", u8::from(t.month())),
                'd' => format!("{:02}", t.day()),
                'H' => format!("{:02}", t.hour()),
                'M' => format!("{:02}", t.minute()),
                'S' => format!("{:02}", t.second()),
                'j' => format!("{:03}", t.ordinal()),
                'F' => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
                'T' => format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()),
                'z' => {
                    let (h, m, _) = t.offset().as_hms();
                    let sign = if t.offset().is_negative() { '-' } else { '+' };
                    format!("{sign}{:02}{:02}", h.unsigned_abs(), m.unsigned_abs())
                }
                's' => t.unix_timestamp().to_string(),
                _ => String::new(),
            }),
        }
    }
    out
}

/// Makes an untrusted value safe as (part of) one path component.
///
/// Path separators (`/`, `\\`) and control characters become `_`. The
/// characters that Windows refuses in names (`: * ? " < > |`) and the ones
/// that break a file name pasted into a URL or a shell command (`# % & + = ;
/// $` and the backtick) become their full-width forms (`#` → `＃`, `?` →
/// `？`, ...), as other recorders do, so a title like `测试直播 #1` stays
/// readable and survives naive URL building (`PUT .../file/{name}`). Spaces
/// are trimmed at the ends, trailing dots are removed, Windows device names
/// (`CON`, `NUL`, `COM1`...) get a `_` prefix, and the length is capped at
/// 100 bytes on a character boundary. `{` and `}` are kept as text.
///
/// ```
/// use onelive_recorder::sanitize_value;
/// assert_eq!(sanitize_value("a/b\\c"), "a_b_c");
/// assert_eq!(sanitize_value("测试直播 #1 100% Q&A?"), "测试直播 ＃1 100％ Q＆A？");
/// assert_eq!(sanitize_value("12:30"), "12：30");
/// assert_eq!(sanitize_value("CON"), "_CON");
/// assert_eq!(sanitize_value(".."), "_");
/// ```
pub fn sanitize_value(value: &str) -> String {
    sanitize_with(value, |c| if FULL_WIDTH.contains(c) { full_width(c) } else { c })
}

/// Sanitizes a formatted `{start_time:...}`: the format is the user's own, so only what a file
/// system refuses is replaced (`: * ? " < > |` become `_`, as in `%H:%M`); `+` of `%z` and a
/// literal `%%` stay.
fn sanitize_time(value: &str) -> String {
    sanitize_with(value, |c| if ":*?\"<>|".contains(c) { '_' } else { c })
}

fn sanitize_with(value: &str, map: impl Fn(char) -> char) -> String {
    let replaced: String = value
        .chars()
        .map(|c| match c {
            '/' | '\\' => '_',
            c if c.is_control() => '_',
            c => map(c),
        })
        .collect();
    let trimmed = replaced.trim().trim_end_matches(['.', ' ']);
    let mut out = if trimmed.is_empty() || trimmed.chars().all(|c| c == '.') {
        "_".to_owned()
    } else {
        trimmed.to_owned()
    };
    let stem = out.split('.').next().unwrap_or("").to_ascii_uppercase();
    let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes().get(3).is_some_and(|b| (b'1'..=b'9').contains(b)));
    if reserved {
        out.insert(0, '_');
    }
    truncate_utf8(&out, MAX_VALUE_BYTES).trim_end_matches(['.', ' ']).to_owned()
}

/// What [`sanitize_value`] turns into full-width forms: the characters Windows refuses in names,
/// and those that break a name pasted into a URL or a shell command.
const FULL_WIDTH: &str = ":*?\"<>|#%&+=;$`";

/// The full-width form (U+FF01..U+FF5E) of a printable ASCII character.
fn full_width(c: char) -> char {
    char::from_u32(u32::from(c) + 0xFEE0).unwrap_or('_')
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Caps one path component, keeping a short extension.
fn cap_component(component: &str) -> String {
    if component.len() <= MAX_COMPONENT_BYTES {
        return component.to_owned();
    }
    let ext = Path::new(component)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| e.len() <= 16)
        .map(|e| format!(".{e}"))
        .unwrap_or_default();
    let stem = &component[..component.len() - ext.len()];
    format!("{}{ext}", truncate_utf8(stem, MAX_COMPONENT_BYTES - ext.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(title: &str) -> TemplateValues<'_> {
        TemplateValues {
            platform: "bilibili",
            channel: "123",
            uname: "名字",
            title,
            start_time: time::macros::datetime!(2026-01-02 03:04:05 +08:00),
            part: 7,
            ext: "ts",
        }
    }

    #[test]
    fn default_template_renders_every_variable() {
        let path = FilenameTemplate::default().render(&values("hello"));
        assert_eq!(path, Path::new("bilibili/123/20260102-030405-名字-hello-part007.ts"));
    }

    #[test]
    fn hostile_title_is_text_never_a_directive_or_a_path() {
        let title = format!("a/b %Y {{title}} {{ext}} ..\\x 🎉{}", "é".repeat(150));
        let t = FilenameTemplate::parse("{title}-{start_time:%Y}.{ext}").unwrap();
        let path = t.render(&values(&title));
        assert_eq!(path.components().count(), 1, "{path:?}");
        let name = path.to_str().unwrap();
        assert!(name.starts_with("a_b ％Y {title} {ext} .._x 🎉é"), "{name}");
        assert!(name.ends_with("-2026.ts"), "{name}");
        assert!(name.len() <= MAX_COMPONENT_BYTES);
    }

    #[test]
    fn time_directives_and_literal_braces() {
        let t = FilenameTemplate::parse("{{x}} {start_time:%F %T %j %y %z %s %%}").unwrap();
        let s = t.render(&values("")).to_string_lossy().into_owned();
        assert_eq!(s, "{x} 2026-01-02 03_04_05 002 26 +0800 1767294245 %.ts");
    }

    #[test]
    fn invalid_templates_are_rejected_with_precise_errors() {
        let err = FilenameTemplate::parse("{titel}").unwrap_err();
        assert_eq!(err, TemplateError::UnknownVariable { name: "titel".into() });
        assert!(err.to_string().contains("titel") && err.to_string().contains("known"));
        assert_eq!(
            FilenameTemplate::parse("a{title"),
            Err(TemplateError::Unclosed { position: 1 })
        );
        assert_eq!(FilenameTemplate::parse("a}"), Err(TemplateError::Unmatched { position: 1 }));
        assert!(matches!(
            FilenameTemplate::parse("{start_time:%Q}"),
            Err(TemplateError::BadTimeDirective { .. })
        ));
        assert!(matches!(FilenameTemplate::parse("{part:x}"), Err(TemplateError::BadSpec { .. })));
        assert!(matches!(FilenameTemplate::parse("{title:x}"), Err(TemplateError::BadSpec { .. })));
        assert_eq!(FilenameTemplate::parse("../{title}"), Err(TemplateError::UnsafePath));
        assert_eq!(FilenameTemplate::parse("/abs/{title}"), Err(TemplateError::UnsafePath));
        assert_eq!(FilenameTemplate::parse("  "), Err(TemplateError::Empty));
    }

    #[test]
    fn sanitize_handles_reserved_names_controls_and_length() {
        assert_eq!(sanitize_value("nul.txt"), "_nul.txt");
        assert_eq!(sanitize_value("COM1"), "_COM1");
        assert_eq!(sanitize_value("COM10"), "COM10");
        assert_eq!(sanitize_value("a\u{0}b\nc"), "a_b_c");
        // Every reserved character, in a title as streamers write them.
        assert_eq!(
            sanitize_value("#1 ?a=b&c=d; 50% +$x `y` <z>|\"q\"*"),
            "＃1 ？a＝b＆c＝d； 50％ ＋＄x ｀y｀ ＜z＞｜＂q＂＊"
        );
        assert_eq!(sanitize_value("下播了。。。 :)"), "下播了。。。 ：)");
        assert_eq!(sanitize_value("trailing. . "), "trailing");
        assert_eq!(sanitize_value(""), "_");
        let long = "😀".repeat(100);
        let s = sanitize_value(&long);
        assert!(s.len() <= MAX_VALUE_BYTES && s.chars().all(|c| c == '😀'));
    }

    #[test]
    fn template_without_ext_gets_one() {
        let t = FilenameTemplate::parse("{uname}").unwrap();
        assert_eq!(t.as_str(), "{uname}.{ext}");
        assert_eq!(t.render(&values("")), Path::new("名字.ts"));
    }
}
