//! JSON from the network, parsed leniently where serde_json is strict.
//!
//! serde_json rejects a lone UTF-16 surrogate escape (`"\ud800"`) as an
//! error. Such escapes come from viewers' text (a truncated emoji), so one
//! hostile or broken message would fail a whole packet and force a
//! reconnect for every recorder in the room. Before parsing, lone surrogate
//! escapes are replaced with `\ufffd`; invalid UTF-8 bytes become U+FFFD.
//! No crate offers this repair, hence the hand-written scan.

use serde_json::Value;

/// Parses `bytes` as JSON, first repairing invalid UTF-8 and lone surrogate
/// escapes.
pub(crate) fn parse_lenient(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(first) => {
            let text = String::from_utf8_lossy(bytes);
            let repaired = replace_lone_surrogates(&text);
            if repaired == text && matches!(text, std::borrow::Cow::Borrowed(_)) {
                return Err(first);
            }
            serde_json::from_str(&repaired)
        }
    }
}

fn hex4(b: &[u8]) -> Option<u16> {
    let s = std::str::from_utf8(b.get(..4)?).ok()?;
    u16::from_str_radix(s, 16).ok()
}

/// Replaces `\uD800`–`\uDFFF` escapes that are not a high+low pair.
pub(crate) fn replace_lone_surrogates(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut last = 0;
    while i + 1 < b.len() {
        if b[i] == b'\\' {
            if b[i + 1] == b'u'
                && let Some(unit) = hex4(&b[i + 2..])
            {
                {
                    if (0xD800..0xDC00).contains(&unit) {
                        let pair = b.get(i + 6) == Some(&b'\\')
                            && b.get(i + 7) == Some(&b'u')
                            && hex4(&b[(i + 8).min(b.len())..])
                                .is_some_and(|low| (0xDC00..0xE000).contains(&low));
                        if pair {
                            i += 12;
                            continue;
                        }
                    }
                    if (0xD800..0xE000).contains(&unit) {
                        out.push_str(&text[last..i]);
                        out.push_str("\\ufffd");
                        i += 6;
                        last = i;
                        continue;
                    }
                    i += 6;
                    continue;
                }
            }
            // Any other escape: skip the escaped character.
            i += 2;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let v = parse_lenient(br#"{"a":"x\ud83dy","b":"\udc00","c":"\ud83d\ude00","d":"\\ud800"}"#)
            .unwrap();
        assert_eq!(v["a"], "x\u{FFFD}y");
        assert_eq!(v["b"], "\u{FFFD}");
        assert_eq!(v["c"], "\u{1F600}");
        assert_eq!(v["d"], "\\ud800");
    }

    #[test]
    fn invalid_utf8_is_replaced_and_garbage_still_fails() {
        let v = parse_lenient(b"{\"a\":\"x\xff\"}").unwrap();
        assert_eq!(v["a"], "x\u{FFFD}");
        assert!(parse_lenient(b"{\"a\":").is_err());
    }
}
