//! Receiving: authentication, status codes, parsing, duplicates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use onelive_sink::config::SinkConfig;
use onelive_sink::store::JobState;
use onelive_sink::{Error, Sink, SinkOptions};
use onelive_webhook::verify::{WebhookSecret, sign};

use crate::common::*;

const SECRET_A: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRET_B: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

#[tokio::test]
async fn seed_exact_request_is_accepted_and_uploaded() {
    let pd = stand_in().await;
    let sink = TestSink::start(&config_with(&upload_rule(&pd.api_base(), ""))).await;
    let bytes = write_file(&sink.rec("stream_record_01.mp4"), 300_000);
    // The seed's URL form and its example payload (container path /app/rec).
    let body =
        transmux_event("398ea849-7c4b-45c4-bd2f-093df217266c", "/app/rec/stream_record_01.mp4");
    let (status, json) = post(&sink.url(&format!("?key={KEY}")), &body).await;
    assert_eq!((status, json), (200, serde_json::json!({"status": "success"})));
    let jobs = sink.settled(Duration::from_secs(20)).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JobState::Done, "{jobs:#?}");
    let uploads = pd.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].name, "stream_record_01.mp4");
    assert!(
        uploads[0].bytes.as_deref() == Some(bytes.as_slice()),
        "uploaded bytes differ from the file"
    );
    assert_eq!(
        jobs[0].result.as_deref(),
        Some(format!("https://pixeldrain.com/u/{}", uploads[0].id).as_str())
    );
    assert_eq!(pd.unauthorized(), 0);
}

#[tokio::test]
async fn seed_example_events_without_rules_are_ignored() {
    let pd = stand_in().await;
    let sink = TestSink::start(&config_with(&upload_rule(&pd.api_base(), ""))).await;
    let examples = [
        ("app_launch", serde_json::json!({})),
        ("app_exit", serde_json::json!({})),
        (
            "live_start",
            serde_json::json!({"platform": "<PLATFORM>", "channel": "<CHANNEL>", "url": "https://live.example.com", "live_info": {}}),
        ),
        (
            "live_end",
            serde_json::json!({"platform": "<PLATFORM>", "channel": "<CHANNEL>", "url": "https://live.example.com", "live_info": {}}),
        ),
        (
            "video_file_create",
            serde_json::json!({"platform": "<PLATFORM>", "channel": "<CHANNEL>", "path": "path/to/file.ts"}),
        ),
        (
            "video_file_finish",
            serde_json::json!({"platform": "<PLATFORM>", "channel": "<CHANNEL>", "path": "path/to/file.mp4", "filesize": 1073741824u64, "duration": 3600}),
        ),
        (
            "title_change",
            serde_json::json!({"platform": "<PLATFORM>", "channel": "<CHANNEL>", "old_live_info": {}, "new_live_info": {}}),
        ),
        (
            "category_change",
            serde_json::json!({"platform": "<PLATFORM>", "channel": "<CHANNEL>", "old_live_info": {}, "new_live_info": {}}),
        ),
        (
            "error",
            serde_json::json!({"platform": "<PLATFORM>", "channel": "<CHANNEL>", "error": "Something went wrong"}),
        ),
        ("some_future_type", serde_json::json!({"x": 1})),
    ];
    for (kind, data) in examples {
        let body = serde_json::json!({"id": new_id(), "ts": "2026-03-11T05:22:38.393477700Z", "type": kind, "data": data});
        let (status, json) = post(&sink.url(&format!("?key={KEY}")), &body.to_string()).await;
        assert_eq!((status, json), (200, serde_json::json!({"status": "ignored"})), "{kind}");
    }
    assert_eq!(sink.sink.store().event_count().unwrap(), 0);
    assert!(sink.jobs().is_empty());
}

