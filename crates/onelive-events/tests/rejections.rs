//! Malformed input gives an error that names the field and the reason.

use onelive_events::{Error, Event};

fn parse(s: &str) -> Error {
    Event::from_json(s.as_bytes()).expect_err("must be rejected")
}

const ID: &str = "398ea849-7c4b-45c4-bd2f-093df217266c";
const TS: &str = "2026-03-11T05:22:38.393477700Z";

#[test]
fn not_json() {
    let e = parse("{not json");
    assert!(matches!(e, Error::Json(_)), "{e:?}");
    let e = parse("[1,2]");
    assert_eq!(e.to_string(), "malformed JSON: expected a JSON object, found an array");
}

#[test]
fn bad_uuid() {
    let e = parse(&format!(r#"{{"id":"nope","ts":"{TS}","type":"app_launch","data":{{}}}}"#));
    match &e {
        Error::InvalidField { field, reason } => {
            assert_eq!(field, "id");
            assert!(reason.contains("not a UUID"), "{reason}");
            assert!(reason.contains("nope"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_timestamp() {
    for ts in ["yesterday", "2026-03-11 05:22:38", "2026-13-11T05:22:38Z"] {
        let e = parse(&format!(r#"{{"id":"{ID}","ts":"{ts}","type":"app_launch","data":{{}}}}"#));
        match &e {
            Error::InvalidField { field, reason } => {
                assert_eq!(field, "ts");
                assert!(reason.contains("RFC 3339"), "{reason}");
            }
            other => panic!("{ts}: {other:?}"),
        }
    }
}

#[test]
fn missing_envelope_fields() {
    let e = parse(&format!(r#"{{"id":"{ID}","type":"app_launch","data":{{}}}}"#));
    assert_eq!(e, Error::MissingField("ts".into()));
    let e = parse(&format!(r#"{{"id":"{ID}","ts":"{TS}","type":"app_launch"}}"#));
    assert_eq!(e, Error::MissingField("data".into()));
    let e = parse(&format!(r#"{{"ts":"{TS}","type":"app_launch","data":{{}}}}"#));
    assert_eq!(e.to_string(), "missing field `id`");
}

#[test]
fn data_not_an_object() {
    for (data, found) in
        [("null", "null"), ("[]", "an array"), ("\"x\"", "a string"), ("1", "a number")]
    {
        let e = parse(&format!(r#"{{"id":"{ID}","ts":"{TS}","type":"app_exit","data":{data}}}"#));
        assert_eq!(
            e,
            Error::InvalidField {
                field: "data".into(),
                reason: format!("expected a JSON object, found {found}")
            }
        );
    }
}

#[test]
fn wrong_field_types_name_the_field() {
    let e = parse(&format!(
        r#"{{"id":"{ID}","ts":"{TS}","type":"video_file_finish","data":{{"platform":"p","channel":"c","path":"a.ts","filesize":"big","duration":1}}}}"#
    ));
    match &e {
        Error::InvalidField { field, reason } => {
            assert_eq!(field, "data.filesize");
            assert!(reason.contains("invalid type"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Negative sizes are not sizes.
    let e = parse(&format!(
        r#"{{"id":"{ID}","ts":"{TS}","type":"video_file_finish","data":{{"platform":"p","channel":"c","path":"a.ts","filesize":-1,"duration":1}}}}"#
    ));
    assert!(matches!(&e, Error::InvalidField { field, .. } if field == "data.filesize"), "{e:?}");
    // Nested: live_info.status must be live or offline.
    let e = parse(&format!(
        r#"{{"id":"{ID}","ts":"{TS}","type":"live_start","data":{{"platform":"p","channel":"c","url":"u","live_info":{{"status":"paused"}}}}}}"#
    ));
    match &e {
        Error::InvalidField { field, reason } => {
            assert_eq!(field, "data.live_info.status");
            assert!(reason.contains("paused"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // A type that is not a string.
    let e = parse(&format!(r#"{{"id":"{ID}","ts":"{TS}","type":7,"data":{{}}}}"#));
    assert!(matches!(&e, Error::InvalidField { field, .. } if field == "type"), "{e:?}");
}

#[test]
fn missing_channel_fields_are_named() {
    let e = parse(&format!(
        r#"{{"id":"{ID}","ts":"{TS}","type":"video_transmux_finish","data":{{"platform":"p","channel":"c","input":"a.ts"}}}}"#
    ));
    assert_eq!(e, Error::MissingField("data.output".into()));
    let e = parse(&format!(
        r#"{{"id":"{ID}","ts":"{TS}","type":"live_end","data":{{"channel":"c"}}}}"#
    ));
    assert_eq!(e, Error::MissingField("data.platform".into()));
}

#[test]
fn unknown_event_type_name() {
    let e = "video_exploded".parse::<onelive_events::EventType>().unwrap_err();
    assert_eq!(e.to_string(), "unknown event type `video_exploded`");
}
