//! Property tests: any event round-trips through JSON.

use onelive_events::{
    ErrorData, Event, EventData, EventType, LiveData, LiveInfo, LiveInfoChangeData, LiveStatus,
    OffsetDateTime, TestData, Uuid, VideoFileCreateData, VideoFileFinishData,
    VideoTransmuxFinishData,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn any_time() -> impl Strategy<Value = OffsetDateTime> {
    // 1970..2100, any nanosecond, any UTC offset.
    (0i64..4_102_444_800, 0u32..1_000_000_000, -86_399i32..86_399).prop_map(|(s, n, off)| {
        let t = OffsetDateTime::from_unix_timestamp(s).unwrap().replace_nanosecond(n).unwrap();
        let offset = time::UtcOffset::from_whole_seconds(off / 60 * 60).unwrap();
        t.to_offset(offset)
    })
}

fn text() -> impl Strategy<Value = String> + Clone {
    // Unicode, quotes, control characters, emoji.
    "\\PC{0,12}|[\"\\\\\n\t/%{}]{0,4}|😀{0,3}"
}

fn live_info() -> impl Strategy<Value = LiveInfo> {
    (
        (text(), text(), text(), text(), text()),
        prop::collection::vec(text(), 0..3),
        any::<bool>(),
        prop::option::of(text()),
        prop::option::of(any_time()),
    )
        .prop_map(
            |((uid, uname, avatar, title, cover), categories, live, live_id, start_time)| {
                let mut built = LiveInfo::default();
                built.uid = uid;
                built.uname = uname;
                built.avatar = avatar;
                built.title = title;
                built.cover = cover;
                built.categories = categories;
                built.status = if live { LiveStatus::Live } else { LiveStatus::Offline };
                built.live_id = live_id;
                built.start_time = start_time;
                built
            },
        )
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn known_data() -> impl Strategy<Value = EventData> {
    let ids = || (text(), text(), prop::option::of(uuid()));
    prop_oneof![
        Just(EventData::AppLaunch),
        Just(EventData::AppExit),
        (ids(), text(), live_info(), any::<bool>()).prop_map(
            |((platform, channel, session_id), url, live_info, start)| {
                let d =
                    LiveData::new(platform, channel, url, live_info).with_session_id(session_id);
                if start { EventData::LiveStart(d) } else { EventData::LiveEnd(d) }
            }
        ),
        (ids(), text(), prop::option::of(live_info())).prop_map(
            |((platform, channel, session_id), path, live_info)| {
                EventData::VideoFileCreate(
                    VideoFileCreateData::new(platform, channel, path)
                        .with_session_id(session_id)
                        .with_live_info(live_info),
                )
            }
        ),
        (
            ids(),
            text(),
            any::<u64>(),
            0.0f64..1.0e7,
            any::<bool>(),
            prop::option::of(live_info()),
            prop::option::of(text())
        )
            .prop_map(
                |(
                    (platform, channel, session_id),
                    path,
                    filesize,
                    d,
                    whole,
                    live_info,
                    danmaku_path,
                )| {
                    let duration = if whole { d.floor() } else { d };
                    EventData::VideoFileFinish(
                        VideoFileFinishData::new(platform, channel, path, filesize, duration)
                            .with_session_id(session_id)
                            .with_live_info(live_info)
                            .with_danmaku_path(danmaku_path),
                    )
                }
            ),
        (ids(), text(), text(), prop::option::of(live_info())).prop_map(
            |((platform, channel, session_id), input, output, live_info)| {
                EventData::VideoTransmuxFinish(
                    VideoTransmuxFinishData::new(platform, channel, input, output)
                        .with_session_id(session_id)
                        .with_live_info(live_info),
                )
            }
        ),
        (ids(), live_info(), live_info(), any::<bool>()).prop_map(
            |((platform, channel, session_id), old_live_info, new_live_info, title)| {
                let d = LiveInfoChangeData::new(platform, channel, old_live_info, new_live_info)
                    .with_session_id(session_id);
                if title { EventData::TitleChange(d) } else { EventData::CategoryChange(d) }
            }
        ),
        (ids(), text()).prop_map(|((platform, channel, session_id), error)| {
            EventData::Error(ErrorData::new(platform, channel, error).with_session_id(session_id))
        }),
        text().prop_map(|message| EventData::Test(TestData::new(message))),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn unknown_type() -> impl Strategy<Value = String> {
    "[a-z_]{1,20}".prop_filter("must not be a known type", |s| s.parse::<EventType>().is_err())
}

proptest! {
    #[test]
    fn any_known_event_round_trips(id in uuid(), ts in any_time(), data in known_data()) {
        let event = Event { id, ts, data };
        let json = event.to_json();
        let back = Event::from_json(json.as_bytes()).unwrap();
        prop_assert_eq!(&back, &event);
        // And the wire form is stable.
        prop_assert_eq!(back.to_json(), json);
    }

    #[test]
    fn unknown_types_round_trip_unchanged(
        id in uuid(),
        ts in any_time(),
        event_type in unknown_type(),
        data in prop::collection::btree_map("[a-z_]{1,8}", json_value(), 0..5),
    ) {
        let data: Map<String, Value> = data.into_iter().collect();
        let input = serde_json::json!({
            "id": id.to_string(),
            "ts": Event { id, ts, data: EventData::AppLaunch }.ts_string(),
            "type": event_type,
            "data": data,
        });
        let event = Event::from_value(input.clone()).unwrap();
        match &event.data {
            EventData::Unknown { event_type: t, data: d } => {
                prop_assert_eq!(t, input["type"].as_str().unwrap());
                prop_assert_eq!(&Value::Object(d.clone()), &input["data"]);
            }
            other => prop_assert!(false, "parsed as known type {:?}", other),
        }
        prop_assert_eq!(event.to_value(), input);
    }

    #[test]
    fn event_type_names_parse_back(i in 0usize..EventType::ALL.len()) {
        let t = EventType::ALL[i];
        prop_assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
        prop_assert_eq!(t.to_string(), t.as_str());
    }
}

#[test]
fn unknown_keys_are_ignored() {
    let raw = r#"{"id":"398ea849-7c4b-45c4-bd2f-093df217266c","ts":"2026-03-11T05:22:38Z",
        "type":"error","extra":1,"data":{"platform":"p","channel":"c","error":"boom","new_key":[1]}}"#;
    let event = Event::from_json(raw.as_bytes()).unwrap();
    let EventData::Error(d) = event.data else { panic!("not an error event") };
    assert_eq!(d.error, "boom");
}

#[test]
fn new_events_get_time_ordered_v7_ids() {
    let a = Event::new(EventData::AppLaunch);
    let b = Event::new(EventData::AppExit);
    assert_eq!(a.id.get_version_num(), 7);
    assert!(b.id > a.id, "v7 ids sort by creation time");
    assert!(b.ts >= a.ts);
    // The wire form of ts always has nine fractional digits and a Z.
    let ts = a.ts_string();
    assert_eq!(ts.len(), "2026-03-11T05:22:38.393477700Z".len(), "{ts}");
    assert!(ts.ends_with('Z'));
}

#[test]
fn whole_durations_are_integers_fractional_are_floats() {
    let mk = |duration| {
        Event::new(EventData::VideoFileFinish(VideoFileFinishData::new(
            "p", "c", "a.ts", 10, duration,
        )))
        .to_value()
    };
    assert!(mk(3600.0)["data"]["duration"].is_u64());
    assert_eq!(mk(12.5)["data"]["duration"], serde_json::json!(12.5));
    assert!(mk(10.0)["data"]["filesize"].is_u64());
}