#[tokio::test]
async fn wrong_or_missing_key_is_refused_and_creates_no_job() {
    let pd = stand_in().await;
    let sink = TestSink::start(&config_with(&upload_rule(&pd.api_base(), ""))).await;
    write_file(&sink.rec("a.mp4"), 10);
    let body = transmux_event(&new_id(), "/app/rec/a.mp4");
    let (status, json) = post(&sink.url(""), &body).await;
    assert_eq!(status, 401);
    assert_eq!(json["status"], "unauthorized");
    let (status, json) = post(&sink.url("?key=wrong"), &body).await;
    assert_eq!(status, 403);
    assert_eq!(json["status"], "forbidden");
    let (status, _) = post(&sink.url(&format!("?key={KEY}x")), &body).await;
    assert_eq!(status, 403);
    // A key that is a prefix of the right one is wrong too.
    let (status, _) = post(&sink.url("?key=my_super"), &body).await;
    assert_eq!(status, 403);
    assert!(sink.jobs().is_empty());
    assert_eq!(pd.requests(), 0);
}

#[tokio::test]
async fn rejections_have_their_status_codes_and_json_errors() {
    let pd = stand_in().await;
    let toml =
        format!("[server]\nbody_limit = 2048\n{}", config_with(&upload_rule(&pd.api_base(), "")));
    let sink = TestSink::start(&toml).await;
    let url = sink.url(&format!("?key={KEY}"));
    let event = transmux_event(&new_id(), "/app/rec/a.mp4");

    // 415: not JSON.
    let (status, json) = post_with(&url, &event, &[("content-type", "text/plain")]).await;
    assert_eq!(status, 415);
    assert!(json["error"].as_str().unwrap().contains("application/json"));
    let (status, _) = post_with(&url, &event, &[]).await;
    assert_eq!(status, 415);
    // charset parameters are fine.
    let (status, _) =
        post_with(&url, "{}", &[("content-type", "application/json; charset=utf-8")]).await;
    assert_eq!(status, 400);

    // 413: over the limit, declared or streamed without a length.
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(4096));
    let (status, json) = post(&url, &big).await;
    assert_eq!(status, 413);
    assert!(json["error"].as_str().unwrap().contains("2048"), "{json}");
    let chunks: Vec<Result<String, std::io::Error>> =
        vec![Ok(big[..2000].to_owned()), Ok(big[2000..].to_owned())];
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    // 400 with the parse error.
    let (status, json) = post(&url, "{not json").await;
    assert_eq!(status, 400);
    assert!(json["error"].as_str().unwrap().contains("malformed JSON"), "{json}");
    let missing_data =
        serde_json::json!({"id": new_id(), "ts": "2026-03-11T05:22:38Z", "type": "app_launch"});
    let (status, json) = post(&url, &missing_data.to_string()).await;
    assert_eq!(status, 400);
    assert!(json["error"].as_str().unwrap().contains("`data`"), "{json}");
    let bad_output = serde_json::json!({"id": new_id(), "ts": "2026-03-11T05:22:38Z", "type": "video_transmux_finish",
        "data": {"platform": "p", "channel": "c", "input": "a", "output": 5}});
    let (status, json) = post(&url, &bad_output.to_string()).await;
    assert_eq!(status, 400);
    assert!(json["error"].as_str().unwrap().contains("data.output"), "{json}");

    // Garbage never panics the server: each gets a 400 with a reason.
    let garbage: [&[u8]; 5] = [b"\xff\xfe\x00", b"[]", b"null", b"{\"id\":1e999}", &[b'['; 2000]];
    for body in garbage {
        let response = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let json: serde_json::Value = response.json().await.unwrap();
        assert!(!json["error"].as_str().unwrap().is_empty());
    }

    // 404 / 405 are JSON too.
    let response = reqwest::get(sink.url("")).await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["status"], "error");
    let response = reqwest::get(format!("http://{}/other", sink.addr)).await.unwrap();
    assert_eq!(response.status(), 404);

    assert!(sink.jobs().is_empty());
}

