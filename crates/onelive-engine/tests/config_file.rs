//! The config file as the API writes it back: comments, order and layout
//! stay; secrets read from the environment stay `{ env = "NAME" }`.

use std::time::Duration;

use onelive_engine::{Engine, EngineConfig, api};
use serde_json::{Value, json};

use crate::fakes::Fakes;

/// A hand-written file: comments everywhere, keys in the user's order,
/// an inline array, odd spacing. `PATH` stands for a secret variable (it
/// is set in every test process).
const COMMENTED: &str = r#"# My recorder.   Hand-written; keep my notes!

[output]
folder = "REC"            # where files go
filename_template = "{platform}/{name}/{date}_{title}"
time_zone = "Asia/Shanghai"

[api]
# the token comes from the environment
token = { env = "PATH" }

[watch]
poll_interval = "1s"   # fast, for the test
jitter = 0.0
min_interval = { fake = "200ms" }

# ---- channels ----

# Alice streams at night.
[[channels]]
url = "https://fake.test/alice"
name = "Alice"     # display name

[[channels]]
  url = "https://fake.test/bob"   # indented on purpose
  quality = ["best", "1080p"]

# ---- webhooks ----
[[webhooks]]
id = "home"
url = "http://127.0.0.1:9/hook"  # the NAS
events = ["live_start", "video_transmux_finish"]
"#;

