//! Operations of `oneliverec` as a process: `/metrics` after real webhook
//! deliveries (one receiver up, one down), `--log`, `--log-format json`
//! (with URL redaction), `completions`, exit codes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::e2e_support::*;

/// The value of the sample line `series` (`name{labels}`) in a Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_polls_and_deliveries_by_outcome_and_json_logs_stay_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut room = room("http://127.0.0.1:9".into());
    room.live = false;
    let mock = BiliMock::start(room).await;
    let good = Receiver::start().await;
    let down = Receiver::start().await;
    *down.down.lock().unwrap() = true;
    let port = free_port();
    let config = d.join("oneliverec.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[output]
folder = "{rec}"

[watch]
poll_interval = "1s"
jitter = 0.0
min_interval = {{ bilibili = "500ms" }}

[disk]
min_free_mb = 0

[api]
listen = "127.0.0.1:{port}"
token = "api-token-0123456789"

[platforms.host_overrides]
"api.live.bilibili.com" = "{base}/api.live.bilibili.com"
"api.bilibili.com" = "{base}/api.bilibili.com"

[[channels]]
url = "https://live.bilibili.com/{ROOM}"

[[webhooks]]
id = "good"
url = "{good}"
secret = "{good_secret}"

[[webhooks]]
id = "down"
url = "{down}?token=hidden-4711"
"#,
            rec = d.join("rec").display(),
            base = mock.base,
            good = good.url,
            good_secret = good.secret,
            down = down.url,
        ),
    )
    .unwrap();
    let log_file = std::fs::File::create(d.join("log-1.txt")).unwrap();
    let mut child = Command::new(BIN)
        .args(["--log-format", "json", "--log", "info", "run", "--config"])
        .arg(&config)
        // `down` never answers: do not wait for it at the end.
        .args(["--shutdown-timeout", "1s"])
        .current_dir(d)
        .env("RUST_LOG", "off")
        .env_remove("ONELIVEREC_CONFIG")
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .unwrap();

    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let delivered = "onelive_webhook_delivered_total{endpoint=\"good\"}";
    let retried = "onelive_webhook_retried_total{endpoint=\"down\"}";
    let offline = "onelive_polls_total{platform=\"bilibili\",result=\"offline\"}";
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let scraped = client.get(&url).bearer_auth("api-token-0123456789").send().await;
        if let Ok(response) = scraped {
            assert_eq!(response.status(), 200);
            let text = response.text().await.unwrap();
            let ready = [delivered, retried, offline].iter().all(|s| sample(&text, s).is_some());
            if ready {
                break text;
            }
            assert!(Instant::now() < deadline, "timed out; last scrape:\n{text}\n{}", log(d, 1));
        }
        assert!(Instant::now() < deadline, "no /metrics; log:\n{}", log(d, 1));
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // One event so far (app_launch), delivered once to the receiver that is up.
    assert_eq!(good.types(), ["app_launch"]);
    assert_eq!(sample(&text, delivered), Some(1.0), "{text}");
    assert!(text.contains("# TYPE onelive_webhook_delivery_lag_seconds histogram"), "{text}");
    let lag = "onelive_webhook_delivery_lag_seconds_count{endpoint=\"good\"}";
    assert_eq!(sample(&text, lag), Some(1.0), "{text}");
    let attempts = "onelive_webhook_attempt_seconds_count{endpoint=\"good\"}";
    assert_eq!(sample(&text, attempts), Some(1.0), "{text}");
    assert!(sample(&text, retried).unwrap() >= 1.0, "{text}");
    assert_eq!(sample(&text, "onelive_webhook_delivered_total{endpoint=\"down\"}"), None);
    // The outbox: app_launch still owed to `down`.
    assert_eq!(sample(&text, "onelive_webhook_pending"), Some(1.0), "{text}");
    let outbox = "onelive_webhook_deliveries{status=\"delivered\"}";
    assert_eq!(sample(&text, outbox), Some(1.0), "{text}");
    assert!(sample(&text, offline).unwrap() >= 1.0, "{text}");
    assert_eq!(sample(&text, "onelive_channels{state=\"offline\"}"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "onelive_recordings_active"), Some(0.0), "{text}");
    assert_eq!(sample(&text, "onelive_events_total{type=\"app_launch\"}"), Some(1.0), "{text}");
    // Without the token: refused.
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);

    signal(&child, Signal::SIGTERM);
    let _ = wait_exit(&mut child, Duration::from_secs(60)).await;
    let log = log(d, 1);
    let mut lines = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
        lines += 1;
    }
    assert!(lines >= 2, "`--log info` beats RUST_LOG=off:\n{log}");
    assert!(log.contains("HTTP API listening"), "{log}");
    assert!(!log.contains("hidden-4711"), "a webhook URL's query reached the log:\n{log}");
    assert!(!log.contains("api-token-0123456789"), "{log}");
}

#[test]
fn completions_log_flags_and_exit_codes() {
    let run = |args: &[&str]| {
        Command::new(BIN).args(args).env_remove("ONELIVEREC_CONFIG").output().unwrap()
    };
    for (shell, marker) in [
        ("bash", "complete -F _oneliverec"),
        ("zsh", "#compdef oneliverec"),
        ("fish", "complete -c oneliverec"),
        ("elvish", "oneliverec"),
        ("powershell", "oneliverec"),
    ] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("check-config") && script.contains("log-format"), "{shell}");
    }
    // 2: usage errors, with the reason.
    let out = run(&["--log", "onelive_engine=[", "platforms"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--log") && err.contains("not a log level or filter"), "{err}");
    let out = run(&["--log-format", "yaml", "platforms"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[possible values: text, json]"));
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));
    // 2: a URL no platform accepts.
    assert_eq!(run(&["parse", "https://example.invalid/x"]).status.code(), Some(2));
    // 1: a failure (no such config), one line on stderr.
    let out = run(&["check-config", "--config", "/nonexistent/oneliverec.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("oneliverec: ") && err.contains("/nonexistent/oneliverec.toml"),
        "{err}"
    );
    // The flags are global: accepted after the subcommand too.
    let out = run(&["platforms", "--log", "debug", "--log-format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
