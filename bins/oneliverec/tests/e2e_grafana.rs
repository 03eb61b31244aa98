//! The Grafana dashboard's recorder panels against a real `oneliverec run`:
//! a live room being recorded, webhooks delivered (a receiver that is up),
//! retried (one that answers 503) and failed (one that refuses the signature,
//! 401), then `/metrics` is scraped until every metric and label the
//! dashboard's `onelive_*` queries name (the sink's `onelive_sink_*` left to
//! the sink's test) is exported, and checked with `grafana_dashboard`.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use onelive_webhook::verify::WebhookSecret;

use crate::e2e_support::*;
use crate::grafana_dashboard::{parse_scrape, problems, ready, uses_with_prefix};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_recorder_metric_of_the_grafana_dashboard_is_exported_with_its_labels() {
    let uses = uses_with_prefix("onelive_", &["onelive_sink_"]);
    let s = Scenario::live("2s").await;
    let d = s.dir.path();
    let down = Receiver::start().await;
    *down.down.lock().unwrap() = true;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = d.join("grafana.toml");
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
min_free_mb = 16

[api]
listen = "127.0.0.1:{port}"
token = "grafana-token-0123456789"

[platforms.host_overrides]
"api.live.bilibili.com" = "{base}/api.live.bilibili.com"
"api.bilibili.com" = "{base}/api.bilibili.com"

[[channels]]
url = "https://live.bilibili.com/{ROOM}"
name = "mockroom"

[[webhooks]]
id = "up"
url = "{up}"
secret = "{up_secret}"

[[webhooks]]
id = "down"
url = "{down}"

[[webhooks]]
id = "refuses"
url = "{up}"
secret = "{wrong_secret}"
"#,
            rec = d.join("rec").display(),
            base = s.mock.base,
            up = s.receiver.url,
            up_secret = s.receiver.secret,
            down = down.url,
            wrong_secret = WebhookSecret::generate(),
        ),
    )
    .unwrap();
    let mut child = spawn_run_with(&config, d, 1, "1s");

    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let deadline = Instant::now() + Duration::from_secs(120);
    let text = loop {
        if let Ok(response) = client.get(&url).bearer_auth("grafana-token-0123456789").send().await
        {
            assert_eq!(response.status(), 200);
            let text = response.text().await.unwrap();
            if ready(&uses, &text) {
                break text;
            }
            assert!(
                Instant::now() < deadline,
                "still missing after 120 s:\n{}\nlast scrape:\n{text}\nlog:\n{}",
                problems(&uses, &parse_scrape(&text)).join("\n"),
                log(d, 1)
            );
        }
        assert!(Instant::now() < deadline, "no /metrics; log:\n{}", log(d, 1));
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // The activity behind it is the one described above, not a coincidence.
    assert!(s.receiver.count("live_start") >= 1, "{:?}", s.receiver.types());
    for series in [
        "onelive_webhook_delivered_total{endpoint=\"up\"}",
        "onelive_webhook_retried_total{endpoint=\"down\"}",
        "onelive_webhook_failed_total{endpoint=\"refuses\"}",
        "onelive_recordings_started_total{platform=\"bilibili\"}",
    ] {
        assert!(text.lines().any(|l| l.starts_with(series)), "no {series}:\n{text}");
    }
    signal(&child, Signal::SIGTERM);
    let _ = wait_exit(&mut child, Duration::from_secs(60)).await;
}
