//! Operations of the binary: `/metrics` after real jobs, `--log`,
//! `--log-format json`, `completions`, exit codes.

use std::time::Duration;

use onelive_sink::stand_in::PixeldrainStandIn;

use crate::common::*;

async fn scrape(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The value of the sample line `series` (`name{labels}`) in a Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_jobs_by_kind_and_outcome_after_real_uploads() {
    let pd = PixeldrainStandIn::start(API_KEY).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &key_auth(), &pd.api_base(), "attempts = 2");
    write_file(&dir.path().join("rec/a.mp4"), 1000);
    write_file(&dir.path().join("rec/b.mp4"), 2000);
    let sink = SinkProcess::start(dir.path(), &["--log-format", "json"]);
    let metrics = format!("http://{}/metrics", sink.addr);

    // a.mp4: both attempts answered 500 (one retry, then failed for good).
    pd.fail_next(2);
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event("/app/rec/a.mp4")).await;
    assert_eq!(status, 200);
    wait_for("the first job to fail", Duration::from_secs(60), || {
        jobs_json(dir.path()).first().is_some_and(|j| j["state"] == "failed")
    })
    .await;
    // b.mp4: uploaded at the first attempt.
    let (status, _) =
        post(&sink.url(&format!("?key={KEY}")), &transmux_event("/app/rec/b.mp4")).await;
    assert_eq!(status, 200);
    wait_for("the second job", Duration::from_secs(60), || {
        jobs_json(dir.path()).first().is_some_and(|j| j["state"] == "done")
    })
    .await;
    assert_eq!(pd.uploads().len(), 1);

    // The key guards /metrics like the webhook route.
    let (status, _) = scrape(&metrics).await;
    assert_eq!(status, 401);
    let (status, _) = scrape(&format!("{metrics}?key=not-the-key-4711")).await;
    assert_eq!(status, 403);

    // The job's outcome is recorded right after the store says done: poll.
    let url = format!("{metrics}?key={KEY}");
    let done = "onelive_sink_jobs_total{kind=\"pixeldrain\",outcome=\"done\"}";
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let text = loop {
        let (status, text) = scrape(&url).await;
        assert_eq!(status, 200, "{text}");
        if sample(&text, done).is_some() || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(text.contains("# TYPE onelive_sink_jobs_total counter"), "{text}");
    assert_eq!(sample(&text, done), Some(1.0), "{text}");
    let retry = "onelive_sink_jobs_total{kind=\"pixeldrain\",outcome=\"retry\"}";
    assert_eq!(sample(&text, retry), Some(1.0), "{text}");
    let failed = "onelive_sink_jobs_total{kind=\"pixeldrain\",outcome=\"failed\"}";
    assert_eq!(sample(&text, failed), Some(1.0), "{text}");
    assert!(text.contains("# TYPE onelive_sink_job_seconds histogram"), "{text}");
    let count = "onelive_sink_job_seconds_count{kind=\"pixeldrain\",outcome=\"done\"}";
    assert_eq!(sample(&text, count), Some(1.0), "{text}");
    let le = "onelive_sink_job_seconds_bucket{kind=\"pixeldrain\",outcome=\"done\",le=\"+Inf\"}";
    assert_eq!(sample(&text, le), Some(1.0), "{text}");
    let events = "onelive_sink_events_total{type=\"video_transmux_finish\"}";
    assert_eq!(sample(&text, events), Some(2.0), "{text}");

    // `--log-format json`: every line of stderr is one JSON object, and the key stays out.
    let log = sink.kill();
    let mut lines = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["fields"]["message"].is_string(), "{line}");
        lines += 1;
    }
    assert!(lines >= 3, "{log}");
    assert!(
        !log.contains(KEY) && !log.contains("not-the-key-4711"),
        "a key reached the log:\n{log}"
    );
}

#[test]
fn log_flag_overrides_rust_log_and_bad_values_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &key_auth(), "http://127.0.0.1:9", "");
    // RUST_LOG=off would hide the `listening` line; `--log info` wins.
    let mut child = std::process::Command::new(bin())
        .current_dir(dir.path())
        .args(["--config", "sink.toml", "--listen", "127.0.0.1:0", "--log-dir", "logs"])
        .args(["--log", "info"])
        .env("RUST_LOG", "off")
        .env_remove("ONELIVE_SINK_LOG")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.contains("listening on http://127.0.0.1:"), "{line}");

    let out = run(dir.path(), &["--log", "onelive_sink=[", "check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--log") && err.contains("not a log level or filter"), "{err}");
    let out = run(dir.path(), &["--log-format", "yaml", "check-config"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[possible values: text, json]"));
}

#[test]
fn completions_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _onelive__sink"),
        ("zsh", "#compdef onelive-sink"),
        ("fish", "complete -c onelive-sink"),
    ] {
        let out = run(dir.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("check-config") && script.contains("log-format"), "{shell}");
    }
    // 1: a runtime failure, one line on stderr (no config here).
    let out = run(dir.path(), &["check-config"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("onelive-sink: cannot read config file sink.toml"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // 2: a usage error.
    let out = run(dir.path(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}
