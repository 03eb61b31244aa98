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
//! - `{start_time}` is shown in `[output] time_zone` ([`time_zone`],
//!   [`in_zone`]): the recorder formats the time with the offset it is given.

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

/// The zone `[output] time_zone` names: `local` (the machine's zone, from
/// `TZ` or `/etc/localtime`; UTC when neither names a zone), `UTC`, or an
/// IANA name such as `Asia/Shanghai`. Zones come from `jiff`, which reads
/// the zone database itself (no libc `localtime_r`, whose process-wide `TZ`
/// state is unsafe in a multi-threaded program).
///
/// ```
/// use onelive_engine::template::time_zone;
/// assert_eq!(time_zone("UTC").unwrap().iana_name(), Some("UTC"));
/// assert!(time_zone("Asia/Shangai").unwrap_err().contains("Asia/Shanghai"));
/// ```
pub fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("local") {
        return Ok(jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC));
    }
    if name.eq_ignore_ascii_case("utc") {
        return Ok(jiff::tz::TimeZone::UTC);
    }
    jiff::tz::TimeZone::get(name).map_err(|_| {
        format!(
            "unknown time zone {name:?} (use \"local\", \"UTC\" or an IANA name such as \"Asia/Shanghai\")"
        )
    })
}

/// `t` as the same instant in `zone` (its offset at that instant).
///
/// ```
/// use onelive_engine::template::{in_zone, time_zone};
/// let utc = time::macros::datetime!(2026-01-02 03:04:05 UTC);
/// let shanghai = in_zone(utc, &time_zone("Asia/Shanghai").unwrap());
/// assert_eq!((shanghai.hour(), shanghai.offset().whole_hours()), (11, 8));
/// assert_eq!(shanghai, utc);
/// ```
pub fn in_zone(t: time::OffsetDateTime, zone: &jiff::tz::TimeZone) -> time::OffsetDateTime {
    let offset = jiff::Timestamp::from_second(t.unix_timestamp())
        .map(|ts| zone.to_offset(ts).seconds())
        .unwrap_or(0);
    time::UtcOffset::from_whole_seconds(offset).map(|o| t.to_offset(o)).unwrap_or(t)
}

/// `GET /api/output`: the `[output]` settings, the zone `time_zone`
/// resolves to (`local` shows the machine's zone) and its UTC offset now,
/// so that the web UI's preview names files as the engine will.
pub fn output_view(output: &crate::config::OutputConfig) -> serde_json::Value {
    let zone = output.zone().unwrap_or(jiff::tz::TimeZone::UTC);
    let now = jiff::Timestamp::now();
    serde_json::json!({
        "folder": output.folder,
        "filename_template": output.filename_template,
        "container": output.container,
        "time_zone": output.time_zone,
        "zone": zone.iana_name().unwrap_or("local"),
        "utc_offset_seconds": zone.to_offset(now).seconds(),
    })
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
    fn start_time_follows_the_time_zone_with_its_daylight_saving_time() {
        let render_in = |zone: &str, utc: time::OffsetDateTime| {
            let t = prepare(
                "{start_time:%Y-%m-%d_%H-%M-%S%z}_{date}_{time}",
                &EngineValues { name: "x", session: Uuid::nil() },
            )
            .unwrap();
            t.render(&TemplateValues {
                platform: "p",
                channel: "c",
                uname: "u",
                title: "t",
                start_time: in_zone(utc, &time_zone(zone).unwrap()),
                part: 1,
                ext: "ts",
            })
            .to_string_lossy()
            .into_owned()
        };
        let winter = time::macros::datetime!(2026-01-01 20:30:00 UTC);
        let summer = time::macros::datetime!(2026-07-01 20:30:00 UTC);
        assert_eq!(
            render_in("Asia/Shanghai", winter),
            "2026-01-02_04-30-00+0800_2026-01-02_04-30-00_part1.ts",
            "UTC+8 is already the next day"
        );
        assert_eq!(
            render_in("UTC", winter),
            "2026-01-01_20-30-00+0000_2026-01-01_20-30-00_part1.ts"
        );
        assert_eq!(render_in("utc", summer), render_in("UTC", summer));
        assert_eq!(
            render_in("Europe/Berlin", winter),
            "2026-01-01_21-30-00+0100_2026-01-01_21-30-00_part1.ts"
        );
        assert_eq!(
            render_in("Europe/Berlin", summer),
            "2026-07-01_22-30-00+0200_2026-07-01_22-30-00_part1.ts",
            "summer time"
        );
        assert_eq!(
            render_in("America/St_Johns", winter),
            "2026-01-01_17-00-00-0330_2026-01-01_17-00-00_part1.ts",
            "half-hour offsets"
        );
    }

    #[test]
    fn unknown_time_zones_are_refused_with_the_accepted_forms() {
        for bad in ["Asia/Shangai", "", "+08:00", "Mars/Olympus"] {
            let e = time_zone(bad).unwrap_err();
            assert!(e.contains("\"local\"") && e.contains("Asia/Shanghai"), "{bad}: {e}");
        }
        assert!(time_zone("local").is_ok());
        assert!(time_zone(" Asia/Shanghai ").is_ok());
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