#[tokio::test]
async fn duplicate_event_id_runs_once() {
    let pd = stand_in().await;
    let sink = TestSink::start(&config_with(&upload_rule(&pd.api_base(), ""))).await;
    write_file(&sink.rec("a.mp4"), 1000);
    let body = transmux_event(&new_id(), "/app/rec/a.mp4");
    let url = sink.url(&format!("?key={KEY}"));
    let (status, json) = post(&url, &body).await;
    assert_eq!((status, json["status"].as_str()), (200, Some("success")));
    let (status, json) = post(&url, &body).await;
    assert_eq!((status, json["status"].as_str()), (200, Some("duplicate")));
    let jobs = sink.settled(Duration::from_secs(20)).await;
    assert_eq!(jobs.len(), 1);
    // And after it ran, still no second run.
    let (status, json) = post(&url, &body).await;
    assert_eq!((status, json["status"].as_str()), (200, Some("duplicate")));
    // A duplicate creates no job (decided before the answer), so no second upload can follow.
    assert_eq!(pd.uploads().len(), 1);
    assert_eq!(sink.jobs().len(), 1);
}

fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

fn signed_config(rules: &str) -> String {
    format!(
        r#"
[auth]
secrets = ["{SECRET_A}", "{SECRET_B}"]

[paths]
allowed_roots = ["rec"]
map = [{{ from = "/app/rec", to = "rec" }}]

{rules}
"#
    )
}

async fn post_signed(
    url: &str,
    id: &str,
    ts: i64,
    signature: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let ts = ts.to_string();
    post_with(
        url,
        body,
        &[
            ("content-type", "application/json"),
            ("webhook-id", id),
            ("webhook-timestamp", &ts),
            ("webhook-signature", signature),
        ],
    )
    .await
}

#[tokio::test]
async fn standard_webhooks_signatures_with_rotation() {
    let pd = stand_in().await;
    let sink = TestSink::start(&signed_config(&upload_rule(&pd.api_base(), ""))).await;
    write_file(&sink.rec("a.mp4"), 100);
    let a: WebhookSecret = SECRET_A.parse().unwrap();
    let b: WebhookSecret = SECRET_B.parse().unwrap();
    let other = WebhookSecret::generate();
    let url = sink.url("");
    // One clock reading per test: header and signature must carry the same second.
    let t = now();

    // Forged (signed with an unknown secret): 403, no job.
    let id = new_id();
    let body = transmux_event(&id, "/app/rec/a.mp4");
    let (status, json) =
        post_signed(&url, &id, t, &sign(&other, &id, t, body.as_bytes()), &body).await;
    assert_eq!(status, 403, "{json}");
    // Right secret, but the body was changed after signing.
    let sig = sign(&a, &id, t, body.as_bytes());
    let tampered = body.replace("<CHANNEL>", "<OTHER>");
    let (status, _) = post_signed(&url, &id, t, &sig, &tampered).await;
    assert_eq!(status, 403);
    // Stale timestamp (10 minutes ago), correctly signed: 403.
    let old = t - 600;
    let (status, json) =
        post_signed(&url, &id, old, &sign(&a, &id, old, body.as_bytes()), &body).await;
    assert_eq!(status, 403);
    assert!(json["error"].as_str().unwrap().contains("too old"), "{json}");
    // Missing headers: 401.
    let (status, _) = post(&url, &body).await;
    assert_eq!(status, 401);
    assert!(sink.jobs().is_empty());

    // Valid with the old and with the new secret (rotation); several signatures in one header.
    let (status, json) = post_signed(&url, &id, t, &sign(&a, &id, t, body.as_bytes()), &body).await;
    assert_eq!((status, json["status"].as_str()), (200, Some("success")));
    let id2 = new_id();
    let body2 = transmux_event(&id2, "/app/rec/a.mp4");
    let both = format!(
        "{} {}",
        sign(&other, &id2, t, body2.as_bytes()),
        sign(&b, &id2, t, body2.as_bytes())
    );
    let (status, json) = post_signed(&url, &id2, t, &both, &body2).await;
    assert_eq!((status, json["status"].as_str()), (200, Some("success")));
    assert_eq!(sink.settled(Duration::from_secs(20)).await.len(), 2);
}