async fn call(
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req =
        reqwest::Client::new().request(method, format!("{base}{path}")).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_commented_config_survives_api_adds_and_removes_byte_for_byte_apart_from_the_change() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oneliverec.toml");
    let text = COMMENTED
        .replace("\"REC\"", &format!("{:?}", dir.path().join("rec")))
        .replace("[api]\n", &format!("[state]\ndir = {:?}\n\n[api]\n", dir.path().join("state")));
    std::fs::write(&path, &text).unwrap();
    let config = EngineConfig::load(&path).unwrap();
    let token = std::env::var("PATH").unwrap();
    assert_eq!(config.api.token.as_ref().unwrap().expose(), token, "{{ env = \"PATH\" }} is read");

    let f = Fakes::new();
    let engine = Engine::start(config, Some(path.clone()), f.parts()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(api::serve(
        engine.clone(),
        listener,
        engine.config().api.token.clone(),
        std::future::pending(),
    ));
    let read = || std::fs::read_to_string(&path).unwrap();

    // Add a channel: the file is the old text with one entry appended.
    let (status, body) = call(
        &base,
        &token,
        Method::POST,
        "/api/channels",
        Some(json!({"url": "https://fake.test/carol", "name": "Carol"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let carol = body["id"].as_str().unwrap().to_owned();
    let after_add = read();
    // The new entry follows the last channel, before the webhooks' comment.
    let webhooks_at = text.find("\n# ---- webhooks ----").unwrap();
    let carol_block = "\n[[channels]]\nurl = \"https://fake.test/carol\"\nname = \"Carol\"\n";
    assert_eq!(
        after_add,
        format!("{}{carol_block}{}", &text[..webhooks_at], &text[webhooks_at..]),
        "{after_add}"
    );
    assert!(!after_add.contains(&token), "the token's value reached the file:\n{after_add}");
    assert!(after_add.contains("token = { env = \"PATH\" }"), "{after_add}");
    assert_eq!(EngineConfig::load(&path).unwrap().channels.len(), 3);

    // Remove it again: the file is exactly what the user wrote.
    let (status, body) =
        call(&base, &token, Method::DELETE, &format!("/api/channels/{carol}"), None).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(read(), text);

    // Remove a channel the user wrote: only its lines go.
    let bob = onelive_engine::channel_id("https://fake.test/bob");
    let (status, body) =
        call(&base, &token, Method::DELETE, &format!("/api/channels/{bob}"), None).await;
    assert_eq!(status, 204, "{body}");
    let bob_block = "[[channels]]\n  url = \"https://fake.test/bob\"   # indented on purpose\n  quality = [\"best\", \"1080p\"]\n\n";
    assert!(text.contains(bob_block));
    assert_eq!(read(), text.replace(bob_block, ""));

    // A webhook added and removed through the API leaves the file as it was.
    let before = read();
    let (status, body) = call(
        &base,
        &token,
        Method::POST,
        "/api/webhooks",
        Some(
            json!({"url": "http://127.0.0.1:9/other", "secret": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let with_hook = read();
    assert!(with_hook.starts_with(&before), "{with_hook}");
    assert!(with_hook.contains("url = \"http://127.0.0.1:9/other\""), "{with_hook}");
    let (status, body) =
        call(&base, &token, Method::DELETE, &format!("/api/webhooks/{id}"), None).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(read(), before);

    // Through the API no one may name a variable of the recorder's
    // environment (its value would be sent to their URL).
    for body in [
        json!({"url": "http://127.0.0.1:9/x", "headers": {"X-Leak": {"env": "PATH"}}}),
        json!({"url": "http://127.0.0.1:9/x", "secret": {"env": "PATH"}}),
    ] {
        let (status, answer) = call(&base, &token, Method::POST, "/api/webhooks", Some(body)).await;
        assert!(status == 400 || status == 422, "{status} {answer}");
        assert!(answer.to_string().contains("only in the config file"), "{answer}");
    }
    assert_eq!(read(), before, "a refused request changed the file");

    // Disabling a channel changes that entry's `enabled` and nothing else.
    let alice = onelive_engine::channel_id("https://fake.test/alice");
    let (status, body) =
        call(&base, &token, Method::POST, &format!("/api/channels/{alice}/disable"), None).await;
    assert_eq!(status, 200, "{body}");
    let disabled = read();
    assert_eq!(
        disabled.replace("enabled = false\n", ""),
        before,
        "only `enabled = false` was added:\n{disabled}"
    );
    assert!(!EngineConfig::load(&path).unwrap().channels[0].enabled);
    engine.shutdown(Duration::from_secs(5)).await;
}

#[test]
fn a_secret_from_the_environment_is_written_back_as_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oneliverec.toml");
    std::fs::write(&path, "[api]\ntoken = { env = \"PATH\" }\n").unwrap();
    let mut config = EngineConfig::load(&path).unwrap();
    let token = config.api.token.clone().unwrap();
    assert_eq!(token.env_name(), Some("PATH"));
    assert_eq!(format!("{token:?}"), "<redacted: $PATH>");
    // A fresh file (no text to edit) also names the variable only.
    let fresh = dir.path().join("fresh.toml");
    config.write_atomic(&fresh).unwrap();
    let written = std::fs::read_to_string(&fresh).unwrap();
    assert!(written.contains("env = \"PATH\""), "{written}");
    assert!(!written.contains(token.expose()), "{written}");
    // And the written file reads back the same.
    config.channels.clear();
    assert_eq!(EngineConfig::load(&fresh).unwrap(), config);
}

#[test]
fn missing_environment_variables_are_named_never_their_values() {
    let var = "ONELIVE_TEST_SURELY_UNSET_4711";
    assert!(std::env::var_os(var).is_none());
    let cases = [
        (format!("[api]\ntoken = {{ env = \"{var}\" }}\n"), "api.token"),
        (
            format!(
                "[[webhooks]]\nurl = \"http://127.0.0.1:9/\"\nsecret = {{ env = \"{var}\" }}\n"
            ),
            "webhooks[0].secret",
        ),
        (
            format!(
                "[[webhooks]]\nurl = \"http://127.0.0.1:9/\"\nsecret = \"whsec_c2VjcmV0c2VjcmV0c2VjcmV0\"\nsecrets = [{{ env = \"{var}\" }}]\n"
            ),
            "webhooks[0].secrets[0]",
        ),
        (
            format!(
                "[[webhooks]]\nurl = \"http://127.0.0.1:9/\"\n[webhooks.headers]\nAuthorization = {{ env = \"{var}\" }}\n"
            ),
            "webhooks[0].headers.Authorization",
        ),
        (
            format!("[platforms.bilibili]\n\ncookies = {{ env = \"{var}\" }}\n"),
            "platforms.bilibili.cookies",
        ),
    ];
    for (text, key) in cases {
        let e = EngineConfig::parse(&text, "a.toml".as_ref()).unwrap_err().to_string();
        assert!(e.contains(&format!("`{key}`")), "{text}: {e}");
        assert!(e.contains(&format!("environment variable {var} is not set")), "{text}: {e}");
    }
    let e = EngineConfig::parse(
        &format!("[platforms.bilibili]\n\ncookies = {{ env = \"{var}\" }}\n"),
        "a.toml".as_ref(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("line 3"), "{e}");
    // A variable that is set: its value is used, and never shown.
    let e = EngineConfig::parse("[api]\ntoken = { env = 5 }\n", "a.toml".as_ref())
        .unwrap_err()
        .to_string();
    assert!(e.contains("`api.token`") && e.contains("{ env = \"VARIABLE\" }"), "{e}");
    let config = EngineConfig::parse(
        "[platforms.bilibili]\ncookies = { env = \"PATH\" }\n",
        "a.toml".as_ref(),
    )
    .unwrap();
    assert_eq!(config.platforms.site("bilibili").cookies, std::env::var("PATH").ok());
    assert!(!format!("{config:?}").contains(&std::env::var("PATH").unwrap()));
}

#[test]
fn several_webhook_secrets_sign_each_request_with_all() {
    let a = "whsec_c2VjcmV0c2VjcmV0c2VjcmV0";
    let b = "whsec_b2xkb2xkb2xkb2xkb2xkb2xk";
    let config = EngineConfig::parse(
        &format!(
            "[[webhooks]]\nurl = \"http://127.0.0.1:9/\"\nsecret = \"{a}\"\nsecrets = [\"{b}\"]\n"
        ),
        "a.toml".as_ref(),
    )
    .unwrap();
    let endpoint = onelive_engine::wiring::endpoint_of(&config.webhooks[0]).unwrap();
    assert_eq!(endpoint.secrets.len(), 2);
    let header =
        onelive_webhook::verify::sign_all(&endpoint.secrets, "msg_1", 1_700_000_000, b"{}");
    for one in [a, b] {
        let secret: onelive_webhook::verify::WebhookSecret = one.parse().unwrap();
        let alone = onelive_webhook::verify::sign(&secret, "msg_1", 1_700_000_000, b"{}");
        assert!(header.split(' ').any(|s| s == alone), "{one} did not sign: {header}");
    }
    let e = EngineConfig::parse(
        &format!("[[webhooks]]\nurl = \"http://127.0.0.1:9/\"\nsecrets = [\"{b}\"]\n"),
        "a.toml".as_ref(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("`webhooks[0].secrets`") && e.contains("need `secret`"), "{e}");
}

#[test]
fn the_time_zone_is_checked_at_load() {
    let e = EngineConfig::parse("[output]\ntime_zone = \"Asia/Shangai\"\n", "a.toml".as_ref())
        .unwrap_err()
        .to_string();
    assert!(e.contains("`output.time_zone`") && e.contains("Asia/Shanghai"), "{e}");
    assert_eq!(EngineConfig::default().output.time_zone, "local");
    let c = EngineConfig::parse("[output]\ntime_zone = \"UTC\"\n", "a.toml".as_ref()).unwrap();
    assert_eq!(c.output.zone().unwrap(), jiff::tz::TimeZone::UTC);
}

#[test]
fn a_file_without_channels_gets_one_then_loses_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oneliverec.toml");
    let text = "# mine\n[watch]\npoll_interval = \"1s\"\n\n[api]\nlisten = \"127.0.0.1:9\"\n";
    std::fs::write(&path, text).unwrap();
    let mut c = EngineConfig::load(&path).unwrap();
    c.channels.push(onelive_engine::ChannelConfig::new("https://fake.test/a"));
    c.write_atomic(&path).unwrap();
    let added = std::fs::read_to_string(&path).unwrap();
    assert_eq!(added, format!("{text}\n[[channels]]\nurl = \"https://fake.test/a\"\n"));
    c.channels[0].enabled = false;
    c.write_atomic(&path).unwrap();
    assert!(!EngineConfig::load(&path).unwrap().channels[0].enabled);
    c.channels.clear();
    c.write_atomic(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert!(EngineConfig::load(&path).unwrap().channels.is_empty());
}
