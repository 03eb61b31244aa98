//! The HTTP API over a real loopback socket.

use std::time::Duration;

use onelive_engine::{ChannelConfig, Engine, EngineConfig, HumanDuration, Secret, api};
use serde_json::{Value, json};

use crate::fakes::{Fakes, wait_for};

struct Api {
    base: String,
    client: reqwest::Client,
    token: Option<String>,
}

impl Api {
    async fn start(engine: Engine, token: Option<&str>) -> Api {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let secret = token.map(Secret::new);
        tokio::spawn(api::serve(engine, listener, secret, std::future::pending()));
        Api { base, client: reqwest::Client::new(), token: token.map(str::to_owned) }
    }
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

/// The test process's Prometheus recorder, behind the API's `/metrics` (as
/// `oneliverec run` installs it).
fn install_metrics() {
    static ONCE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let handle =
            metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().unwrap();
        onelive_engine::metrics::set_exporter(move || handle.render());
    });
}

fn config(dir: &std::path::Path) -> EngineConfig {
    let mut c = EngineConfig::default();
    c.output.folder = dir.join("rec");
    c.state.dir = Some(dir.join("state"));
    c.watch.poll_interval = HumanDuration(Duration::from_millis(200));
    c.watch.jitter = 0.0;
    c.disk.min_free_mb = 0;
    c.channels = vec![ChannelConfig::new("https://fake.test/one")];
    c
}

