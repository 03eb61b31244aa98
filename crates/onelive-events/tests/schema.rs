//! The JSON Schema in `docs/schema/onelive-event.schema.json` stays in sync
//! with the types: every event the crate writes validates against it (with
//! the `jsonschema` crate, draft 2020-12), every event type has a definition,
//! and every key the crate writes is declared there.
//!
//! The schema allows undeclared keys on purpose (receivers must accept
//! additive keys of newer versions), so a validator cannot see a key the
//! crate writes but the schema forgot; `undeclared_keys` walks for those.

use onelive_events::EventType;
use serde_json::Value;

use crate::samples::sample;

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/schema/onelive-event.schema.json");
    let text = std::fs::read_to_string(path).expect("schema file is checked in");
    serde_json::from_str(&text).expect("schema is valid JSON")
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft202012::new(schema).expect("the schema compiles as draft 2020-12")
}

/// Every validation error, one per line (empty when valid).
fn errors(validator: &jsonschema::Validator, value: &Value) -> String {
    validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn resolve<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => &schema["$defs"][r.strip_prefix("#/$defs/").expect("local ref")],
        None => node,
    }
}

/// Keys of `value` (recursively, through `properties` and `items`) that the
/// schema node does not declare.
fn undeclared_keys(schema: &Value, node: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let node = resolve(schema, node);
    if let (Some(items), Some(array)) = (node.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            undeclared_keys(schema, items, item, &format!("{path}[{i}]"), out);
        }
    }
    if let (Some(props), Some(obj)) =
        (node.get("properties").and_then(Value::as_object), value.as_object())
    {
        for (key, v) in obj {
            match props.get(key) {
                Some(declared) => {
                    undeclared_keys(schema, declared, v, &format!("{path}.{key}"), out)
                }
                None => out.push(format!("{path}.{key}")),
            }
        }
    }
}

#[test]
fn every_event_type_has_a_schema_definition_and_validates() {
    let schema = schema();
    let validator = validator(&schema);
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
        assert_eq!(errors(&validator, &event), "", "sample {t} does not validate");
        let mut undeclared = Vec::new();
        undeclared_keys(&schema, &schema, &event, "event", &mut undeclared);
        undeclared_keys(
            &schema,
            &schema["$defs"][&name],
            &event["data"],
            "event.data",
            &mut undeclared,
        );
        assert!(undeclared.is_empty(), "{t}: keys written but not in the schema: {undeclared:?}");
    }
    // And the schema defines no type the crate does not know.
    for name in defs.keys().filter_map(|k| k.strip_prefix("data_")) {
        assert!(name.parse::<EventType>().is_ok(), "schema defines unknown type {name}");
    }
}

#[test]
fn the_schema_rejects_what_it_should() {
    // Guards against a schema (or a validator set-up) that accepts everything.
    let schema = schema();
    let validator = validator(&schema);

    let mut event = sample(EventType::VideoFileFinish).to_value();
    event["data"]["filesize"] = Value::String("1".into());
    let found = errors(&validator, &event);
    assert!(found.contains("/data/filesize"), "a string filesize must not validate: {found:?}");

    let mut event = sample(EventType::LiveStart).to_value();
    event["data"].as_object_mut().unwrap().remove("platform");
    assert!(!validator.is_valid(&event), "live_start without platform must not validate");

    let mut event = sample(EventType::LiveStart).to_value();
    event["ts"] = Value::from(12);
    assert!(!validator.is_valid(&event), "a numeric ts must not validate");

    let mut event = sample(EventType::LiveStart).to_value();
    event["data"]["surprise"] = Value::Bool(true);
    assert!(validator.is_valid(&event), "additive keys stay valid for receivers");
    let mut undeclared = Vec::new();
    undeclared_keys(
        &schema,
        &schema["$defs"]["data_live_start"],
        &event["data"],
        "data",
        &mut undeclared,
    );
    assert_eq!(undeclared, ["data.surprise"], "the walk must see a key the schema lacks");
}
