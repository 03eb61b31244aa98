//! `json`: lenient accessors for platform JSON, where a number is sometimes
//! a string and a field is sometimes missing.

use serde_json::Value;

/// The value at a JSON pointer (`/data/room_id`), if any and not null.
pub(crate) fn at<'a>(value: &'a Value, pointer: &str) -> Option<&'a Value> {
    value.pointer(pointer).filter(|v| !v.is_null())
}

/// A string or number at `pointer`, as a string.
pub(crate) fn string(value: &Value, pointer: &str) -> Option<String> {
    match at(value, pointer)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A string or number at `pointer`, as a string, or `""`.
pub(crate) fn string_or_empty(value: &Value, pointer: &str) -> String {
    string(value, pointer).unwrap_or_default()
}

/// An integer (or a string holding one) at `pointer`.
pub(crate) fn int(value: &Value, pointer: &str) -> Option<i64> {
    match at(value, pointer)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// The array at `pointer`, or an empty slice.
pub(crate) fn array<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    match at(value, pointer) {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}

/// Fails with an [`crate::PlatformError::UnexpectedResponse`] naming
/// `pointer` when the field is absent (a `null` value is present: platforms
/// say "offline" or "unknown" with `null`). A renamed field is then a
/// precise error, never a silent "offline".
pub(crate) fn require(
    value: &Value,
    pointer: &str,
    platform: &str,
    url: &str,
    endpoint: &str,
) -> crate::Result<()> {
    if value.pointer(pointer).is_some() {
        Ok(())
    } else {
        Err(crate::PlatformError::unexpected(
            platform,
            url,
            format!("{endpoint} JSON with the field {pointer}"),
            "no such field (did the platform rename it?)",
        ))
    }
}