#[tokio::test]
async fn channels_can_be_listed_added_toggled_recorded_and_removed_and_persist() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oneliverec.toml");
    let f = Fakes::new();
    let engine = Engine::start(config(dir.path()), Some(path.clone()), f.parts()).await.unwrap();
    let api = Api::start(engine.clone(), None).await;

    let (status, body) = api.call(Method::GET, "/healthz", None).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));

    let (status, body) = api.call(Method::GET, "/api/channels", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["channels"][0]["channel"], "one");
    assert_eq!(body["channels"][0]["live"], false);

    let (status, body) = api
        .call(
            Method::POST,
            "/api/channels",
            Some(json!({"url": "https://fake.test/two", "name": "Two"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(body["name"], "Two");
    let saved = EngineConfig::load(&path).unwrap();
    assert_eq!(saved.channels.len(), 2);

    let (status, body) = api
        .call(Method::POST, "/api/channels", Some(json!({"url": "https://fake.test/two"})))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("duplicate"), "{body}");
    let (status, body) = api
        .call(Method::POST, "/api/channels", Some(json!({"url": "https://nowhere.test/x"})))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = api.call(Method::POST, "/api/channels", Some(json!({"link": "x"}))).await;
    assert!(status == 400 || status == 422, "{status}");

    f.source.live("two", "title", "cat");
    wait_for("recording", Duration::from_secs(5), || engine.channel(&id).unwrap().view.recording)
        .await;
    let (_, body) = api.call(Method::GET, &format!("/api/channels/{id}"), None).await;
    assert_eq!(body["recording"], true);
    assert_eq!(body["bytes_written"], 10);
    assert!(body["current_file"].as_str().unwrap().ends_with(".ts"));

    let (status, body) =
        api.call(Method::POST, &format!("/api/channels/{id}/record/stop"), None).await;
    assert_eq!(status, 200, "{body}");
    wait_for("stopped", Duration::from_secs(5), || !engine.channel(&id).unwrap().view.recording)
        .await;
    let (status, _) =
        api.call(Method::POST, &format!("/api/channels/{id}/record/start"), None).await;
    assert_eq!(status, 200);
    wait_for("restarted", Duration::from_secs(5), || engine.channel(&id).unwrap().view.recording)
        .await;

    let (status, body) = api.call(Method::POST, &format!("/api/channels/{id}/disable"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["enabled"], false);
    assert!(!EngineConfig::load(&path).unwrap().channels[1].enabled);
    let (status, body) = api.call(Method::POST, &format!("/api/channels/{id}/enable"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["enabled"], true);

    install_metrics();
    // The channel was just re-enabled, so a recording may start while the
    // scrape renders: the exported value lies between the counter read
    // before and the one read after.
    let before = engine.counters().recordings_started.lock().unwrap()["fake"];
    let (status, body) = api.call(Method::GET, "/metrics", None).await;
    assert_eq!(status, 200);
    let text = body.as_str().unwrap();
    assert!(text.contains("onelive_channels{state=\"offline\"}"), "{text}");
    assert!(text.contains("onelive_events_total{type=\"live_start\"} 1"), "{text}");
    assert!(text.contains("onelive_recorded_bytes_total 20"), "{text}");
    assert!(text.contains("# TYPE onelive_polls_total counter"), "{text}");
    assert!(text.contains("onelive_polls_total{platform=\"fake\",result=\"live\"} "), "{text}");
    let after = engine.counters().recordings_started.lock().unwrap()["fake"];
    let prefix = "onelive_recordings_started_total{platform=\"fake\"} ";
    let exported: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {prefix}line in {text}"));
    assert!(before >= 2, "started, stopped and started again: {before}");
    assert!((before..=after).contains(&exported), "{exported} not in {before}..={after}: {text}");

    let (status, _) = api.call(Method::DELETE, &format!("/api/channels/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = api.call(Method::GET, &format!("/api/channels/{id}"), None).await;
    assert_eq!(status, 404);
    assert_eq!(EngineConfig::load(&path).unwrap().channels.len(), 1);
    engine.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn webhooks_can_be_managed_and_never_show_secrets() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oneliverec.toml");
    let f = Fakes::new();
    let engine = Engine::start(config(dir.path()), Some(path.clone()), f.parts()).await.unwrap();
    let api = Api::start(engine.clone(), None).await;
    let (status, body) = api
        .call(
            Method::POST,
            "/api/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/hook?key=abc", "events": ["live_start"], "secret": "whsec_dGVzdHRlc3R0ZXN0dGVzdA==", "headers": {"X-Key": "hv"}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let text = body.to_string();
    assert!(!text.contains("abc") && !text.contains("whsec") && !text.contains("hv"), "{text}");
    assert_eq!(body["signed"], true);
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(f.delivery.endpoints.lock().unwrap().len(), 1);
    assert_eq!(
        EngineConfig::load(&path).unwrap().webhooks[0].secret.as_ref().unwrap().expose(),
        "whsec_dGVzdHRlc3R0ZXN0dGVzdA=="
    );

    let (status, body) = api
        .call(
            Method::POST,
            "/api/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/", "events": ["nope"]})),
        )
        .await;
    assert!(status == 400 || status == 422, "{status} {body}");

    let (status, body) = api
        .call(
            Method::PUT,
            &format!("/api/webhooks/{id}"),
            Some(json!({"url": "http://127.0.0.1:10/new"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["url"], "http://127.0.0.1:10/new");
    assert_eq!(f.delivery.endpoints.lock().unwrap()[0].url, "http://127.0.0.1:10/new");

    let (status, body) = api.call(Method::POST, &format!("/api/webhooks/{id}/test"), None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.call(Method::GET, "/api/webhooks", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["webhooks"].as_array().unwrap().len(), 1);
    let (status, _) = api.call(Method::GET, &format!("/api/webhooks/{id}/deliveries"), None).await;
    assert_eq!(status, 200);
    let (status, _) = api.call(Method::POST, "/api/deliveries/999/redeliver", None).await;
    assert_eq!(status, 404);
    let (status, _) = api.call(Method::DELETE, &format!("/api/webhooks/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = api.call(Method::DELETE, &format!("/api/webhooks/{id}"), None).await;
    assert_eq!(status, 404);
    assert!(EngineConfig::load(&path).unwrap().webhooks.is_empty());
    engine.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_token_protects_everything_but_healthz() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let engine = Engine::start(config(dir.path()), None, f.parts()).await.unwrap();
    let mut api = Api::start(engine.clone(), Some("s3cret")).await;
    let (status, _) = api.call(Method::GET, "/api/channels", None).await;
    assert_eq!(status, 200);
    api.token = Some("wrong".into());
    let (status, body) = api.call(Method::GET, "/api/channels", None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = api.call(Method::GET, "/metrics", None).await;
    assert_eq!(status, 401);
    api.token = None;
    let (status, _) = api.call(Method::GET, "/api/webhooks", None).await;
    assert_eq!(status, 401);
    let (status, _) = api.call(Method::GET, "/healthz", None).await;
    assert_eq!(status, 200);
    // The scheme is case-insensitive (RFC 9110); the token is not.
    for (value, expected) in
        [("bearer s3cret", 200), ("BEARER  s3cret", 200), ("Bearer S3CRET", 401), ("s3cret", 401)]
    {
        let (status, _) =
            raw(&api, Method::GET, "/api/channels", &[("authorization", value)]).await;
        assert_eq!(status, expected, "Authorization: {value}");
    }
    engine.shutdown(Duration::from_secs(5)).await;
}

/// A loopback receiver that keeps every request's headers and body.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, axum::http::HeaderMap, Vec<u8>)>>>;

async fn receiver() -> (String, Seen) {
    let seen: Seen = Default::default();
    let keep = seen.clone();
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push((uri.path().to_owned(), headers, body.to_vec()));
                axum::http::StatusCode::NO_CONTENT
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, seen)
}

#[tokio::test]
async fn editing_a_webhook_keeps_its_secret_and_header_values_unless_told_otherwise() {
    use onelive_webhook::verify::{SignatureHeaders, Verifier, WebhookSecret};
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oneliverec.toml");
    let f = Fakes::new();
    let mut parts = f.parts();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    parts.delivery =
        std::sync::Arc::new(onelive_engine::wiring::WebhookDelivery::open(&state).await.unwrap());
    let engine = Engine::start(config(dir.path()), Some(path.clone()), parts).await.unwrap();
    let api = Api::start(engine.clone(), None).await;
    let (base, seen) = receiver().await;
    let secret = WebhookSecret::generate();
    let secret_text = secret.to_string();

    let (status, body) = api
        .call(
            Method::POST,
            "/api/webhooks",
            Some(json!({"url": format!("{base}/first"), "secret": secret_text, "headers": {"X-Key": "hv-1"}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();

    // Only the URL changes: the secret and the header value stay.
    let (status, body) = api
        .call(
            Method::PUT,
            &format!("/api/webhooks/{id}"),
            Some(json!({"url": format!("{base}/second")})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["signed"], true, "{body}");
    assert_eq!(body["headers"], json!(["X-Key"]));
    // The web UI's form: header names with empty values, no secret.
    let (status, body) = api
        .call(
            Method::PUT,
            &format!("/api/webhooks/{id}"),
            Some(
                json!({"url": format!("{base}/third"), "headers": {"X-Key": null, "X-Other": "o"}}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let saved = EngineConfig::load(&path).unwrap().webhooks[0].clone();
    assert_eq!(saved.secret.as_ref().unwrap().expose(), secret_text);
    assert_eq!(saved.headers["X-Key"].expose(), "hv-1");
    assert_eq!(saved.headers["X-Other"].expose(), "o");

    let (status, body) = api.call(Method::POST, &format!("/api/webhooks/{id}/test"), None).await;
    assert_eq!(status, 200, "{body}");
    {
        let seen = seen.lock().unwrap();
        let (path, headers, body) = seen.last().expect("the receiver got nothing");
        assert_eq!(path, "/third");
        assert_eq!(headers.get("x-key").unwrap(), "hv-1");
        assert_eq!(headers.get("x-other").unwrap(), "o");
        let get = |name: &'static str| headers.get(name).and_then(|v| v.to_str().ok());
        Verifier::new(vec![secret_text.parse::<WebhookSecret>().unwrap()])
            .verify(&SignatureHeaders::from_fn(get), body)
            .expect("signed with the stored secret after the edit");
    }

    // A header name without a value and nothing stored to keep: refused, nothing changes.
    let (status, body) = api
        .call(
            Method::PUT,
            &format!("/api/webhooks/{id}"),
            Some(json!({"url": format!("{base}/x"), "headers": {"X-New": ""}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("X-New"), "{body}");
    assert_eq!(EngineConfig::load(&path).unwrap().webhooks[0].url, format!("{base}/third"));

    // Explicit removal: `"secret": null` and `"headers": {}`.
    let (status, body) = api
        .call(
            Method::PUT,
            &format!("/api/webhooks/{id}"),
            Some(json!({"url": format!("{base}/fourth"), "secret": null, "headers": {}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["signed"], false, "{body}");
    let saved = EngineConfig::load(&path).unwrap().webhooks[0].clone();
    assert!(saved.secret.is_none() && saved.headers.is_empty(), "{saved:?}");
    let (status, body) = api.call(Method::POST, &format!("/api/webhooks/{id}/test"), None).await;
    assert_eq!(status, 200, "{body}");
    {
        let seen = seen.lock().unwrap();
        let (path, headers, _) = seen.last().unwrap();
        assert_eq!(path, "/fourth");
        assert!(headers.get("webhook-signature").is_none() && headers.get("x-key").is_none());
    }
    engine.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn recordings_list_files_with_transmux_state_and_survive_a_restart() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let engine = Engine::start(config(dir.path()), None, f.parts()).await.unwrap();
    let api = Api::start(engine.clone(), None).await;
    let (status, body) = api.call(Method::GET, "/api/recordings", None).await;
    assert_eq!((status, body), (200, json!({"recordings": []})));

    f.source.live("one", "first title", "cat");
    wait_for("recording", Duration::from_secs(5), || engine.active_recordings() == 1).await;
    let (_, body) = api.call(Method::GET, "/api/recordings", None).await;
    let r = &body["recordings"][0];
    assert_eq!(r["state"], "recording", "{body}");
    assert_eq!(r["transmux"], "none");
    assert!(r["size"].is_null() && r["duration"].is_null(), "{r}");
    let path = r["path"].as_str().unwrap().to_owned();
    let session = engine.channels()[0].view.session_id.unwrap().to_string();
    assert_eq!(r["session_id"], session.as_str());

    f.source.offline("one");
    wait_for("transmuxed", Duration::from_secs(5), || {
        f.delivery.types().iter().any(|t| t == "video_transmux_finish")
    })
    .await;
    let (_, body) = api.call(Method::GET, "/api/recordings", None).await;
    let list = body["recordings"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{body}");
    let r = &list[0];
    assert_eq!(r["path"], path.as_str());
    assert_eq!(r["state"], "finished");
    assert_eq!((r["size"].as_u64(), r["duration"].as_f64()), (Some(10), Some(1.5)));
    assert_eq!((r["platform"].as_str(), r["channel"].as_str()), (Some("fake"), Some("one")));
    assert_eq!(r["title"], "first title");
    assert_eq!(r["transmux"], "done");
    let output = r["transmux_output"].as_str().unwrap();
    assert_ne!(output, path);
    assert!(r["finished_at"].is_string() && r["started_at"].is_string(), "{r}");
    engine.shutdown(Duration::from_secs(5)).await;

    // A new engine on the same state folder still lists it; a second session is listed first.
    let f2 = Fakes::new();
    let engine = Engine::start(config(dir.path()), None, f2.parts()).await.unwrap();
    let api = Api::start(engine.clone(), None).await;
    let (_, body) = api.call(Method::GET, "/api/recordings", None).await;
    assert_eq!(body["recordings"][0]["path"], path.as_str(), "{body}");
    assert_eq!(body["recordings"][0]["transmux"], "done");
    f2.source.live("one", "second", "cat");
    wait_for("recording again", Duration::from_secs(5), || engine.active_recordings() == 1).await;
    let (_, body) = api.call(Method::GET, "/api/recordings?limit=1", None).await;
    let list = body["recordings"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{body}");
    assert_ne!(list[0]["path"], path.as_str());
    assert_eq!(list[0]["state"], "recording");
    engine.shutdown(Duration::from_secs(5)).await;
}

/// A request with the headers a browser (or an attacker's page) would send.
async fn raw(
    api: &Api,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = api.client.request(method, format!("{}{path}", api.base));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn cross_site_requests_and_foreign_host_names_are_refused() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let f = Fakes::new();
    let mut c = config(dir.path());
    c.api.allowed_hosts = vec!["rec.example.lan".into()];
    let engine =
        Engine::start(c, Some(dir.path().join("oneliverec.toml")), f.parts()).await.unwrap();
    let api = Api::start(engine.clone(), None).await;
    let id = engine.channels()[0].id.clone();
    let disable = format!("/api/channels/{id}/disable");
    let port = api.base.rsplit(':').next().unwrap().to_owned();

    // A form POST from another site (no preflight needed) must not change anything.
    let form = ("content-type", "application/x-www-form-urlencoded");
    let (status, body) =
        raw(&api, Method::POST, &disable, &[("origin", "http://evil.example"), form]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("cross-origin request refused"), "{body}");
    let (status, _) = raw(&api, Method::POST, &disable, &[("origin", "null"), form]).await;
    assert_eq!(status, 403);
    let (status, _) = raw(&api, Method::POST, &disable, &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(status, 403);
    // Same host, other port: another origin.
    let (status, _) =
        raw(&api, Method::POST, &disable, &[("origin", "http://127.0.0.1:1"), form]).await;
    assert_eq!(status, 403);
    assert!(engine.channel(&id).unwrap().enabled, "a refused request changed the channel");

    // DNS rebinding: a page on evil.example rebound to 127.0.0.1 reads nothing.
    let (status, body) = raw(&api, Method::GET, "/api/channels", &[("host", "evil.example")]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("is not allowed"), "{body}");
    let (status, _) =
        raw(&api, Method::GET, "/", &[("host", &format!("evil.example:{port}"))]).await;
    assert_eq!(status, 403);

    // Loopback names, IP addresses and configured names are served.
    let (status, _) =
        raw(&api, Method::GET, "/api/channels", &[("host", &format!("localhost:{port}"))]).await;
    assert_eq!(status, 200);
    let (status, _) = raw(&api, Method::GET, "/api/channels", &[("host", "rec.example.lan")]).await;
    assert_eq!(status, 200);
    // The web UI's own requests (same origin) and programs without Origin work.
    let own = format!("http://127.0.0.1:{port}");
    let (status, body) = raw(&api, Method::POST, &disable, &[("origin", &own)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], false);
    let (status, _) = raw(&api, Method::POST, &format!("/api/channels/{id}/enable"), &[]).await;
    assert_eq!(status, 200);
    let (status, _) = raw(
        &api,
        Method::POST,
        &disable,
        &[("host", "rec.example.lan"), ("origin", "https://rec.example.lan")],
    )
    .await;
    assert_eq!(status, 200);
    engine.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn saving_the_config_keeps_its_mode() {
    use reqwest::Method;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oneliverec.toml");
    let mut c = config(dir.path());
    c.api.token = Some(Secret::new("s3cret-token"));
    c.write_atomic(&path).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600, "a new config file holding secrets must be private");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();

    let f = Fakes::new();
    let engine = Engine::start(config(dir.path()), Some(path.clone()), f.parts()).await.unwrap();
    let api = Api::start(engine.clone(), None).await;
    let (status, body) = api
        .call(Method::POST, "/api/channels", Some(json!({"url": "https://fake.test/two"})))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(EngineConfig::load(&path).unwrap().channels.len(), 2);
    assert_eq!(mode(&path), 0o640, "the API's write-back changed the file's mode");
    engine.shutdown(Duration::from_secs(5)).await;
}
