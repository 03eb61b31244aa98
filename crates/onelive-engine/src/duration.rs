//! Human durations in the config: `"30s"`, `"2m"`, `"500ms"`, `"1h30m"` or
//! a bare integer of seconds.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as `"30s"`, `"2m"`, `"1h30m"`, `"500ms"` or an integer
/// of seconds.
///
/// ```
/// use onelive_engine::HumanDuration;
/// assert_eq!(HumanDuration::parse("1m30s").unwrap().0.as_secs(), 90);
/// assert_eq!(HumanDuration::parse("250ms").unwrap().0.as_millis(), 250);
/// assert!(HumanDuration::parse("ten").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Parses `"1h2m3s"`, `"500ms"`, `"30"` (seconds).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty duration".into());
        }
        if let Ok(secs) = s.parse::<u64>() {
            return Ok(HumanDuration(Duration::from_secs(secs)));
        }
        let mut total = Duration::ZERO;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits == 0 {
                return Err(format!(
                    "invalid duration {s:?}: expected a number before a unit (e.g. \"30s\", \"2m\", \"500ms\")"
                ));
            }
            let n: u64 = rest[..digits]
                .parse()
                .map_err(|_| format!("invalid duration {s:?}: number too large"))?;
            rest = &rest[digits..];
            let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let d = match unit {
                "ms" => Duration::from_millis(n),
                "s" => Duration::from_secs(n),
                "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
                "h" => Duration::from_secs(n.saturating_mul(3600)),
                "d" => Duration::from_secs(n.saturating_mul(86_400)),
                "" => {
                    return Err(format!(
                        "invalid duration {s:?}: missing unit after {n} (use ms, s, m, h or d)"
                    ));
                }
                other => {
                    return Err(format!(
                        "invalid duration {s:?}: unknown unit {other:?} (use ms, s, m, h or d)"
                    ));
                }
            };
            total = total.saturating_add(d);
        }
        Ok(HumanDuration(total))
    }
}

impl std::fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.0;
        if d.subsec_millis() != 0 || d.as_secs() == 0 {
            write!(f, "{}ms", d.as_millis())
        } else {
            write!(f, "{}s", d.as_secs())
        }
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(
                "expected a duration such as \"30s\", \"2m\" or an integer of seconds",
            )
        })? {
            Raw::Int(n) => Ok(HumanDuration(Duration::from_secs(n))),
            Raw::Text(s) => HumanDuration::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}
