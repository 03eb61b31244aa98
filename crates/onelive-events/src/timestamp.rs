//! RFC 3339 timestamps exactly as OneLiveRec writes them:
//! UTC, `Z` suffix, nine fractional digits (`2026-03-11T05:22:38.393477700Z`).

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

const NANOS_Z: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");

const SECONDS_Z: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// Formats an envelope `ts`: UTC with nanoseconds.
pub(crate) fn format_nanos(t: OffsetDateTime) -> String {
    // Years 0..=9999 always format; anything else falls back to RFC 3339.
    let utc = t.to_offset(UtcOffset::UTC);
    utc.format(NANOS_Z).unwrap_or_else(|_| utc.format(&Rfc3339).unwrap_or_default())
}

/// Formats a `live_info.start_time`: UTC, whole seconds as in the seed
/// (`2026-03-11T05:22:38Z`); a fraction is written only when there is one.
pub(crate) fn format_seconds(t: OffsetDateTime) -> String {
    let utc = t.to_offset(UtcOffset::UTC);
    if utc.nanosecond() == 0
        && let Ok(s) = utc.format(SECONDS_Z)
    {
        return s;
    }
    utc.format(&Rfc3339).unwrap_or_default()
}

/// Parses any RFC 3339 timestamp (any offset, any precision).
pub(crate) fn parse(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| format!("not an RFC 3339 timestamp ({e}): {s:?}"))
}

/// Serde adapter for `Option<OffsetDateTime>` as an RFC 3339 string or `null`.
pub(crate) mod option_seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(t) => serializer.serialize_str(&super::format_seconds(*t)),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        let raw: Option<String> = Option::deserialize(deserializer)?;
        match raw {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => super::parse(&s).map(Some).map_err(serde::de::Error::custom),
        }
    }
}
