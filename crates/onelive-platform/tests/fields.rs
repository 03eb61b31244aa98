//! Pointer coverage: every JSON field an adapter declares it reads resolves
//! in every real response of that endpoint kept as a fixture (the ones in
//! `fixtures/<platform>/real/`, each folder's README names the source). A
//! field renamed by the platform, or a hand-written fixture that invented
//! one, fails here.

use serde_json::Value;

use crate::common::fixture;

/// `(fixture, endpoint)`: the real fixtures and the endpoint each answers.
/// A fixture of an endpoint named `... item` is a JSON array, checked item
/// by item.
type Table = &'static [(&'static str, &'static str)];

fn check(platform: &str, fields: &[(&str, &[&str])], table: Table) {
    let mut missing = Vec::new();
    for (file, endpoint) in table {
        let Some((_, pointers)) = fields.iter().find(|(e, _)| e == endpoint) else {
            panic!("{platform}: {file} names endpoint {endpoint:?}, which FIELDS does not declare");
        };
        let text = fixture(file);
        let value: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
        let items: Vec<&Value> = match &value {
            Value::Array(items) if endpoint.ends_with(" item") => items.iter().collect(),
            other => vec![other],
        };
        for (index, item) in items.iter().enumerate() {
            for pointer in *pointers {
                if item.pointer(pointer).is_none_or(Value::is_null) {
                    missing.push(format!("{file}[{index}] ({endpoint}): {pointer}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{platform}: fields not found in real fixtures:\n{}",
        missing.join("\n")
    );
}

#[test]
fn soop_fields_resolve_in_real_responses() {
    check(
        "soop",
        onelive_platform::adapters::soop::FIELDS,
        &[
            ("soop/real/player_live.json", "player_live_api type=live (live)"),
            ("soop/real/player_offline.json", "player_live_api type=live (offline)"),
            ("soop/real/player_adult.json", "player_live_api type=live (adult)"),
            ("soop/real/viewpreset.json", "VIEWPRESET item"),
            ("soop/real/aid.json", "player_live_api type=aid"),
            ("soop/real/assign.json", "broad_stream_assign.html"),
        ],
    );
}

#[test]
fn twitch_fields_resolve_in_real_responses() {
    check(
        "twitch",
        onelive_platform::adapters::twitch::FIELDS,
        &[
            ("twitch/real/stream_metadata.json", "GQL user (live)"),
            ("twitch/real/token.json", "GQL streamPlaybackAccessToken"),
            ("twitch/real/token_401_integrity.json", "GQL error"),
            ("twitch/real/token_401_invalid_oauth.json", "GQL 401 invalid token"),
            ("twitch/real/usher_404_offline.json", "usher error"),
            ("twitch/real/usher_403_geoblocked.json", "usher error"),
        ],
    );
}

#[test]
fn a_renamed_field_is_caught() {
    // The check itself can fail: a fixture without the field is reported.
    let result = std::panic::catch_unwind(|| {
        check("soop", &[("aid", &["/CHANNEL/AID_RENAMED"])], &[("soop/real/aid.json", "aid")]);
    });
    assert!(result.is_err());
}
