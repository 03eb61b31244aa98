//! `GET /healthz`: no authentication, says whether the job store is usable.

use crate::common::*;

async fn health(sink: &TestSink) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("http://{}/healthz", sink.addr)).await.unwrap();
    let status = response.status().as_u16();
    let kind = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(kind, "application/json");
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn healthz_answers_without_a_key_and_tells_when_the_store_is_unusable() {
    let sink = TestSink::start(&config_with(
        r#"
[[rules]]
name = "upload"
events = ["video_transmux_finish"]
actions = [{ kind = "exec", command = ["true"] }]
"#,
    ))
    .await;
    let (status, body) = health(&sink).await;
    assert_eq!((status, body), (200, serde_json::json!({"status": "ok", "store": "ok"})));
    // The webhook itself still wants its key.
    let (status, _) = post(&sink.url(""), &transmux_event(&new_id(), "/app/rec/a.mp4")).await;
    assert_eq!(status, 401);
    // Someone breaks the database under the running sink.
    let db = rusqlite::Connection::open(sink.sink.store().path()).unwrap();
    db.execute_batch("ALTER TABLE jobs RENAME TO jobs_gone").unwrap();
    let (status, body) = health(&sink).await;
    assert_eq!(
        (status, body),
        (503, serde_json::json!({"status": "error", "store": "unavailable"}))
    );
}

#[test]
fn the_webhook_cannot_take_the_health_route() {
    let e = onelive_sink::config::SinkConfig::from_toml_str(&format!(
        "[server]\npath = \"/healthz\"\n{}",
        config_with("")
    ))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid config: server.path must not be /healthz (the health route)"
    );
}
