//! Pointer coverage: every JSON field an adapter declares it reads resolves
//! in every real response of that endpoint kept as a fixture (the ones in
//! `fixtures/<platform>/real/`, each folder's README names the source). A
//! field renamed by the platform, or a hand-written fixture that invented
//! one, fails here.

use serde_json::Value;

use crate::common::fixture;

/// `(fixture, endpoint)`: the real fixtures and the endpoint each answers.
type Table = &'static [(&'static str, &'static str)];

/// Every expansion of `pointer` in `value` (`*` stands for each item of an
/// array; an empty array expands to nothing), and whether it resolves to a
/// non-null value.
fn expand(value: &Value, pointer: &str) -> Vec<(String, bool)> {
    let Some((head, tail)) = pointer.split_once("/*") else {
        return vec![(pointer.to_owned(), value.pointer(pointer).is_some_and(|v| !v.is_null()))];
    };
    match value.pointer(head) {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .flat_map(|(i, item)| {
                expand(item, tail).into_iter().map(move |(p, ok)| (format!("{head}/{i}{p}"), ok))
            })
            .collect(),
        _ => vec![(format!("{head} (an array)"), false)],
    }
}

fn check(platform: &str, fields: &[(&str, &[&str])], table: Table) {
    let mut missing = Vec::new();
    for (file, endpoint) in table {
        let Some((_, pointers)) = fields.iter().find(|(e, _)| e == endpoint) else {
            panic!("{platform}: {file} names endpoint {endpoint:?}, which FIELDS does not declare");
        };
        let text = fixture(file);
        let value: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"));
        for pointer in *pointers {
            for (path, ok) in expand(&value, pointer) {
                if !ok {
                    missing.push(format!("{file} ({endpoint}): {path}"));
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
            ("soop/real/viewpreset.json", "VIEWPRESET items"),
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
fn bilibili_fields_resolve_in_real_responses() {
    check(
        "bilibili",
        onelive_platform::adapters::bilibili::FIELDS,
        &[
            ("bilibili/real/room_init_short_76.json", "room_init"),
            ("bilibili/real/get_info_room_1_rotation.json", "get_info"),
            ("bilibili/real/room_play_info_anonymous_250.json", "getRoomPlayInfo"),
        ],
    );
}

#[test]
fn huya_fields_resolve_in_real_responses() {
    check(
        "huya",
        onelive_platform::adapters::huya::FIELDS,
        &[
            ("huya/real/profile_room_live.json", "profileRoom (live)"),
            ("huya/real/bit_rate_info.json", "liveData.bitRateInfo (a JSON string)"),
        ],
    );
}

#[test]
fn douyu_fields_resolve_in_real_responses() {
    check(
        "douyu",
        onelive_platform::adapters::douyu::FIELDS,
        &[
            ("douyu/real/betard_live.json", "betard (live)"),
            ("douyu/real/get_h5_play_v1.json", "getH5PlayV1"),
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
    let paths = expand(&serde_json::json!({"a": [{"b": 1}, {"c": 2}]}), "/a/*/b");
    assert_eq!(paths, [("/a/0/b".to_owned(), true), ("/a/1/b".to_owned(), false)]);
}
