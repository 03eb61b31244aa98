//! The JSON Schema in `docs/schema/onelive-event.schema.json` stays in sync
//! with the types: every event type has a definition, every key that the
//! crate writes is declared there with the right JSON type, and every key
//! the schema requires is written.

use onelive_events::EventType;
use serde_json::Value;

use crate::samples::sample;

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/schema/onelive-event.schema.json");
    let text = std::fs::read_to_string(path).expect("schema file is checked in");
    serde_json::from_str(&text).expect("schema is valid JSON")
}

fn resolve<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/$defs/").expect("local ref");
            &schema["$defs"][name]
        }
        None => node,
    }
}

fn type_matches(expected: &Value, value: &Value) -> bool {
    let one = |t: &str| match t {
        "string" => value.is_string(),
        "integer" => value.is_u64() || value.is_i64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        other => panic!("unknown schema type {other}"),
    };
    match expected {
        Value::String(t) => one(t),
        Value::Array(ts) => ts.iter().any(|t| one(t.as_str().unwrap())),
        other => panic!("bad type {other}"),
    }
}

/// A small validator for the subset of JSON Schema the file uses.
fn validate(schema: &Value, node: &Value, value: &Value, path: &str) {
    let node = resolve(schema, node);
    if let Some(t) = node.get("type") {
        assert!(type_matches(t, value), "{path}: {value} is not of type {t}");
    }
    if let Some(options) = node.get("enum").and_then(Value::as_array) {
        assert!(options.contains(value), "{path}: {value} not in {options:?}");
    }
    if let Some(max) = node.get("maxProperties").and_then(Value::as_u64) {
        assert!(value.as_object().unwrap().len() as u64 <= max, "{path}: too many keys");
    }
    if let Some(items) = node.get("items") {
        for (i, item) in value.as_array().unwrap().iter().enumerate() {
            validate(schema, items, item, &format!("{path}[{i}]"));
        }
    }
    if let Some(required) = node.get("required").and_then(Value::as_array) {
        for key in required {
            let key = key.as_str().unwrap();
            assert!(value.get(key).is_some(), "{path}: required key `{key}` is not written");
        }
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        let obj = value.as_object().unwrap();
        for (key, v) in obj {
            let declared = props.get(key);
            assert!(declared.is_some(), "{path}: key `{key}` is written but not in the schema");
            validate(schema, declared.unwrap(), v, &format!("{path}.{key}"));
        }
    }
}

#[test]
fn every_event_type_has_a_schema_definition_and_validates() {
    let schema = schema();
    let defs = schema["$defs"].as_object().unwrap();
    let conditional = schema["allOf"].as_array().unwrap();
    for t in EventType::ALL {
        let name = format!("data_{}", t.as_str());
        assert!(defs.contains_key(&name), "schema lacks $defs/{name}");
        assert!(
            conditional.iter().any(|c| c["if"]["properties"]["type"]["const"] == t.as_str()),
            "schema's allOf does not dispatch type {t}"
        );
        let event = sample(*t).to_value();
        validate(&schema, &schema, &event, "event");
        validate(&schema, &schema["$defs"][&name], &event["data"], "event.data");
    }
    // And the schema defines no type the crate does not know.
    for name in defs.keys().filter_map(|k| k.strip_prefix("data_")) {
        assert!(name.parse::<EventType>().is_ok(), "schema defines unknown type {name}");
    }
}

#[test]
fn the_validator_rejects_what_it_should() {
    // Guard against a validator that accepts everything.
    let schema = schema();
    let mut event = sample(EventType::VideoFileFinish).to_value();
    event["data"]["filesize"] = Value::String("1".into());
    let result = std::panic::catch_unwind(|| {
        validate(&schema, &schema["$defs"]["data_video_file_finish"], &event["data"], "data")
    });
    assert!(result.is_err(), "a string filesize must not validate");
    let mut event = sample(EventType::LiveStart).to_value();
    event["data"]["surprise"] = Value::Bool(true);
    let result = std::panic::catch_unwind(|| {
        validate(&schema, &schema["$defs"]["data_live_start"], &event["data"], "data")
    });
    assert!(result.is_err(), "an undeclared key must not validate");
}
