//! The `exec` and `forward` actions.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use onelive_sink::store::JobState;

use crate::common::*;

fn live_start(channel: &str) -> String {
    serde_json::json!({"id": new_id(), "ts": "2026-03-11T05:22:38Z", "type": "live_start",
        "data": {"platform": "bilibili", "channel": channel, "url": "https://live.example.com",
                 "live_info": {"title": "Say \"hi\"\n", "uname": "streamer"}}})
    .to_string()
}

#[tokio::test]
async fn exec_gets_the_event_on_stdin_and_onelive_variables() {
    let out = tempfile::tempdir().unwrap();
    let out_file = out.path().join("out.txt");
    let script = format!(
        "cat > '{0}.json'; printf '%s|%s|%s|%s|%s' \"$ONELIVE_TYPE\" \"$ONELIVE_PLATFORM\" \"$ONELIVE_CHANNEL\" \"$ONELIVE_FILE\" \"$ONELIVE_EVENT_ID\" > '{0}'",
        out_file.display()
    );
    let rules = format!(
        r#"
[[rules]]
name = "record-hook"
events = ["video_file_finish"]
platforms = ["bilibili"]
[[rules.actions]]
kind = "exec"
command = ["sh", "-c", {script:?}]
"#
    );
    let sink = TestSink::start(&config_with(&rules)).await;
    write_file(&sink.rec("x.ts"), 10);
    let id = new_id();
    let body = serde_json::json!({"id": id, "ts": "2026-03-11T05:22:38Z", "type": "video_file_finish",
        "data": {"platform": "bilibili", "channel": "21452505", "path": "/app/rec/x.ts", "filesize": 10, "duration": 1.5}})
    .to_string();
    let (status, _) = post(&sink.url(&format!("?key={KEY}")), &body).await;
    assert_eq!(status, 200);
    // Another platform does not match the rule.
    let other = body.replace("bilibili", "twitch").replace(&id, &new_id());
    let (status, json) = post(&sink.url(&format!("?key={KEY}")), &other).await;
    assert_eq!((status, json["status"].as_str()), (200, Some("ignored")));

    let jobs = sink.settled(Duration::from_secs(20)).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JobState::Done, "{jobs:#?}");
    let env = std::fs::read_to_string(&out_file).unwrap();
    let canonical = sink.rec("x.ts").canonicalize().unwrap();
    assert_eq!(env, format!("video_file_finish|bilibili|21452505|{}|{id}", canonical.display()));
    let stdin = std::fs::read_to_string(out_file.with_extension("txt.json")).unwrap();
    assert_eq!(stdin, body);
}

#[tokio::test]
async fn exec_failure_and_timeout_are_reported() {
    let rules = r#"
[[rules]]
name = "fails"
events = ["live_start"]
actions = [{ kind = "exec", command = ["sh", "-c", "echo broken pipe dream >&2; exit 3"] }]

[[rules]]
name = "hangs"
events = ["live_end"]
actions = [{ kind = "exec", command = ["sleep", "30"], timeout_secs = 0.3 }]

[[rules]]
name = "missing"
events = ["error"]
actions = [{ kind = "exec", command = ["/nonexistent/program"] }]
"#;
    let sink = TestSink::start(&config_with(rules)).await;
    let url = sink.url(&format!("?key={KEY}"));
    post(&url, &live_start("c")).await;
    post(&url, &live_start("c").replace("live_start", "live_end")).await;
    let err = serde_json::json!({"id": new_id(), "ts": "2026-03-11T05:22:38Z", "type": "error", "data": {"error": "x"}});
    post(&url, &err.to_string()).await;
    let jobs = sink.settled(Duration::from_secs(20)).await;
    let by_rule = |r: &str| jobs.iter().find(|j| j.rule == r).unwrap().clone();
    let fails = by_rule("fails");
    assert_eq!(fails.state, JobState::Failed);
    let reason = fails.last_error.unwrap();
    assert!(reason.contains("exit status: 3") && reason.contains("broken pipe dream"), "{reason}");
    let hangs = by_rule("hangs");
    assert_eq!(hangs.state, JobState::Failed);
    assert!(hangs.last_error.unwrap().contains("timed out"));
    let missing = by_rule("missing");
    assert!(missing.last_error.unwrap().contains("cannot start"));
}

type Seen = Arc<Mutex<Vec<(HeaderMap, String)>>>;

async fn receiver(fail_first: usize) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let count = Arc::new(Mutex::new(0usize));
    let app = axum::Router::new().route(
        "/bot/{token}/send",
        axum::routing::post({
            let seen = Arc::clone(&seen);
            move |headers: HeaderMap, body: String| async move {
                let mut n = count.lock().unwrap();
                *n += 1;
                if *n <= fail_first {
                    return axum::http::StatusCode::BAD_GATEWAY;
                }
                seen.lock().unwrap().push((headers, body));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/bot/123:SECRETTOKEN/send"), seen)
}

#[tokio::test]
async fn forward_posts_a_rendered_template_with_escaped_values() {
    let (url, seen) = receiver(1).await;
    let rules = format!(
        r#"
[[rules]]
name = "notify"
events = ["live_start"]
[[rules.actions]]
kind = "forward"
url = "{url}"
retry_delay_secs = 0.05
body_template = '{{"chat_id": 42, "text": "{{uname}} is live on {{platform}}: {{title}}", "event": {{event}}}}'
headers = {{ "x-token" = "abc" }}
"#
    );
    let sink = TestSink::start(&config_with(&rules)).await;
    let (status, _) = post(&sink.url(&format!("?key={KEY}")), &live_start("room \"1\"")).await;
    assert_eq!(status, 200);
    let jobs = sink.settled(Duration::from_secs(20)).await;
    assert_eq!(jobs[0].state, JobState::Done, "{jobs:#?}");
    assert_eq!(jobs[0].attempts, 2, "the first answer was 502");
    // The result names the host, never the token in the URL.
    let result = jobs[0].result.clone().unwrap();
    assert!(!result.contains("SECRETTOKEN"), "{result}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let (headers, body) = &seen[0];
    assert_eq!(headers["x-token"], "abc");
    assert_eq!(headers["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["text"], "streamer is live on bilibili: Say \"hi\"\n");
    assert_eq!(json["event"]["data"]["channel"], "room \"1\"");
}

#[tokio::test]
async fn forward_without_template_posts_the_event_and_failures_hide_the_token() {
    let (url, seen) = receiver(0).await;
    let rules = format!(
        r#"
[[rules]]
name = "raw"
events = ["live_start"]
actions = [{{ kind = "forward", url = "{url}" }}]

[[rules]]
name = "down"
events = ["live_start"]
actions = [{{ kind = "forward", url = "http://127.0.0.1:1/bot/123:SECRETTOKEN/x", attempts = 1 }}]
"#
    );
    let sink = TestSink::start(&config_with(&rules)).await;
    let body = live_start("c");
    post(&sink.url(&format!("?key={KEY}")), &body).await;
    let jobs = sink.settled(Duration::from_secs(20)).await;
    assert_eq!(jobs.len(), 2);
    assert_eq!(seen.lock().unwrap()[0].1, body);
    let down = jobs.iter().find(|j| j.rule == "down").unwrap();
    assert_eq!(down.state, JobState::Failed);
    let reason = down.last_error.clone().unwrap();
    assert!(reason.contains("127.0.0.1") && !reason.contains("SECRETTOKEN"), "{reason}");
}
