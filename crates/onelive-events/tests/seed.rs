//! Every example payload of the seed (OneLiveRec's webhook reference),
//! completed into a full envelope, parses into the right typed value and
//! re-serializes to the same JSON value.

use onelive_events::{Event, EventData, EventType, LiveStatus};
use serde_json::{Value, json};

const SEED_ID: &str = "398ea849-7c4b-45c4-bd2f-093df217266c";
const SEED_TS: &str = "2026-03-11T05:22:38.393477700Z";

/// The seed's `live_info` example, verbatim.
fn seed_live_info() -> Value {
    json!({ "uid": "<USER ID>", "uname": "<USER NAME>", "avatar": "https://live.example.com/avatar.jpg", "title": "<TITLE>", "cover": "https://live.example.com/cover.jpg", "categories": [ "<PRIMARY CATEGORY>", "<SECONDARY CATEGORY>" ], "status": "live", "live_id": "<LIVE ID>", "start_time": "2026-03-11T05:22:38Z"})
}

fn envelope(event_type: &str, data: Value) -> Value {
    json!({"id": SEED_ID, "ts": SEED_TS, "type": event_type, "data": data})
}

/// The seed's examples, with `{}` live_info objects filled with the seed's
/// live_info example and app events given their `{}` data.
fn seed_examples() -> Vec<(EventType, Value)> {
    let li = seed_live_info();
    vec![
        (EventType::AppLaunch, envelope("app_launch", json!({}))),
        (EventType::AppExit, envelope("app_exit", json!({}))),
        (
            EventType::LiveStart,
            envelope(
                "live_start",
                json!({ "platform": "<PLATFORM>", "channel": "<CHANNEL>", "url": "https://live.example.com", "live_info": li }),
            ),
        ),
        (
            EventType::LiveEnd,
            envelope(
                "live_end",
                json!({ "platform": "<PLATFORM>", "channel": "<CHANNEL>", "url": "https://live.example.com", "live_info": li }),
            ),
        ),
        (
            EventType::VideoFileCreate,
            envelope(
                "video_file_create",
                json!({ "platform": "<PLATFORM>", "channel": "<CHANNEL>", "path": "path/to/file.ts" }),
            ),
        ),
        (
            EventType::VideoFileFinish,
            envelope(
                "video_file_finish",
                json!({ "platform": "<PLATFORM>", "channel": "<CHANNEL>", "path": "path/to/file.mp4", "filesize": 1073741824, "duration": 3600 }),
            ),
        ),
        (
            EventType::VideoTransmuxFinish,
            envelope(
                "video_transmux_finish",
                json!({ "platform": "<PLATFORM>", "channel": "<CHANNEL>", "input": "path/to/input.file", "output": "path/to/output.file" }),
            ),
        ),
        (
            EventType::TitleChange,
            envelope(
                "title_change",
                json!({ "platform": "<PLATFORM>", "channel": "<CHANNEL>", "old_live_info": li, "new_live_info": li }),
            ),
        ),
        (
            EventType::CategoryChange,
            envelope(
                "category_change",
                json!({ "platform": "<PLATFORM>", "channel": "<CHANNEL>", "old_live_info": li, "new_live_info": li }),
            ),
        ),
        (
            EventType::Error,
            envelope(
                "error",
                json!({ "platform": "<PLATFORM>", "channel": "<CHANNEL>", "error": "Something went wrong" }),
            ),
        ),
    ]
}

#[test]
fn every_seed_example_round_trips_to_the_same_json_value() {
    let examples = seed_examples();
    // Every event type of the seed is covered (all known types but `test`).
    let covered: Vec<EventType> = examples.iter().map(|(t, _)| *t).collect();
    let seed_types: Vec<EventType> =
        EventType::ALL.iter().copied().filter(|t| *t != EventType::Test).collect();
    assert_eq!(covered, seed_types);

    for (expected_type, value) in examples {
        let body = serde_json::to_vec(&value).unwrap();
        let event = Event::from_json(&body)
            .unwrap_or_else(|e| panic!("seed example {expected_type} does not parse: {e}"));
        assert_eq!(event.event_type(), Some(expected_type));
        assert!(!matches!(event.data, EventData::Unknown { .. }));
        assert_eq!(event.to_value(), value, "{expected_type} changed on re-serialization");
    }
}

#[test]
fn seed_envelope_round_trips_byte_for_byte_in_id_and_ts() {
    // The seed's envelope example, verbatim (its type is a placeholder).
    let raw = r#"{ "id": "398ea849-7c4b-45c4-bd2f-093df217266c", "ts": "2026-03-11T05:22:38.393477700Z", "type": "event_type", "data": {}}"#;
    let event = Event::from_json(raw.as_bytes()).unwrap();
    let out = event.to_json();
    assert!(out.contains(r#""id":"398ea849-7c4b-45c4-bd2f-093df217266c""#), "{out}");
    assert!(out.contains(r#""ts":"2026-03-11T05:22:38.393477700Z""#), "{out}");
    assert_eq!(event.ts_string(), SEED_TS);
    // An unknown type is kept as is.
    assert_eq!(event.type_name(), "event_type");
    let back: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(back, serde_json::from_str::<Value>(raw).unwrap());
}

#[test]
fn seed_values_arrive_typed() {
    let (_, value) = seed_examples().into_iter().nth(2).unwrap();
    let event = Event::from_value(value).unwrap();
    let EventData::LiveStart(d) = event.data else { panic!("not live_start") };
    assert_eq!(d.platform, "<PLATFORM>");
    assert_eq!(d.url, "https://live.example.com");
    assert_eq!(d.live_info.status, LiveStatus::Live);
    assert_eq!(d.live_info.categories, ["<PRIMARY CATEGORY>", "<SECONDARY CATEGORY>"]);
    assert_eq!(d.live_info.live_id.as_deref(), Some("<LIVE ID>"));
    let start = d.live_info.start_time.unwrap();
    assert_eq!(start.unix_timestamp(), 1_773_206_558);
    assert_eq!(d.session_id, None);

    let (_, value) = seed_examples().into_iter().nth(5).unwrap();
    let EventData::VideoFileFinish(f) = Event::from_value(value).unwrap().data else {
        panic!("not video_file_finish")
    };
    assert_eq!(f.filesize, 1_073_741_824);
    assert!((f.duration - 3600.0).abs() < f64::EPSILON);
}

#[test]
fn app_events_always_carry_an_object_data() {
    for data in [EventData::AppLaunch, EventData::AppExit] {
        let v = Event::new(data).to_value();
        assert_eq!(v["data"], json!({}));
        assert_eq!(v.as_object().unwrap().len(), 4);
    }
}

#[test]
fn offline_live_info_serializes_null_id_and_start_time() {
    let v = serde_json::to_value(onelive_events::LiveInfo::default()).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), 9, "all nine keys are present: {v}");
    assert_eq!(v["live_id"], Value::Null);
    assert_eq!(v["start_time"], Value::Null);
    assert_eq!(v["status"], "offline");
}
