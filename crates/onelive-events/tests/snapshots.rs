//! Snapshot of one serialized event of each type: any change of the wire
//! format shows up as a snapshot diff.

use onelive_events::EventType;

use crate::samples::sample;

#[test]
fn wire_format_of_every_event_type() {
    for t in EventType::ALL {
        let json = sample(*t).to_json();
        // Pretty-print for a readable snapshot, but snapshot the exact key
        // order of the compact wire form too.
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let mut settings = insta::Settings::clone_current();
        // An absolute path: independent of how insta finds the workspace.
        settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"));
        settings.bind(|| {
            insta::assert_snapshot!(
                t.as_str(),
                format!("{json}\n\n{}", serde_json::to_string_pretty(&value).unwrap())
            );
        });
    }
}