#[tokio::test]
async fn key_and_signature_together_both_required() {
    let pd = stand_in().await;
    let toml = signed_config(&upload_rule(&pd.api_base(), ""))
        .replace("[auth]\n", &format!("[auth]\nkeys = [\"{KEY}\"]\n"));
    let sink = TestSink::start(&toml).await;
    write_file(&sink.rec("a.mp4"), 100);
    let a: WebhookSecret = SECRET_A.parse().unwrap();
    let id = new_id();
    let body = transmux_event(&id, "/app/rec/a.mp4");
    let t = now();
    let sig = sign(&a, &id, t, body.as_bytes());
    let (status, _) = post_signed(&sink.url(""), &id, t, &sig, &body).await;
    assert_eq!(status, 401, "signature alone is not enough when keys are configured");
    let (status, _) = post(&sink.url(&format!("?key={KEY}")), &body).await;
    assert_eq!(status, 401, "key alone is not enough when secrets are configured");
    let (status, _) = post_signed(&sink.url(&format!("?key={KEY}")), &id, t, &sig, &body).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn ip_allowlist_and_trusted_proxies() {
    let rules = r#"
[[rules]]
name = "notify"
events = ["live_start"]
actions = [{ kind = "exec", command = ["true"] }]
"#;
    let live =
        serde_json::json!({"id": new_id(), "ts": "2026-03-11T05:22:38Z", "type": "live_start",
        "data": {"platform": "p", "channel": "c"}})
        .to_string();

    let sink = TestSink::start(&format!("[auth]\nallow_ips = [\"10.0.0.0/8\"]\n{rules}")).await;
    let (status, json) = post(&sink.url(""), &live).await;
    assert_eq!(status, 403);
    assert!(json["error"].as_str().unwrap().contains("127.0.0.1"), "{json}");
    // X-Forwarded-For from an untrusted peer is ignored.
    let (status, _) = post_with(
        &sink.url(""),
        &live,
        &[("content-type", "application/json"), ("x-forwarded-for", "10.1.2.3")],
    )
    .await;
    assert_eq!(status, 403);
    drop(sink);

    let toml = format!(
        "[auth]\nallow_ips = [\"10.0.0.0/8\"]\ntrusted_proxies = [\"127.0.0.1/32\"]\n{rules}"
    );
    let sink = TestSink::start(&toml).await;
    let (status, _) = post_with(
        &sink.url(""),
        &live,
        &[("content-type", "application/json"), ("x-forwarded-for", "10.1.2.3")],
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = post_with(
        &sink.url(""),
        &live,
        &[("content-type", "application/json"), ("x-forwarded-for", "192.168.1.1")],
    )
    .await;
    assert_eq!(status, 403);

    let sink = TestSink::start(&format!("[auth]\nallow_ips = [\"127.0.0.0/8\"]\n{rules}")).await;
    let (status, json) = post(&sink.url(""), &live).await;
    assert_eq!((status, json["status"].as_str()), (200, Some("success")));
}

#[tokio::test]
async fn starting_without_auth_needs_an_explicit_opt_out() {
    let dir = tempfile::tempdir().unwrap();
    let config = SinkConfig::from_toml_str("").unwrap();
    let options = SinkOptions { base_dir: Some(dir.path().to_owned()), ..Default::default() };
    let err = Sink::new(config.clone(), options.clone()).unwrap_err();
    assert!(matches!(err, Error::NoAuth));
    assert!(err.to_string().contains("--insecure-no-auth"));
    let sink = Sink::new(config, SinkOptions { insecure_no_auth: true, ..options });
    assert!(sink.is_ok());
}
